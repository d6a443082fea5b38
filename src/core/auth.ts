import type { ClientCertificate } from "./connection.js";
import { PodError } from "./errors.js";
import type { RetryOptions } from "./retry.js";

/**
 * Returns a session token. The client asks once, keeps the answer, and asks again only after the pod refuses it
 * with a 401 (one new ask per refused token, however many calls were refused at once). The client passes a
 * {@link SessionTokenContext}, so a provider that logs in can send its login through the client's pipeline.
 *
 * @example
 * ```ts
 * const provider: SessionTokenProvider = async () => (await myVault.read("symphony/session")).token;
 * const pod = createPodClient({ baseUrl, sessionToken: provider });
 * ```
 */
export type SessionTokenProvider = (context?: SessionTokenContext) => string | Promise<string>;

/**
 * What a client hands its {@link SessionTokenProvider}: `send` posts a login request through the client's own
 * pipeline, so the login gets the client's transport, retry policy (429 with `Retry-After`, 5xx, network errors),
 * timeout, `X-Trace-Id` and `User-Agent`, as every pod call does. It carries no session token and does not count
 * against the pod's rate limit. {@link rsaAuthentication} uses it.
 *
 * @example
 * ```ts
 * const provider: SessionTokenProvider = async (context) => {
 *   if (!context) throw new Error("use this provider with createPodClient");
 *   const answer = await context.send({ url: "https://acme-auth.symphony.com/login/custom", body: () => '{"user":"bot"}' });
 *   return (JSON.parse(answer.body) as { token: string }).token;
 * };
 * ```
 */
export interface SessionTokenContext {
  /**
   * Sends one POST with a JSON body to `url`, retrying as the client's policy says (or `retry`), and resolves to the
   * final answer whatever its status. `body` is called for every attempt (a signed JWT must be fresh). Rejects with
   * {@link PodNetworkError} when no answer came.
   */
  send(request: {
    /** Where to post, e.g. `https://acme-auth.symphony.com/login/pubkey/authenticate`. */
    url: string;
    /** The JSON body, asked again for every attempt. */
    body: () => string | Promise<string>;
    /** Overrides the client's retry policy for this login. */
    retry?: RetryOptions | undefined;
    /** Overrides the client's per-attempt timeout for this login, in milliseconds. */
    timeoutMs?: number | undefined;
    /**
     * A client certificate to present (a certificate login, over mutual TLS). The login then goes over
     * connections of its own with the client's proxy and CAs. With a client built with `fetch` or `dispatcher`,
     * those send it as they are configured. Default: none.
     */
    clientCertificate?: ClientCertificate | undefined;
  }): Promise<{
    /** HTTP status of the final answer. */
    status: number;
    /** The answer's text. */
    body: string;
    /** The `X-Trace-Id` sent (the server's own when it answered one). */
    requestId: string;
    /** Attempts made, retries included. */
    attempts: number;
  }>;
}

/** Refusals in a row (tokens refused before any success, or failed asks) after which the provider rests. */
export const SESSION_REFUSALS_TO_TRIP = 3;
/** How long the provider rests once the session breaker tripped, in milliseconds; then one ask is allowed. */
export const SESSION_BREAKER_COOLDOWN_MS = 60_000;

/**
 * Why `token` cannot be sent as the `sessionToken` header, in words that never quote it; undefined when it can.
 * A token is printable ASCII without spaces (0x21 to 0x7E): a line break or a control character would make every
 * call fail on the wire (and some `fetch` implementations quote the whole header value in their error).
 *
 * @example
 * ```ts
 * sessionTokenProblem("abc\r"); // "ends with a carriage return (\\r): was it read from a file with Windows line endings? Trim it"
 * sessionTokenProblem("abc"); // undefined
 * ```
 * @internal
 */
export function sessionTokenProblem(token: string): string | undefined {
  if (token.length === 0) return "is empty";
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code > 0x20 && code < 0x7f) continue;
    const what = describeTokenChar(code);
    const last = token.slice(i).trim() === "";
    return last
      ? `ends with ${what}: was it read from a file with Windows line endings, or with a final newline? Trim it`
      : `holds ${what}; a session token is printable ASCII without spaces`;
  }
  return undefined;
}

