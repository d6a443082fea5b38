import { createPublicKey, randomBytes } from "node:crypto";
import type { CryptoKey, JWTPayload, JWTVerifyGetKey, KeyObject } from "jose";

const MAX_JWT_LIFETIME_MS = 5 * 60_000;

/** jose is loaded on the first login, so importing the package (or a simulator nobody logs in to) does not load it. */
const loadJose = () => import("jose");

/**
 * Why a session token was refused.
 *
 * @example
 * ```ts
 * const why: Refusal | undefined = registry.use(token);
 * ```
 * @internal
 */
export type Refusal = "missing" | "unknown" | "expired";

/**
 * The session tokens the simulated pod accepts. Each token may serve a limited number of requests; one that runs
 * out is refused from then on, and a new one is issued for whoever asks ({@link SessionRegistry.current}, login).
 *
 * @example
 * ```ts
 * const registry = new SessionRegistry("initial", 1000);
 * if (registry.use(req.headers.sessiontoken) !== undefined) answer401();
 * ```
 * @internal
 */
export class SessionRegistry {
  /** Token → requests it may still serve (Infinity without expiry). */
  readonly #budgets = new Map<string, number>();
  readonly #expired = new Set<string>();
  readonly #budget: number;
  #current: string;
  #issued = 0;
  expiries = 0;

  constructor(initial: string, expireAfterRequests: number | undefined) {
    if (typeof initial !== "string" || initial.length === 0)
      throw new TypeError("sessionToken must be a non-empty string");
    if (expireAfterRequests !== undefined && !(Number.isInteger(expireAfterRequests) && expireAfterRequests > 0)) {
      throw new RangeError(`expireTokenAfterRequests must be an integer > 0, got ${String(expireAfterRequests)}`);
    }
    this.#budget = expireAfterRequests ?? Number.POSITIVE_INFINITY;
    this.#current = initial;
    this.#budgets.set(initial, this.#budget);
  }

  /** Accepts `token` for one request (using up one unit of its budget) or says why not. */
  use(token: string | undefined): Refusal | undefined {
    if (token === undefined || token === "") return "missing";
    const left = this.#budgets.get(token);
    if (left === undefined) return this.#expired.has(token) ? "expired" : "unknown";
    if (left === 1) {
      // This request is the token's last; later ones get 401 until a new token is taken.
      this.#budgets.delete(token);
      this.#expired.add(token);
      this.expiries++;
    } else if (left !== Number.POSITIVE_INFINITY) {
      this.#budgets.set(token, left - 1);
    }
    return undefined;
  }

