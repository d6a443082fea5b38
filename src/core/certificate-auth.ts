/**
 * Symphony's certificate login: `POST {sessionAuth}/sessionauth/v1/authenticate` over mutual TLS, the service
 * account named by its client certificate. A session-token provider like `rsaAuthentication`, so the client gives
 * it the same lifecycle (one login at a time, a new one after a 401, the session breaker).
 */
import type { SessionTokenContext } from "./auth.js";
import {
  type ClientCertificate,
  type ConnectionOptions,
  checkTransportSecurity,
  resolveConnection,
  withClientCertificate,
} from "./connection.js";
import { loginLane } from "./http.js";
import { checkTimeoutMs, DEFAULT_RETRY, type RetryOptions, resolveRetry } from "./retry.js";
import { AuthenticationError, loginFailure } from "./rsa-auth.js";
import { undiciTransport } from "./transport.js";
import { checkHttpUrl } from "./urls.js";

const AUTHENTICATE_PATH = "/sessionauth/v1/authenticate";

/**
 * Options of {@link certificateAuthentication}: where to log in, and the service account's certificate, as a
 * PKCS#12 file (`pfx`) or PEM `cert` and `key`.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 *
 * const options: CertificateAuthenticationOptions = {
 *   sessionAuthUrl: "https://acme-api.symphony.com:8444",
 *   pfx: readFileSync("/run/secrets/provisioning-bot.p12"),
 *   passphrase: process.env.BOT_P12_PASSWORD,
 * };
 * ```
 */
export interface CertificateAuthenticationOptions {
  /**
   * The session-auth host (a BDK config's `sessionAuth` URL), e.g. `https://acme-api.symphony.com:8444`; the login
   * goes to `<sessionAuthUrl>/sessionauth/v1/authenticate`. Required.
   */
  sessionAuthUrl: string;
  /** The certificate and its key in one PKCS#12 file (`.p12`, `.pfx`), instead of `cert` and `key`. */
  pfx?: Buffer | undefined;
  /** The certificate (chain), PEM; with `key`. */
  cert?: string | Buffer | undefined;
  /** The certificate's private key, PEM; with `cert`. */
  key?: string | Buffer | undefined;
  /** Opens the PKCS#12 file or an encrypted `key`. Never printed. Default: none. */
  passphrase?: string | undefined;
  /**
   * Proxy and CAs of the login's connections when the provider is used on its own, or when they differ from the
   * client's (a BDK config's `sessionAuth.proxy`). Default: the client's (when given to `createPodClient`), else
   * `HTTPS_PROXY`/`NO_PROXY` and the system's CAs.
   */
  proxy?: ConnectionOptions["proxy"];
  /** CAs trusted in addition to the system's for this login; see `proxy` for when they apply. Default: none. */
  ca?: ConnectionOptions["ca"];
  /** Allows a plain `http://` session-auth URL that is not loopback (no TLS means no certificate). Default `false`. */
  insecureHttp?: boolean | undefined;
  /** Time limit of one login attempt, in milliseconds. Default: the client's `timeoutMs` (30,000). */
  timeoutMs?: number | undefined;
  /** Retry policy of the login (no answer, 429, 5xx); a refusal is never retried. Default: the client's `retry`. */
  retry?: RetryOptions | undefined;
}

/**
 * Creates a session-token provider that logs the service account in with its client certificate (Symphony's
 * certificate authentication): a `POST` to `<sessionAuthUrl>/sessionauth/v1/authenticate` over mutual TLS. Give it
 * to `createPodClient({ sessionToken })`: the client asks it for the first token and again after a 401, one login
 * at a time, and stops asking after repeated refusals (the session breaker), exactly as for
 * {@link rsaAuthentication}.
 *
 * Inside a client, the login goes over connections of its own with the client's proxy and CAs plus this
 * certificate (unless `proxy` or `ca` is given here). Options are checked now; the certificate, key and passphrase
 * never appear in a message. A refused or unanswered login rejects with {@link AuthenticationError} (`method`
 * `"certificate"`).
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 * import { certificateAuthentication, createPodClient } from "symphony-pod-admin";
 *
 * const pod = createPodClient({
 *   baseUrl: "https://acme.symphony.com/pod",
 *   sessionToken: certificateAuthentication({
 *     sessionAuthUrl: "https://acme-api.symphony.com:8444",
 *     pfx: readFileSync("/run/secrets/provisioning-bot.p12"),
 *     passphrase: process.env.BOT_P12_PASSWORD,
 *   }),
 * });
 * ```
 * @throws TypeError for invalid options, naming the option.
 */