function describeTokenChar(code: number): string {
  if (code === 0x0d) return "a carriage return (\\r)";
  if (code === 0x0a) return "a line feed (\\n)";
  if (code === 0x09) return "a tab";
  if (code === 0x20) return "a space";
  if (code < 0x20 || code === 0x7f)
    return `a control character (U+${code.toString(16).toUpperCase().padStart(4, "0")})`;
  return "a character outside printable ASCII";
}

/** Why calls cannot get a session now; see {@link SessionTokens.blocked}. @internal */
export interface SessionBlocked {
  /** What happened and what to do, for an error message. */
  note: string;
  /** The provider's last error, when asking it failed. */
  cause: unknown;
}

/**
 * Holds the current session token and renews it after a 401. Concurrent renewals share one ask of the provider.
 *
 * It is also the session's circuit breaker: a disabled account makes every token the pod refuses, and a client that
 * kept logging in for each refused call would lock the account out. After {@link SESSION_REFUSALS_TO_TRIP} refusals
 * in a row with no success in between (a token refused before it ever worked, or an ask that failed), the provider
 * is not asked again for {@link SESSION_BREAKER_COOLDOWN_MS}; calls fail fast meanwhile. A token that cannot be
 * renewed (a plain string) trips it at its first refusal; no login is at stake then, so the breaker is half-open at
 * once: one call at a time is still sent (see {@link SessionTokens.admit}) and gets its own answer, and the first
 * answer other than 401 closes it. Calls made while that one is in flight, and calls already under way when the
 * token was refused (waiting for their turn at a paced rate), fail fast, so a bulk run still stops.
 * @internal
 */
export class SessionTokens {
  readonly #provider: SessionTokenProvider | undefined;
  readonly #now: () => number;
  /** The last token obtained; undefined until the first ask settles. */
  #token: string | undefined;
  /** Whether the pod accepted #token at least once. */
  #accepted = false;
  /** The ask of the provider in progress, shared by every caller waiting for a token. */
  #asking: Promise<string> | undefined;
  #failuresInARow = 0;
  #blocked: SessionBlocked | undefined;
  #blockedUntil = 0;
  #recent: string[] = [];
  /** A plain token's breaker is open and one call is out to see whether the pod accepts the token again. */
  #probing = false;
  /** Refusals of a plain token so far: a call started before the latest one does not probe (see admit()). */
  #refusals = 0;

  readonly #context: SessionTokenContext | undefined;

  constructor(source: string | SessionTokenProvider, now: () => number = Date.now, context?: SessionTokenContext) {
    this.#now = now;
    this.#context = context;
    if (typeof source === "string") {
      if (source.length === 0) throw new TypeError("sessionToken must not be empty");
      const problem = sessionTokenProblem(source);
      if (problem) throw new TypeError(`sessionToken ${problem}`);
      this.#token = source;
      this.#recent = [source];
    } else if (typeof source === "function") {
      this.#provider = source;
    } else {
      throw new TypeError("sessionToken must be a string or a function returning one");
    }
  }

  /** The tokens an answer might echo back (the current one and the one before), for redaction. */
  get recent(): readonly string[] {
    return this.#recent;
  }

  /** True when a refused token can be replaced. */
  get renewable(): boolean {
    return this.#provider !== undefined;
  }

