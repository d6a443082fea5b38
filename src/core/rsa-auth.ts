/**
 * RSA login (`POST /login/pubkey/authenticate` with a JWT signed by the service account's key), as a session-token
 * provider with the client's lifecycle, and the reading of private keys (PEM, encrypted ones with a passphrase).
 * Just over 450 lines, most of them TSDoc with examples of each option.
 */
import { createPrivateKey, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { components, paths } from "../../generated/login-api.js";
import type { SessionTokenContext } from "./auth.js";
import { checkTransportSecurity } from "./connection.js";
import { describeCause, PodApiError, PodError, PodNetworkError } from "./errors.js";
import { loginLane } from "./http.js";
import { checkTimeoutMs, DEFAULT_RETRY, type RetryOptions, resolveRetry } from "./retry.js";
import { type FetchLike, fetchTransport } from "./transport.js";
import { checkHttpUrl } from "./urls.js";

const LOGIN_PATH = "/login/pubkey/authenticate" satisfies keyof paths;
type LoginOperation = paths[typeof LOGIN_PATH]["post"];
type LoginRequest = LoginOperation["requestBody"]["content"]["application/json"];
type LoginToken = LoginOperation["responses"][200]["content"]["application/json"];
type LoginError = components["schemas"]["Error"];

/**
 * Lifetime of each signed JWT. Symphony refuses an `exp` more than 5 minutes ahead; 4 minutes (as Symphony's own
 * BDK uses) leaves a minute for our clock running ahead of the pod's.
 */
const JWT_LIFETIME_SECONDS = 240;
/** jose refuses shorter RSA keys for RS512 at signing time; we refuse them at construction instead. */
const MIN_RSA_BITS = 2048;

/**
 * Options of {@link rsaAuthentication}. Give `podUrl`, or `authUrl` when your deployment has a separate
 * session-auth host; when both are given `authUrl` is used for the login.
 *
 * @example
 * ```ts
 * const options: RsaAuthenticationOptions = {
 *   podUrl: "https://acme.symphony.com",
 *   username: "provisioning-bot",
 *   privateKey: await readPrivateKeyFile("/run/secrets/provisioning-bot.pem"),
 * };
 * ```
 */
export interface RsaAuthenticationOptions {
  /**
   * The pod's URL: its origin (`https://acme.symphony.com`) or its `/pod` base URL
   * (`https://acme.symphony.com/pod`, a trailing `/pod` is dropped), so the value given to
   * `createPodClient({ baseUrl })` works too. The login goes to `<podUrl without /pod>/login/pubkey/authenticate`.
   */
  podUrl?: string;
  /**
   * A separate session-auth host, used as is: the login goes to `<authUrl>/login/pubkey/authenticate`,
   * e.g. `https://acme-auth.symphony.com` or `https://gateway.example.com/symphony-auth`. Takes precedence over `podUrl`.
   */
  authUrl?: string;
  /** The service account's username; the JWT's `sub`. */
  username: string;
  /**
   * The RSA private key whose public half is registered on the service account: a PEM string, PKCS#8
   * (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`), or a `KeyObject` (e.g. from
   * {@link readPrivateKeyFile}, or from `crypto.createPrivateKey({ key, passphrase })` for an encrypted key).
   * At least 2048 bits. An encrypted PEM (`BEGIN ENCRYPTED PRIVATE KEY`, or PKCS#1 with `Proc-Type: 4,ENCRYPTED`)
   * needs `passphrase`.
   */
  privateKey: string | KeyObject;
  /** Opens an encrypted PEM `privateKey`. Never printed. Default: none (the key is not encrypted). */
  passphrase?: string;
  /**
   * Allows a plain `http://` login URL to a host that is not this machine (the signed JWT and the session token
   * would cross the network in clear). Loopback is always allowed. Default `false`.
   */
  insecureHttp?: boolean;
  /**
   * A `fetch` to log in with (a proxy for the session-auth host, a test double). Default: the client's own
   * transport when the provider is given to `createPodClient`, else the global `fetch`.
   */
  fetch?: FetchLike;
  /** Time limit of one login attempt, in milliseconds. Default: the client's `timeoutMs` (30,000). */
  timeoutMs?: number;
  /**
   * Retry policy for a login that got no answer, timed out, or got 429 or 5xx. Default: the client's `retry`
   * ({@link DEFAULT_RETRY} unless set). A refusal (400, 401, 403) is never retried.
   */
  retry?: RetryOptions;
}

/**
 * A login was refused, or got no answer after every retry. Names the username, the login URL, the HTTP status and
 * the pod's message; never the private key, the signed JWT or a session token.
 *
 * @example
 * ```ts
 * import { AuthenticationError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.listFeatures(7215545057281n);
 * } catch (error) {
 *   if (error instanceof AuthenticationError) {
 *     console.error(`login of ${error.username} at ${error.url} failed (${error.status}): ${error.podMessage}`);
 *   } else throw error;
 * }
 * ```
 */
export class AuthenticationError extends PodError {
  /** The class name, `"AuthenticationError"`, shown first in messages and stacks. */
  override name = "AuthenticationError";
  /** The service account that tried to log in. */
  readonly username: string;
  /** The login URL, e.g. `https://acme.symphony.com/login/pubkey/authenticate`. */
  readonly url: string;
  /** HTTP status of the last attempt; undefined when no answer came (see `timedOut` and `cause`). */
  readonly status: number | undefined;
  /** `code` from the pod's `Error` body, when it sent one. */
  readonly code: number | undefined;
  /** `message` from the pod's `Error` body, or the start of a non-JSON body. */
  readonly podMessage: string | undefined;
  /** True when the last attempt ran out of `timeoutMs`. */
  readonly timedOut: boolean;
  /** Login attempts made, retries included. */
  readonly attempts: number;
  /** The `X-Trace-Id` of the login (the server's own when it answered one), for Symphony support. */
  readonly requestId: string | undefined;
  /** Which login failed: `"rsa"` ({@link rsaAuthentication}) or `"certificate"` ({@link certificateAuthentication}). */
  readonly method: "rsa" | "certificate";

  /**
   * Builds the error for a refused or unanswered login; the message names the username, the URL and what went
   * wrong. {@link rsaAuthentication} throws these itself; build one in tests or your own providers.
   *
   * @example
   * ```ts
   * const error = new AuthenticationError({
   *   username: "provisioning-bot",
   *   url: "https://acme.symphony.com/login/pubkey/authenticate",
   *   status: 401,
   *   podMessage: "Invalid JWT",
   *   attempts: 1,
   * });
   * ```
   */
  constructor(
    details: {
      username: string;
      url: string;
      status?: number | undefined;
      code?: number | undefined;
      podMessage?: string | undefined;
      timedOut?: boolean | undefined;
      attempts: number;
      requestId?: string | undefined;
      /** Default `"rsa"`. */
      method?: "rsa" | "certificate" | undefined;
    },
    options: { cause?: unknown } = {},
  ) {
    const what =
      details.status !== undefined
        ? `failed with ${details.status}${details.podMessage ? `: ${details.podMessage}` : ""}`
        : details.timedOut
          ? "timed out"
          : `could not reach the login endpoint (${describeCause(options.cause)})`;
    const tries = details.attempts > 1 ? ` (after ${details.attempts} attempts)` : "";
    const method = details.method ?? "rsa";
    const who = method === "rsa" ? `RSA login of "${details.username}"` : "Certificate login";
    super(`${who} at ${details.url} ${what}${tries}`, options);
    this.method = method;
    this.username = details.username;
    this.url = details.url;
    this.status = details.status;
    this.code = details.code;
    this.podMessage = details.podMessage;
    this.timedOut = details.timedOut ?? false;
    this.attempts = details.attempts;
    this.requestId = details.requestId;
  }
}

/**
 * Creates a session-token provider that logs a service account in with its RSA key: it signs a JWT (RS512,
 * `sub` = username, expiring in 4 minutes) with jose and POSTs it to `/login/pubkey/authenticate`.
 *
 * Every call performs a fresh login, except that calls made while a login is in flight share it. There is no
 * cache here on purpose: `createPodClient` keeps the token and calls the provider only for the first token and
 * after the pod refuses one (401), so a call means "the token I had is no good". Call it yourself and you get a
 * new session each time.
 *
 * Options are checked now, synchronously, before anything is sent: a key that is not an RSA private key of at
 * least 2048 bits throws a `TypeError` that names the problem and never contains the key.
 * A refused or unreachable login rejects with {@link AuthenticationError}; the pod call that needed the token
 * fails with it.
 *
 * @example
 * ```ts
 * import { createPodClient, readPrivateKeyFile, rsaAuthentication } from "symphony-pod-admin";
 *
 * const pod = createPodClient({
 *   baseUrl: "https://acme.symphony.com/pod",
 *   sessionToken: rsaAuthentication({
 *     podUrl: "https://acme.symphony.com",
 *     username: "provisioning-bot",
 *     privateKey: await readPrivateKeyFile("/run/secrets/provisioning-bot.pem"),
 *   }),
 * });
 * await pod.users.listFeatures(7215545057281n);
 * ```
 * @throws TypeError or RangeError for invalid options, naming the option.
 */
export function rsaAuthentication(
  options: RsaAuthenticationOptions,
): (context?: SessionTokenContext) => Promise<string> {
  if (options === null || typeof options !== "object") throw new TypeError("rsaAuthentication needs an options object");
  const { username } = options;
  if (typeof username !== "string" || username.trim() === "") {
    throw new TypeError("username is required: the service account's username");
  }
  if (options.insecureHttp !== undefined && typeof options.insecureHttp !== "boolean") {
    throw new TypeError("insecureHttp must be true or false");
  }
  const url = loginUrl(options);
  checkTransportSecurity(
    new URL(url),
    options.authUrl !== undefined ? "authUrl" : "podUrl",
    options.insecureHttp === true,
  );
  if (options.passphrase !== undefined && typeof options.passphrase !== "string") {
    throw new TypeError("passphrase must be a string");
  }
  const key = toRsaPrivateKey(options.privateKey, "privateKey", options.passphrase);
  const timeoutMs = options.timeoutMs === undefined ? undefined : checkTimeoutMs(options.timeoutMs, "timeoutMs");
  if (options.fetch !== undefined && typeof options.fetch !== "function")
    throw new TypeError("fetch must be a function");
  const retry = options.retry === undefined ? undefined : resolveRetry(DEFAULT_RETRY, options.retry, "retry");
  // Without a client (or with a fetch of its own), the login runs on the same pipeline, built here. The global
  // fetch is looked up per login, so one patched after construction (msw, a proxy agent) is honoured.
  const ownFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  // The same lane a client would hand it, with the package defaults.
  const standalone = loginLane(fetchTransport(ownFetch), { retry: DEFAULT_RETRY, timeoutMs: 30_000 });

  let inFlight: Promise<string> | undefined;
  return function rsaSessionToken(context?: SessionTokenContext) {
    const send = options.fetch === undefined && context ? context : standalone;
    inFlight ??= logIn({ url, username, key, send, timeoutMs, retry }).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

/**
 * Reads a PEM private key file (PKCS#8 or PKCS#1, unencrypted) and checks that it holds an RSA private key, for
 * the `privateKey` of {@link rsaAuthentication}. Meant for a `--private-key FILE` option or a
 * `POD_PRIVATE_KEY_FILE` variable. A file that cannot be read rejects with the `fs` error; one that holds no usable
 * RSA private key rejects with a `TypeError` naming the file, never its content.
 *
 * @example
 * ```ts
 * import { readPrivateKeyFile, rsaAuthentication } from "symphony-pod-admin";
 *
 * const privateKey = await readPrivateKeyFile(process.env.POD_PRIVATE_KEY_FILE ?? "bot.pem");
 * const sessionToken = rsaAuthentication({ podUrl: "https://acme.symphony.com", username: "bot", privateKey });
 * ```
 */
export async function readPrivateKeyFile(path: string, passphrase?: string): Promise<KeyObject> {
  refuseContentAsPath(path, "the private key file's path");
  const pem = await readFile(path, "utf8");
  return toRsaPrivateKey(pem, `the private key file ${path}`, passphrase);
}

/**
 * A PEM block (or any text with line breaks) given where a file's path is expected, e.g.
 * `--private-key="$(cat key.pem)"` or a secret variable holding the key itself: refused without quoting it, since it
 * is most likely a key. `what` names the option.
 * @internal
 */
export function refuseContentAsPath(path: unknown, what: string): void {
  if (typeof path !== "string") throw new TypeError(`${what} must be a string`);
  if (path.includes("-----BEGIN") || /[\r\n]/.test(path) || path.length > 4096) {
    const label = /-----BEGIN ([A-Z0-9 ]{1,40})-----/.exec(path)?.[1];
    throw new TypeError(
      `${what} must be the path of a file, but it holds ${label ? `a PEM "${label}" block` : "text with line breaks"} ` +
        `(${path.length} characters, not shown): write it to a file (readable only by you) and give that file's path`,
    );
  }
}

/** Where the login goes: `authUrl` as is, else `podUrl` with a trailing `/pod` dropped. */
function loginUrl(options: RsaAuthenticationOptions): string {
  const [field, value] =
    options.authUrl !== undefined ? (["authUrl", options.authUrl] as const) : (["podUrl", options.podUrl] as const);
  if (value === undefined) {
    throw new TypeError(
      "rsaAuthentication needs podUrl (e.g. https://acme.symphony.com) or authUrl (a separate session-auth host)",
    );
  }
  if (typeof value !== "string") throw new TypeError(`${field} must be a URL string`);
  const url = checkHttpUrl(value, field);
  let base = url.pathname.replace(/\/+$/, "");
  if (field === "podUrl") base = base.replace(/\/pod$/, "");
  // origin leaves out any user:password@, which must not end up in error messages.
  return `${url.origin}${base}${LOGIN_PATH}`;
}

/** Checks the key now so a wrong one fails at construction, not at the first login. Messages never quote the key. */
function toRsaPrivateKey(input: unknown, what: string, passphrase?: string): KeyObject {
  let key: KeyObject;
  if (typeof input === "string") {
    const encrypted = isEncryptedPem(input);
    if (encrypted && passphrase === undefined) {
      throw new TypeError(
        `${what} is encrypted: give its passphrase (the passphrase option; for pod-admin, POD_PRIVATE_KEY_PASSPHRASE or the prompt on a terminal)`,
      );
    }
    try {
      key = createPrivateKey(encrypted ? { key: input, passphrase: passphrase as string } : input);
    } catch {
      if (encrypted) throw new TypeError(`${what} could not be decrypted: the passphrase is wrong`);
      throw new TypeError(`${what} is not a readable private key: ${pemHint(input)}`);
    }
  } else if (isKeyObject(input)) {
    key = input;
  } else {
    throw new TypeError(`${what} must be a PEM string or a KeyObject`);
  }
  if (key.type !== "private") {
    throw new TypeError(`${what} is a ${key.type} key; an RSA private key is needed`);
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw new TypeError(`${what} is an ${String(key.asymmetricKeyType)} private key; an RSA private key is needed`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) {
    throw new TypeError(`${what} is a ${bits}-bit RSA key; RS512 needs at least ${MIN_RSA_BITS} bits`);
  }
  return key;
}

function isKeyObject(value: unknown): value is KeyObject {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as KeyObject).type === "string" &&
    typeof (value as KeyObject).export === "function"
  );
}

/** An encrypted PEM private key: PKCS#8 `ENCRYPTED PRIVATE KEY`, or PKCS#1 with a `Proc-Type: 4,ENCRYPTED` header. */
function isEncryptedPem(text: string): boolean {
  return text.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") || /Proc-Type:\s*4,ENCRYPTED/.test(text);
}

/** Says what the text looks like, from its PEM label only. */
function pemHint(text: string): string {
  if (/-----BEGIN (RSA )?PUBLIC KEY-----/.test(text)) {
    return "it is a public key; pass the private key (the public one is what the pod holds)";
  }
  if (text.includes("-----BEGIN CERTIFICATE-----")) return "it is a certificate; pass the private key";
  return 'expected a PEM "BEGIN PRIVATE KEY" (PKCS#8) or "BEGIN RSA PRIVATE KEY" (PKCS#1) block';
}

interface Login {
  url: string;
  username: string;
  key: KeyObject;
  send: SessionTokenContext;
  timeoutMs: number | undefined;
  retry: Required<RetryOptions> | undefined;
}

/** One login through the pipeline (which retries no answer, 429 and 5xx); a refusal is final. */
async function logIn({ url, username, key, send, timeoutMs, retry }: Login): Promise<string> {
  // A fresh JWT each attempt: a retry after a long Retry-After must not send an expired one.
  let jwt = "";
  const body = async () => {
    jwt = await signJwt(username, key);
    return JSON.stringify({ token: jwt } satisfies LoginRequest);
  };
  let answer: Awaited<ReturnType<SessionTokenContext["send"]>>;
  try {
    answer = await send.send({ url, body, retry, timeoutMs });
  } catch (error) {
    throw loginFailure(error, { username, url, method: "rsa" });
  }
  const { status, attempts, requestId } = answer;
  if (status >= 200 && status < 300) {
    const token = parseToken(answer.body);
    if (token !== undefined) return token;
    throw new AuthenticationError({
      username,
      url,
      status,
      podMessage: "the answer carried no session token",
      attempts,
      requestId,
    });
  }
  const { code, podMessage } = parseError(answer.body, jwt);
  throw new AuthenticationError({ username, url, status, code, podMessage, attempts, requestId });
}

async function signJwt(username: string, key: KeyObject): Promise<string> {
  // Loaded on the first login, so clients that authenticate otherwise never pay for jose.
  const { SignJWT } = await import("jose");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "RS512" })
    .setSubject(username)
    .setIssuedAt(now)
    .setExpirationTime(now + JWT_LIFETIME_SECONDS)
    .sign(key);
}