  /** The newest token still valid; when it has expired, a new one is issued, as a fresh login would. */
  current(): string {
    if (this.#budgets.has(this.#current)) return this.#current;
    return this.issue();
  }

  /** Issues a new token with a full budget, alongside the ones still valid, and makes it current. */
  issue(token?: string): string {
    const next = token ?? `sim-session-${++this.#issued}-${randomBytes(12).toString("hex")}`;
    if (typeof next !== "string" || next.length === 0)
      throw new TypeError("a session token must be a non-empty string");
    this.#expired.delete(next);
    this.#budgets.set(next, this.#budget);
    this.#current = next;
    return next;
  }

  /** Invalidates every token and issues `token` (or a new one) as the only valid token. */
  rotate(token?: string): string {
    for (const old of this.#budgets.keys()) this.#expired.add(old);
    this.#budgets.clear();
    return this.issue(token);
  }

  /** Makes every token currently valid expire now. */
  expireAll(): void {
    for (const old of this.#budgets.keys()) this.#expired.add(old);
    this.expiries += this.#budgets.size;
    this.#budgets.clear();
  }
}

/**
 * How `POST /login/pubkey/authenticate` checks the JWT: a public key (PEM SPKI string, `KeyObject`/`CryptoKey`, or
 * a jose key resolver) against which the RS512 signature is verified. Without one, any well-formed, unexpired JWT
 * with a `sub` is accepted.
 *
 * @example
 * ```ts
 * import { readFile } from "node:fs/promises";
 *
 * const login: SimulatorLoginOptions = { publicKey: await readFile("bot-public.pem", "utf8") };
 * const pod = await startSimulatedPod({ login });
 * ```
 */
export interface SimulatorLoginOptions {
  /** The service account's public key. Default: none, signatures are not checked. */
  publicKey?: string | CryptoKey | KeyObject | JWTVerifyGetKey;
}

/**
 * Why a login was refused: 400 for a token that is not a JWT, 401 for one that is refused.
 *
 * @example
 * ```ts
 * const refusal: LoginRefusal = { status: 401, message: "the JWT has expired" };
 * ```
 * @internal
 */
export interface LoginRefusal {
  status: 400 | 401;
  message: string;
}

/**
 * Checks a login JWT; resolves to a refusal, or undefined when accepted.
 *
 * @example
 * ```ts
 * const refusal = await check(jwt);
 * ```
 * @internal
 */
export type LoginCheck = (jwt: string) => Promise<LoginRefusal | undefined>;

/**
 * The {@link LoginCheck} for the given options: signature verified when a public key is configured.
 *
 * @example
 * ```ts
 * const check = loginCheck({ publicKey: pem });
 * ```
 * @internal
 */
export function loginCheck(options: SimulatorLoginOptions | undefined): LoginCheck {
  const source = options?.publicKey;
  if (source === undefined) return async (jwt) => checkUnverified(jwt);
  // A PEM is read here, once, by Node (SPKI "BEGIN PUBLIC KEY" or PKCS#1 "BEGIN RSA PUBLIC KEY" alike).
  const checked = checkPublicKey(source);
  let key: Promise<CryptoKey | KeyObject | JWTVerifyGetKey> | undefined;
  const getKey = () => {
    key ??= Promise.resolve(checked);
    return key;
  };
  return async (jwt) => {
    const shape = await checkUnverified(jwt);
    if (shape) return shape;
    try {
      const { jwtVerify } = await loadJose();
      const k = await getKey();
      // Overloads of jwtVerify differ only in the key's type; both forms are handled the same way.
      await jwtVerify(jwt, k as Parameters<typeof jwtVerify>[1], { algorithms: ["RS512"] });
      return undefined;
    } catch (error) {
      return { status: 401, message: `the JWT was refused: ${(error as Error).message}` };
    }
  };
}

/**
 * Refuses, at start, a key that cannot verify logins, instead of starting and then refusing every login. Node
 * derives a public key from a private PEM, so a private key is refused by its PEM label: it must not be handed
 * around as if it were the public half.
 */
function checkPublicKey(
  source: NonNullable<SimulatorLoginOptions["publicKey"]>,
): Exclude<SimulatorLoginOptions["publicKey"], string | undefined> {
  const howTo = "give the service account's public key, e.g. `openssl rsa -in bot.pem -pubout -out bot-public.pem`";
  if (typeof source === "string") {
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(source)) {
      throw new TypeError(`login.publicKey holds a private key: ${howTo}`);
    }
    let key: KeyObject;
    try {
      key = createPublicKey(source) as unknown as KeyObject;
    } catch {
      throw new TypeError(`login.publicKey is not a PEM public key ("BEGIN PUBLIC KEY", SPKI): ${howTo}`);
    }
    if ((key as unknown as { asymmetricKeyType?: string }).asymmetricKeyType !== "rsa") {
      throw new TypeError(`login.publicKey is not an RSA key (logins are signed with RS512): ${howTo}`);
    }
    return key;
  }
  if (typeof source === "object" && (source as { type?: unknown }).type === "private") {
    throw new TypeError(`login.publicKey is a private key: ${howTo}`);
  }
  return source;
}

async function checkUnverified(jwt: string): Promise<LoginRefusal | undefined> {
  const { decodeJwt, decodeProtectedHeader } = await loadJose();
  let claims: JWTPayload;
  try {
    decodeProtectedHeader(jwt);
    claims = decodeJwt(jwt);
  } catch {
    return { status: 400, message: "token is not a well-formed JWT" };
  }
  if (typeof claims.sub !== "string" || claims.sub === "") {
    return { status: 401, message: "the JWT has no sub (the service account's username)" };
  }
  if (typeof claims.exp !== "number") return { status: 401, message: "the JWT has no exp" };
  if (claims.exp * 1000 < Date.now()) return { status: 401, message: "the JWT has expired" };
  // Like a pod: a login JWT may live 5 minutes at most (with a little clock skew).
  if (claims.exp * 1000 > Date.now() + MAX_JWT_LIFETIME_MS + 30_000) {
    return { status: 401, message: "the JWT expires more than 5 minutes ahead" };
  }
  return undefined;
}
