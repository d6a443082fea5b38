import { PodError } from "./errors.js";

/**
 * Returns a session token. The client asks once, keeps the answer, and asks again only after the pod refuses it
 * with a 401 (one new ask per refused token, however many calls were refused at once).
 *
 * @example
 * ```ts
 * const provider: SessionTokenProvider = async () => (await myVault.read("symphony/session")).token;
 * const pod = createPodClient({ baseUrl, sessionToken: provider });
 * ```
 */
export type SessionTokenProvider = () => string | Promise<string>;

/**
 * Holds the current session token and renews it after a 401. Concurrent renewals share one ask of the provider.
 * @internal
 */
export class SessionTokens {
  readonly #provider: SessionTokenProvider | undefined;
  /** The last token obtained; undefined until the first ask settles. */
  #token: string | undefined;
  /** The ask of the provider in progress, shared by every caller waiting for a token. */
  #asking: Promise<string> | undefined;

  constructor(source: string | SessionTokenProvider) {
    if (typeof source === "string") {
      if (source.length === 0) throw new TypeError("sessionToken must not be empty");
      this.#token = source;
    } else if (typeof source === "function") {
      this.#provider = source;
    } else {
      throw new TypeError("sessionToken must be a string or a function returning one");
    }
  }

  /** True when a refused token can be replaced. */
  get renewable(): boolean {
    return this.#provider !== undefined;
  }

  /** The token to send; synchronous once known, so the hot path does not wait a tick. */
  current(): string | Promise<string> {
    return this.#token ?? this.#asking ?? this.#ask();
  }

  /** Called after a 401 with the refused token: asks the provider again unless another call already did. */
  renew(refused: string): Promise<string> {
    if (this.#asking) return this.#asking;
    if (this.#token !== undefined && this.#token !== refused) return Promise.resolve(this.#token);
    this.#token = undefined;
    return this.#ask();
  }

  #ask(): Promise<string> {
    const provider = this.#provider;
    if (!provider)
      return Promise.reject(new PodError("the session token was refused and there is no provider to renew it"));
    const asking = (async () => {
      try {
        const token = await Promise.resolve().then(provider); // never settles synchronously
        if (typeof token !== "string" || token.length === 0) {
          throw new PodError("the sessionToken provider returned no token (expected a non-empty string)");
        }
        this.#token = token;
        return token;
      } finally {
        this.#asking = undefined;
      }
    })();
    this.#asking = asking;
    return asking;
  }
}
