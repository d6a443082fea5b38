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
 * renewed (a plain string) trips it at its first refusal.
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

  readonly #context: SessionTokenContext | undefined;

  constructor(source: string | SessionTokenProvider, now: () => number = Date.now, context?: SessionTokenContext) {
    this.#now = now;
    this.#context = context;
    if (typeof source === "string") {
      if (source.length === 0) throw new TypeError("sessionToken must not be empty");
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

  /** Why no call may go now, or undefined. After the cooldown one ask is let through (half-open). */
  blocked(): SessionBlocked | undefined {
    if (this.#blocked === undefined) return undefined;
    if (this.#provider !== undefined && this.#asking === undefined && this.#now() >= this.#blockedUntil) {
      this.#blocked = undefined;
      this.#failuresInARow = SESSION_REFUSALS_TO_TRIP - 1; // one more refusal trips it again
      return undefined;
    }
    return this.#blocked;
  }

  /** The token to send; synchronous once known, so the hot path does not wait a tick. */
  current(): string | Promise<string> {
    return this.#token ?? this.#asking ?? this.#ask();
  }

  /** The pod answered a call sent with `token` with something other than 401. */
  accepted(token: string): void {
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
    if (this.#asking) return this.#asking;
    if (this.#token !== undefined && this.#token !== refused) return Promise.resolve(this.#token);
    if (this.#blocked) return Promise.reject(this.#blocked);
    if (this.#token === refused) {
      this.#failuresInARow = this.#accepted ? 1 : this.#failuresInARow + 1;
      this.#token = undefined;
    }
    if (!this.#provider) {
      return Promise.reject(
        this.#trip(
          "The pod refused the session token and there is no provider to renew it: " +
            "create the client with a fresh token, or with a provider (e.g. rsaAuthentication)",
          undefined,
        ),
      );
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
