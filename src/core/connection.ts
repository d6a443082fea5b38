/**
 * How the client reaches a pod from a real network: a proxy (given, or the standard `HTTPS_PROXY`/`NO_PROXY`
 * variables), CA certificates added to the system's, a client certificate, or a dispatcher of the caller's own; and
 * what a TLS or proxy failure means, in words. Everything here is decided once, when a client is created.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";
import type { Dispatcher } from "undici";
import { withoutCredentials } from "./urls.js";

/**
 * A proxy as its parts (the form of a Symphony BDK config's `proxy` section). Every connection of the client (pod
 * calls, logins, lookups) goes through it as an HTTP `CONNECT` tunnel, with Basic authentication when `username` is
 * given. The password is never printed.
 *
 * @example
 * ```ts
 * const proxy: ProxySettings = { host: "proxy.bank.example", port: 3128, username: "svc-symphony", password: process.env.PROXY_PASSWORD };
 * ```
 */
export interface ProxySettings {
  /** The proxy's host name or IP address. */
  host: string;
  /** The proxy's port, 1 to 65535. */
  port: number;
  /** How to reach the proxy itself. Default `"http"` (the tunnel inside is TLS to an `https` pod either way). */
  protocol?: "http" | "https" | undefined;
  /** User name for the proxy's Basic authentication. Default: none. */
  username?: string | undefined;
  /** Password for the proxy's Basic authentication; never printed. Default: none. */
  password?: string | undefined;
  /**
   * Hosts reached without the proxy, in the `NO_PROXY` format: comma-separated names (a leading `.` or `*.` for
   * their subdomains), `host:port`, or `*` for all. Default: none.
   */
  noProxy?: string | undefined;
}

/**
 * The `proxy` option: a URL (`http://user:password@proxy.bank.example:3128`, user and password percent-encoded),
 * {@link ProxySettings}, or `false` for a direct connection whatever the environment says. Default (`undefined`):
 * the standard variables, `HTTPS_PROXY` for `https://` URLs, `HTTP_PROXY` for `http://` ones (lower-case names
 * first, as curl reads them), hosts in `NO_PROXY` reached directly.
 *
 * @example
 * ```ts
 * const pod = createPodClient({ baseUrl, sessionToken, proxy: "http://svc:secret@proxy.bank.example:3128" });
 * ```
 */
export type ProxyOption = string | ProxySettings | false;

/**
 * A client certificate presented in the TLS handshake (mutual TLS): PEM `cert` and `key`, or a PKCS#12 `pfx`;
 * `passphrase` opens an encrypted key or the PKCS#12 file. Never printed.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 *
 * const tls: ClientCertificate = { pfx: readFileSync("bot.p12"), passphrase: process.env.BOT_P12_PASSWORD };
 * ```
 */
export interface ClientCertificate {
  /** The certificate (chain), PEM. With `key`. */
  cert?: string | Buffer | undefined;
  /** Its private key, PEM. With `cert`. */
  key?: string | Buffer | undefined;
  /** A PKCS#12 (`.p12`, `.pfx`) file holding both, instead of `cert` and `key`. */
  pfx?: Buffer | undefined;
  /** Opens an encrypted `key` or the `pfx`. Default: none. */
  passphrase?: string | undefined;
}

/**
 * How the client connects, shared by {@link PodClientOptions} and the logins. All optional; see each.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 *
 * const connection: ConnectionOptions = {
 *   proxy: { host: "proxy.bank.example", port: 3128, username: "svc", password: process.env.PROXY_PASSWORD },
 *   ca: readFileSync("/etc/pki/bank-root-ca.pem", "utf8"),
 * };
 * const pod = createPodClient({ baseUrl: "https://acme.symphony.com/pod", sessionToken, ...connection });
 * ```
 */