function parseToken(text: string): string | undefined {
  try {
    const answer = JSON.parse(text) as Partial<LoginToken> | null;
    const token = answer?.token;
    return typeof token === "string" && token.length > 0 ? token : undefined;
  } catch {
    return undefined;
  }
}

/** Anything shaped like a compact JWS (our JWT or a fragment a server might echo). */
const JWT_LIKE = /eyJ[\w-]*\.[\w-]*(\.[\w-]*)?/g;

/** The pod's `Error` body; a server echoing our request back must not put the JWT into logs. */
function parseError(text: string, jwt: string): { code?: number; podMessage?: string } {
  let code: number | undefined;
  let message: string | undefined;
  try {
    const parsed = JSON.parse(text) as LoginError | null;
    if (typeof parsed?.code === "number") code = parsed.code;
    if (typeof parsed?.message === "string") message = parsed.message;
  } catch {
    message = text;
  }
  // Redact before cutting, so a JWT cut in half is still found.
  const podMessage = message?.replaceAll(jwt, "[redacted]").replace(JWT_LIKE, "[redacted]").trim().slice(0, 200);
  return { ...(code === undefined ? {} : { code }), ...(podMessage ? { podMessage } : {}) };
}

/**
 * A login that got no usable answer, as an {@link AuthenticationError}: no answer after every retry, or a redirect
 * the pipeline refused (its message says where it pointed). Anything else is rethrown as it is.
 * @internal
 */
export function loginFailure(
  error: unknown,
  login: { username: string; url: string; method: "rsa" | "certificate" },
): unknown {
  if (error instanceof PodNetworkError) {
    const { timedOut, attempts } = error;
    return new AuthenticationError({ ...login, timedOut, attempts }, timedOut ? {} : { cause: error.cause });
  }
  if (error instanceof PodApiError) {
    const { status, podMessage, attempts, requestId } = error;
    return new AuthenticationError({ ...login, status, podMessage, attempts, requestId }, { cause: error });
  }
  return error;
}