export function certificateAuthentication(
  options: CertificateAuthenticationOptions,
): (context?: SessionTokenContext) => Promise<string> {
  if (options === null || typeof options !== "object") {
    throw new TypeError("certificateAuthentication needs an options object");
  }
  const known = [
    "sessionAuthUrl",
    "pfx",
    "cert",
    "key",
    "passphrase",
    "proxy",
    "ca",
    "insecureHttp",
    "timeoutMs",
    "retry",
  ];
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${key} is not an option of certificateAuthentication; expected one of: ${known.join(", ")}`);
    }
  }
  if (typeof options.sessionAuthUrl !== "string") {
    throw new TypeError("sessionAuthUrl is required: the session-auth host, e.g. https://acme-api.symphony.com:8444");
  }
  const base = checkHttpUrl(options.sessionAuthUrl, "sessionAuthUrl");
  if (options.insecureHttp !== undefined && typeof options.insecureHttp !== "boolean") {
    throw new TypeError("insecureHttp must be true or false");
  }
  checkTransportSecurity(base, "sessionAuthUrl", options.insecureHttp === true);
  const url = `${base.origin}${base.pathname.replace(/\/+$/, "")}${AUTHENTICATE_PATH}`;
  const { pfx, cert, key, passphrase } = options;
  if (pfx === undefined && cert === undefined && key === undefined) {
    throw new TypeError("certificateAuthentication needs the certificate: pfx (PKCS#12), or cert and key (PEM)");
  }
  const certificate: ClientCertificate = {
    ...(pfx !== undefined && { pfx }),
    ...(cert !== undefined && { cert }),
    ...(key !== undefined && { key }),
    ...(passphrase !== undefined && { passphrase }),
  };
  const own = options.proxy !== undefined || options.ca !== undefined;
  // Checked now (shape, PEM); a wrong passphrase is only known at the handshake, and said then.
  const connection = withClientCertificate(
    resolveConnection({ proxy: options.proxy, ca: options.ca, insecureHttp: options.insecureHttp }),
    certificate,
  );
  const timeoutMs = options.timeoutMs === undefined ? undefined : checkTimeoutMs(options.timeoutMs, "timeoutMs");
  const retry = options.retry === undefined ? undefined : resolveRetry(DEFAULT_RETRY, options.retry, "retry");
  // Made on the first login that needs it: a provider given to a client never opens connections of its own.
  let standalone: SessionTokenContext | undefined;
  const lane = () => {
    standalone ??= loginLane(undiciTransport(connection), { retry: DEFAULT_RETRY, timeoutMs: 30_000 });
    return standalone;
  };

  let inFlight: Promise<string> | undefined;
  return function certificateSessionToken(context?: SessionTokenContext) {
    const send = context && !own ? context : lane();
    inFlight ??= logIn(send, url, certificate, timeoutMs, retry).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

async function logIn(
  send: SessionTokenContext,
  url: string,
  clientCertificate: ClientCertificate,
  timeoutMs: number | undefined,
  retry: Required<RetryOptions> | undefined,
): Promise<string> {
  const login = { username: "", url, method: "certificate" as const };
  let answer: Awaited<ReturnType<SessionTokenContext["send"]>>;
  try {
    answer = await send.send({ url, body: () => "{}", retry, timeoutMs, clientCertificate });
  } catch (error) {
    throw loginFailure(error, login);
  }
  const { status, attempts, requestId } = answer;
  let parsed = null as { token?: unknown; message?: unknown; code?: unknown } | null;
  try {
    parsed = JSON.parse(answer.body) as typeof parsed;
  } catch {
    // a proxy's page: reported below without its text
  }
  if (status >= 200 && status < 300) {
    if (typeof parsed?.token === "string" && parsed.token.length > 0) return parsed.token;
    throw new AuthenticationError({
      ...login,
      status,
      podMessage: "the answer carried no session token",
      attempts,
      requestId,
    });
  }
  const podMessage = typeof parsed?.message === "string" ? parsed.message.trim().slice(0, 200) : undefined;
  const code = typeof parsed?.code === "number" ? parsed.code : undefined;
  throw new AuthenticationError({ ...login, status, code, podMessage, attempts, requestId });
}