export interface ConnectionOptions {
  /** See {@link ProxyOption}. Default: `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` from the environment. */
  proxy?: ProxyOption | undefined;
  /**
   * CA certificates (PEM; one string may hold several) trusted **in addition to** the system's (Node's bundled
   * roots and `NODE_EXTRA_CA_CERTS`): your organisation's root, or the CA of a TLS-inspecting proxy. Default: the
   * system's alone.
   */
  ca?: string | Buffer | readonly (string | Buffer)[] | undefined;
  /** A client certificate for every connection (a pod behind mutual TLS). Default: none. */
  tls?: ClientCertificate | undefined;
  /**
   * An undici `Dispatcher` to send every request with, for anything the options above do not cover; its pool and
   * its TLS and proxy settings are yours (with it, `proxy`, `ca` and `tls` are refused), and `close()` leaves it
   * open. It must not follow redirects: the client refuses every 3xx answer anyway. Default: a keep-alive pool owned
   * by the client.
   */
  dispatcher?: Dispatcher | undefined;
  /**
   * Allows a plain `http://` URL to a host that is not this machine. Refused by default: the session token (and a
   * login's signed JWT) would cross the network in clear. Loopback (`localhost`, `127.0.0.0/8`, `[::1]`) is always
   * allowed. Default `false`.
   */
  insecureHttp?: boolean | undefined;
}

/** The names of {@link ConnectionOptions}, for the lists of known options. @internal */
export const CONNECTION_OPTIONS = ["proxy", "ca", "tls", "dispatcher", "insecureHttp"] as const;

/** Connection options checked and resolved, as the transport uses them. @internal */
export interface Connection {
  /** Proxy URLs (credentials inside, never shown) for undici's `EnvHttpProxyAgent`; undefined: none. */
  proxy: { httpProxy: string; httpsProxy: string; noProxy: string } | undefined;
  /** The proxy as shown in messages, without credentials. */
  proxyShown: string | undefined;
  /** TLS options of every connection: trusted CAs, client certificate. Undefined: Node's defaults. */
  connect: ConnectTls | undefined;
  /** The caller's own dispatcher. */
  dispatcher: Dispatcher | undefined;
  insecureHttp: boolean;
}

/** @internal */
export interface ConnectTls {
  ca?: string[];
  cert?: string | Buffer;
  key?: string | Buffer;
  pfx?: Buffer;
  passphrase?: string;
}

/**
 * Checks connection options and resolves them: the proxy from the option or from `env`, the CA list as the
 * system's plus the given ones. Throws a TypeError naming the option; never quotes a password or a key.
 * @internal
 */
export function resolveConnection(
  options: ConnectionOptions,
  env: Record<string, string | undefined> = process.env,
): Connection {
  const { dispatcher, insecureHttp } = options;
  if (insecureHttp !== undefined && typeof insecureHttp !== "boolean") {
    throw new TypeError("insecureHttp must be true or false");
  }
  if (dispatcher !== undefined) {
    if (dispatcher === null || typeof (dispatcher as { request?: unknown }).request !== "function") {
      throw new TypeError("dispatcher must be an undici Dispatcher (an Agent, a Pool, a ProxyAgent …)");
    }
    for (const key of ["proxy", "ca", "tls"] as const) {
      if (options[key] !== undefined && options[key] !== false) {
        throw new TypeError(`${key} cannot be used with dispatcher: configure the dispatcher you give instead`);
      }
    }
    return { proxy: undefined, proxyShown: undefined, connect: undefined, dispatcher, insecureHttp: !!insecureHttp };
  }
  const proxy = resolveProxy(options.proxy, env);
  const connect = tlsOptions(options.ca, options.tls, env);
  return {
    proxy: proxy?.urls,
    proxyShown: proxy?.shown,
    connect,
    dispatcher: undefined,
    insecureHttp: !!insecureHttp,
  };
}