  /**
   * Why no call may go now, or undefined. After the cooldown one ask is let through (half-open). A plain token's
   * breaker lets one call through whenever none is out: undefined then, and {@link SessionTokens.admit} claims it.
   */
  blocked(): SessionBlocked | undefined {
    if (this.#blocked === undefined) return undefined;
    if (this.#provider === undefined) return this.#probing ? this.#blocked : undefined;
    if (this.#provider !== undefined && this.#asking === undefined && this.#now() >= this.#blockedUntil) {
      this.#blocked = undefined;
      this.#failuresInARow = SESSION_REFUSALS_TO_TRIP - 1; // one more refusal trips it again
      return undefined;
    }
    return this.#blocked;
  }

  /**
   * Called right before a call is sent: undefined (go), `"probe"` (go as the one call that checks whether the pod
   * accepts a refused plain token again: report its end with {@link SessionTokens.accepted}, a 401 through
   * {@link SessionTokens.renew}, or {@link SessionTokens.released}), or why the call may not go.
   */
  admit(refusalsAtStart?: number): SessionBlocked | "probe" | undefined {
    const blocked = this.blocked();
    if (blocked !== undefined) return blocked;
    if (this.#provider !== undefined || this.#blocked === undefined) return undefined;
    // A call that was already under way when the token was last refused (a bulk run's calls waiting for their turn
    // at a paced rate) fails fast; one made after that refusal gets its own try.
    if (refusalsAtStart !== undefined && refusalsAtStart < this.#refusals) return this.#blocked;
    this.#probing = true;
    return "probe";
  }

  /** Refusals of a plain token so far; a call reads it when it starts and hands it to {@link SessionTokens.admit}. */
  get refusals(): number {
    return this.#refusals;
  }

  /** A probe ended without an answer (no HTTP answer, or its caller aborted): let the next call probe. */
  released(): void {
    this.#probing = false;
  }

  /** The token to send; synchronous once known, so the hot path does not wait a tick. */
  current(): string | Promise<string> {
    return this.#token ?? this.#asking ?? this.#ask();
  }

  /** The pod answered a call sent with `token` with something other than 401. */
  accepted(token: string): void {
    if (this.#provider === undefined && this.#blocked !== undefined && token === this.#token) {
      this.#blocked = undefined;
      this.#probing = false;
    }
    if (token === this.#token && !this.#accepted) {
      this.#accepted = true;
      this.#failuresInARow = 0;
    }
  }

  /**
   * Called after a 401 with the refused token: asks the provider again unless another call already did. Rejects with
   * the {@link SessionBlocked} reason when the breaker is (or just went) open.
   */
  renew(refused: string): Promise<string> {
    if (this.#provider === undefined) {
      // Nothing to renew: the plain token is kept, and one call at a time may still try it (see admit()).
      this.#probing = false;
      this.#refusals++;
      return Promise.reject(
        this.#blocked ??
          this.#trip(
            "The pod refused the session token and there is no provider to renew it: " +
              "create the client with a fresh token, or with a provider (e.g. rsaAuthentication)",
            undefined,
          ),
      );
    }
    if (this.#asking) return this.#asking;
    if (this.#token !== undefined && this.#token !== refused) return Promise.resolve(this.#token);
    if (this.#blocked) return Promise.reject(this.#blocked);
    if (this.#token === refused) {
      this.#failuresInARow = this.#accepted ? 1 : this.#failuresInARow + 1;
      this.#token = undefined;
    }
    if (this.#failuresInARow >= SESSION_REFUSALS_TO_TRIP) {
      return Promise.reject(
        this.#trip(
          `The pod refused ${this.#failuresInARow} session tokens in a row, each new from the provider, so it is not ` +
            `asked again for ${SESSION_BREAKER_COOLDOWN_MS / 1000} s: check that the service account is enabled, ` +
            "holds its roles, and that its key is the one registered on the pod",
          undefined,
        ),
      );
    }
    return this.#ask();
  }

  #trip(note: string, cause: unknown): SessionBlocked {
    this.#blocked = { note, cause };
    this.#blockedUntil = this.#now() + SESSION_BREAKER_COOLDOWN_MS;
    return this.#blocked;
  }

  #ask(): Promise<string> {
    const provider = this.#provider;
    if (!provider) return Promise.reject(this.#blocked ?? new PodError("no session token"));
    const asking = (async () => {
      try {
        const token = await Promise.resolve().then(() => provider(this.#context)); // never settles synchronously
        if (typeof token !== "string" || token.length === 0) {
          throw new PodError("the sessionToken provider returned no token (expected a non-empty string)");
        }
        const problem = sessionTokenProblem(token);
        if (problem) throw new PodError(`the token the sessionToken provider returned ${problem}`);
        this.#token = token;
        this.#accepted = false;
        this.#recent = [token, ...this.#recent.slice(0, 1)];
        return token;
      } catch (error) {
        // A provider that keeps failing (a login refused) must not be asked for every call either.
        if (++this.#failuresInARow >= SESSION_REFUSALS_TO_TRIP) {
          const why = error instanceof Error ? error.message : String(error);
          this.#trip(
            `Getting a session token failed ${this.#failuresInARow} times in a row, so the provider is not asked ` +
              `again for ${SESSION_BREAKER_COOLDOWN_MS / 1000} s (last: ${why})`,
            error,
          );
        }
        throw error;
      } finally {
        this.#asking = undefined;
      }
    })();
    this.#asking = asking;
    return asking;
  }
}