/** The proxy of the option, or of the environment's variables; undefined when there is none. */
function resolveProxy(
  option: ProxyOption | undefined,
  env: Record<string, string | undefined>,
): { urls: NonNullable<Connection["proxy"]>; shown: string } | undefined {
  if (option === false) return undefined;
  if (option === undefined) {
    const pick = (name: string) => env[name.toLowerCase()] || env[name] || "";
    const httpsProxy = pick("HTTPS_PROXY");
    const httpProxy = pick("HTTP_PROXY");
    if (!httpsProxy && !httpProxy) return undefined;
    if (httpsProxy) checkProxyUrl(httpsProxy, "HTTPS_PROXY");
    if (httpProxy) checkProxyUrl(httpProxy, "HTTP_PROXY");
    return {
      urls: { httpsProxy, httpProxy, noProxy: pick("NO_PROXY") },
      shown: withoutCredentials(httpsProxy || httpProxy),
    };
  }
  if (typeof option === "string") {
    checkProxyUrl(option, "proxy");
    return { urls: { httpsProxy: option, httpProxy: option, noProxy: "" }, shown: withoutCredentials(option) };
  }
  if (option === null || typeof option !== "object") {
    throw new TypeError("proxy must be a URL, { host, port, username, password }, or false");
  }
  const { host, port, protocol = "http", username, password, noProxy = "" } = option;
  for (const key of Object.keys(option)) {
    if (!["host", "port", "protocol", "username", "password", "noProxy"].includes(key)) {
      throw new TypeError(`proxy.${key} is not an option; expected host, port, protocol, username, password, noProxy`);
    }
  }
  if (typeof host !== "string" || host.trim() === "" || /[\s/@]/.test(host)) {
    throw new TypeError("proxy.host must be a host name or IP address");
  }
  if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) {
    throw new TypeError(`proxy.port must be an integer from 1 to 65535, got ${String(port)}`);
  }
  if (protocol !== "http" && protocol !== "https") throw new TypeError('proxy.protocol must be "http" or "https"');
  if (username !== undefined && typeof username !== "string") throw new TypeError("proxy.username must be a string");
  if (password !== undefined && typeof password !== "string") throw new TypeError("proxy.password must be a string");
  if (password && !username) throw new TypeError("proxy.password needs proxy.username");
  if (typeof noProxy !== "string") throw new TypeError("proxy.noProxy must be a string, e.g. localhost,.bank.example");
  const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const auth = username ? `${encodeURIComponent(username)}:${encodeURIComponent(password ?? "")}@` : "";
  const url = `${protocol}://${auth}${hostPart}:${port}`;
  return { urls: { httpsProxy: url, httpProxy: url, noProxy }, shown: `${protocol}://${hostPart}:${port}` };
}

function checkProxyUrl(value: string, name: string): void {
  const shown = JSON.stringify(withoutCredentials(value));
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`${name} is not a valid proxy URL: ${shown} (expected e.g. http://proxy.bank.example:3128)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`${name} must be an http:// or https:// proxy URL, got ${shown}`);
  }
}

/** The TLS options: the given CAs after the system's ones (never instead of them), and the client certificate. */
function tlsOptions(
  ca: ConnectionOptions["ca"],
  tls: ClientCertificate | undefined,
  env: Record<string, string | undefined>,
): ConnectTls | undefined {
  const out: ConnectTls = {};
  if (ca !== undefined) {
    const given = (Array.isArray(ca) ? ca : [ca]) as (string | Buffer)[];
    const pems: string[] = [];
    for (const [i, item] of given.entries()) {
      const text = typeof item === "string" ? item : Buffer.isBuffer(item) ? item.toString("utf8") : undefined;
      if (text === undefined || !text.includes("-----BEGIN CERTIFICATE-----")) {
        throw new TypeError(
          `ca${Array.isArray(ca) ? `[${i}]` : ""} must hold PEM certificates ("-----BEGIN CERTIFICATE-----"); ` +
            "a Java keystore or PKCS#12 trust store must be converted first, e.g. openssl pkcs12 -in store.p12 -nokeys -out ca.pem",
        );
      }
      pems.push(text);
    }
    // Node's `ca` replaces the default list: the system's roots (and NODE_EXTRA_CA_CERTS) are put back first.
    out.ca = [...rootCertificates, ...extraCaCertificates(env), ...pems];
  }
  if (tls !== undefined) {
    if (tls === null || typeof tls !== "object") throw new TypeError("tls must be { cert, key } or { pfx }");
    for (const key of Object.keys(tls)) {
      if (!["cert", "key", "pfx", "passphrase"].includes(key)) {
        throw new TypeError(`tls.${key} is not an option; expected cert, key, pfx, passphrase`);
      }
    }
    const { cert, key, pfx, passphrase } = tls;
    if (pfx !== undefined && (cert !== undefined || key !== undefined)) {
      throw new TypeError("tls: give pfx, or cert and key, not both");
    }
    if (pfx === undefined && (cert === undefined) !== (key === undefined)) {
      throw new TypeError("tls: cert and key go together (or give pfx)");
    }
    if (pfx !== undefined && !Buffer.isBuffer(pfx)) throw new TypeError("tls.pfx must be a Buffer (the .p12 file)");
    for (const [name, value] of [
      ["cert", cert],
      ["key", key],
    ] as const) {
      if (value !== undefined && typeof value !== "string" && !Buffer.isBuffer(value)) {
        throw new TypeError(`tls.${name} must be a PEM string or Buffer`);
      }
    }
    if (passphrase !== undefined && typeof passphrase !== "string")
      throw new TypeError("tls.passphrase must be a string");
    if (cert !== undefined) out.cert = cert;
    if (key !== undefined) out.key = key;
    if (pfx !== undefined) out.pfx = pfx;
    if (passphrase !== undefined) out.passphrase = passphrase;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The connection with a client certificate added (a certificate login's own connections): the same proxy and CAs.
 * @internal
 */
export function withClientCertificate(connection: Connection, certificate: ClientCertificate): Connection {
  const tls = tlsOptions(undefined, certificate, {}) ?? {};
  return { ...connection, connect: { ...connection.connect, ...tls } };
}

/** `NODE_EXTRA_CA_CERTS`, which Node adds to its defaults but not to an explicit `ca` list. */
function extraCaCertificates(env: Record<string, string | undefined>): string[] {
  const file = env.NODE_EXTRA_CA_CERTS;
  if (!file) return [];
  try {
    return [readFileSync(file, "utf8")];
  } catch {
    return []; // Node itself only warns about an unreadable one
  }
}

/** Pool options of the transport's lanes. @internal */
export interface PoolOptions {
  keepAliveTimeout: number;
  keepAliveMaxTimeout: number;
  connections?: number;
}

/**
 * A dispatcher for one origin's lane (or, without `origin`, for any origin): a `Pool` with the TLS options, or,
 * behind a proxy, undici's `EnvHttpProxyAgent` (which also applies `NO_PROXY`) with the same pool size.
 * @internal
 */
export function connectionDispatcher(
  undici: typeof import("undici"),
  connection: Connection,
  pool: PoolOptions,
  origin?: string,
): Dispatcher {
  const connect = connection.connect;
  if (connection.proxy) {
    return new undici.EnvHttpProxyAgent({
      ...pool,
      ...connection.proxy,
      ...(connect && { connect, requestTls: connect }),
      // An https:// proxy is trusted with the same CAs.
      ...(connect?.ca && { proxyTls: { ca: connect.ca } }),
    });
  }
  if (origin === undefined) return new undici.Agent({ ...pool, ...(connect && { connect }) });
  return new undici.Pool(origin, { ...pool, ...(connect && { connect }) });
}

/** Whether a URL's host is this machine: `localhost` (and `*.localhost`), `127.0.0.0/8`, `[::1]`. @internal */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.toLowerCase();
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) ||
    host === "[::1]" ||
    host === "[::ffff:127.0.0.1]" ||
    host === "[::ffff:7f00:1]"
  );
}

/**
 * Refuses plain `http://` to a host that is not this machine unless `insecureHttp` says so: a session token or a
 * signed JWT would cross the network in clear. `makeError` builds the error (a TypeError, or the CLI's usage error).
 * @internal
 */
export function checkTransportSecurity(
  url: URL,
  field: string,
  insecureHttp: boolean,
  how = "insecureHttp: true",
  makeError: (message: string) => Error = (message) => new TypeError(message),
): void {
  if (url.protocol !== "http:" || insecureHttp || isLoopback(url)) return;
  throw makeError(
    `${field} is plain http:// to ${url.host}, which is not this machine: the session token would cross the network ` +
      `unencrypted. Use https://, or allow it with ${how} if you really mean to`,
  );
}
