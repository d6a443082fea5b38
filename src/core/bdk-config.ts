/**
 * The Symphony BDK configuration file (Java and Python BDKs), YAML or JSON, read into client options: global
 * `scheme/host/port/context` overridden per service (`pod`, `sessionAuth`), `bot.username`, `bot.privateKey`,
 * `bot.certificate`, `proxy` (global or per service), `ssl.trustStore.path`, `retry`, `connectionTimeout`,
 * `readTimeout`, and `${VAR}` / `${VAR:-default}` from the environment. About 500 lines because it declares the
 * whole BDK format once (every key we read, its type and where it goes), so a misspelt or mistyped key is named.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, resolve } from "node:path";
import { certificateAuthentication } from "./certificate-auth.js";
import type { PodClientOptions } from "./client.js";
import type { ClientCertificate, ProxySettings } from "./connection.js";
import type { RetryOptions } from "./retry.js";
import { readPrivateKeyFile, rsaAuthentication } from "./rsa-auth.js";

/**
 * Options of {@link loadBdkConfig}.
 *
 * @example
 * ```ts
 * const options: BdkConfigOptions = { env: { ...process.env, PROXY_PASSWORD: "…" }, onWarning: (text) => console.warn(text) };
 * ```
 */
export interface BdkConfigOptions {
  /** The variables `${VAR}` and `${VAR:-default}` are read from. Default `process.env`. */
  env?: Record<string, string | undefined> | undefined;
  /** Called with each warning (a misspelt key, a setting we cannot honour). Default: `process.emitWarning`. */
  onWarning?: ((text: string) => void) | undefined;
  /** Opens an encrypted `bot.privateKey`. Default: none. */
  privateKeyPassphrase?: string | undefined;
}

/** A BDK config file read and checked, before anything is built from it. @internal */
export interface BdkSettings {
  file: string;
  /** The pod's base URL (`…/pod`), for `createPodClient`. */
  podUrl: string;
  /** The pod's URL without `/pod`: the RSA login's host (`<it>/login/pubkey/authenticate`). */
  loginUrl: string;
  /** The session-auth host of the certificate login. */
  sessionAuthUrl: string;
  username: string | undefined;
  privateKey: { path?: string; content?: string } | undefined;
  certificate: { path?: string; content?: string; password?: string } | undefined;
  proxy: ProxySettings | undefined;
  sessionAuthProxy: ProxySettings | undefined;
  /** The trust store's path (PEM), resolved against the file's folder. */
  trustStore: string | undefined;
  retry: RetryOptions | undefined;
  timeoutMs: number | undefined;
  warnings: string[];
}

/** Keys we read, by section; `*` for a service section. */
const USED: Record<string, readonly string[]> = {
  "": [
    "scheme",
    "host",
    "port",
    "context",
    "proxy",
    "pod",
    "sessionAuth",
    "bot",
    "ssl",
    "retry",
    "connectionTimeout",
    "readTimeout",
  ],
  service: ["scheme", "host", "port", "context", "proxy"],
  proxy: ["host", "port", "username", "password"],
  bot: ["username", "privateKey", "certificate"],
  "bot.privateKey": ["path", "content"],
  "bot.certificate": ["path", "content", "password"],
  ssl: ["trustStore"],
  "ssl.trustStore": ["path", "password"],
  retry: ["maxAttempts", "initialIntervalMillis", "multiplier", "maxIntervalMillis"],
};
/** Keys of the BDK format we do not use: accepted silently. */
const IGNORED: Record<string, readonly string[]> = {
  "": [
    "agent",
    "keyManager",
    "app",
    "datafeed",
    "datahose",
    "commandPrefix",
    "defaultHeaders",
    "connectionPoolMax",
    "connectionPoolPerRoute",
    "extApp",
    "relationshipManager",
    "distributedTracing",
    "hostname",
  ],
  service: ["defaultHeaders", "connectionTimeout", "readTimeout", "connectionPoolMax", "connectionPoolPerRoute"],
  bot: ["privateKeyPath", "certificatePath", "certificatePassword"],
  ssl: [],
};

/**
 * Reads a Symphony BDK config file (YAML or JSON) into {@link PodClientOptions}: the pod's base URL, the session
 * token provider (certificate login when `bot.certificate` is given, else the RSA login with `bot.privateKey`),
 * the proxy, the trust store (added to the system's CAs), the retry policy and the timeout.
 *
 * Per-service values (`pod:`, `sessionAuth:`) override the global ones. Relative paths are read from the config
 * file's folder. Keys of the BDK format we do not use (`agent`, `keyManager`, `app`, `datafeed` …) are accepted
 * silently; a misspelt key is warned about (`onWarning`); a value of the wrong type, or a `${VAR}` that is not set
 * and has no `:-default`, throws a TypeError naming the key and the file. Secrets (passwords, keys) are never
 * part of a message.
 *
 * @example
 * ```ts
 * import { createPodClient, loadBdkConfig } from "symphony-pod-admin";
 *
 * const pod = createPodClient(await loadBdkConfig("bdk-config.yaml"));
 * await pod.users.listFeatures(7215545057281n);
 * ```
 * @throws TypeError for a file that cannot be read or breaks a rule, naming the file and the key.
 */
export async function loadBdkConfig(path: string, options: BdkConfigOptions = {}): Promise<PodClientOptions> {
  const env = options.env ?? process.env;
  const settings = readBdkConfig(path, env);
  const warn = options.onWarning ?? ((text: string) => process.emitWarning(text, "BdkConfigWarning"));
  for (const warning of settings.warnings) warn(warning);
  const ca = settings.trustStore === undefined ? undefined : readTrustStore(settings.trustStore, settings.file);
  const retry = settings.retry;
  let sessionToken: PodClientOptions["sessionToken"];
  if (settings.certificate) {
    const certificate = readCertificate(settings.certificate, settings.file);
    const sameProxy = JSON.stringify(settings.sessionAuthProxy) === JSON.stringify(settings.proxy);
    sessionToken = certificateAuthentication({
      sessionAuthUrl: settings.sessionAuthUrl,
      ...certificate,
      ...(!sameProxy && { proxy: settings.sessionAuthProxy, ...(ca && { ca }) }),
    });
  } else if (settings.privateKey && settings.username) {
    const { path: keyPath, content } = settings.privateKey;
    const passphrase = options.privateKeyPassphrase;
    const privateKey =
      keyPath !== undefined
        ? await readPrivateKeyFile(keyPath, passphrase).catch((error: Error) => {
            throw new TypeError(`${settings.file}: bot.privateKey.path: ${error.message}`);
          })
        : (content as string);
    sessionToken = rsaAuthentication({
      authUrl: settings.loginUrl,
      username: settings.username,
      privateKey,
      ...(passphrase !== undefined && keyPath === undefined && { passphrase }),
    });
  } else {
    throw new TypeError(
      `${settings.file}: bot needs username and privateKey (RSA login), or certificate (certificate login)`,
    );
  }
  return {
    baseUrl: settings.podUrl,
    sessionToken,
    ...(settings.proxy && { proxy: settings.proxy }),
    ...(ca && { ca }),
    ...(retry && { retry }),
    ...(settings.timeoutMs !== undefined && { timeoutMs: settings.timeoutMs }),
  };
}

/**
 * Reads and checks a BDK config file, with `${VAR}` interpolated from `env`; builds nothing, reads no other file.
 * @internal
 */
export function readBdkConfig(path: string, env: Record<string, string | undefined>): BdkSettings {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new TypeError(`cannot read the config file ${path}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  return parseBdkConfig(text, path, env);
}

/** @internal */
export function parseBdkConfig(text: string, file: string, env: Record<string, string | undefined>): BdkSettings {
  const fail = (key: string, rule: string) => new TypeError(`${file}: ${key ? `${key} ` : ""}${rule}`);
  let raw: unknown;
  try {
    // The yaml package is loaded with the config: clients that never read one never pay for it.
    raw = yamlParse(text);
  } catch (error) {
    const at = (error as { linePos?: [{ line: number; col: number }] }).linePos?.[0];
    // The parser's message quotes the line, which may hold a password: only its position is shown.
    throw fail("", `is not valid YAML or JSON${at ? ` (line ${at.line}, column ${at.col})` : ""}`);
  }
  if (raw === null || raw === undefined) throw fail("", "is empty");
  const root = section(raw, "", fail);
  const warnings: string[] = [];
  const values = interpolate(root, "", env, fail) as Record<string, unknown>;
  checkKeys(values, "", "", warnings, file);
  const global = service(values, "", fail, warnings, file);
  const pod = { ...global, ...service(values.pod, "pod", fail, warnings, file) };
  const auth = { ...global, ...service(values.sessionAuth, "sessionAuth", fail, warnings, file) };
  if (pod.host === undefined) throw fail("pod.host", "is required (or host, for every service)");
  const podBase = serviceUrl(pod, "pod", fail);
  const authBase = auth.host === undefined ? podBase : serviceUrl(auth, "sessionAuth", fail);
  const bot = values.bot === undefined ? {} : section(values.bot, "bot", fail);
  checkKeys(bot, "bot", "bot", warnings, file);
  const username = optionalString(bot.username, "bot.username", fail);
  const privateKey = fileOrContent(bot.privateKey, "bot.privateKey", fail, warnings, file);
  const certificate = fileOrContent(bot.certificate, "bot.certificate", fail, warnings, file);
  const ssl = values.ssl === undefined ? {} : section(values.ssl, "ssl", fail);
  checkKeys(ssl, "ssl", "ssl", warnings, file);
  const store = ssl.trustStore === undefined ? {} : section(ssl.trustStore, "ssl.trustStore", fail);
  checkKeys(store, "ssl.trustStore", "ssl.trustStore", warnings, file);
  const trustStore = optionalString(store.path, "ssl.trustStore.path", fail);
  const folder = dirname(resolve(file));
  const at = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(folder, p));
  if (privateKey?.path !== undefined) privateKey.path = at(privateKey.path);
  if (certificate?.path !== undefined) certificate.path = at(certificate.path);
  return {
    file,
    podUrl: `${podBase}/pod`,
    loginUrl: podBase,
    sessionAuthUrl: authBase,
    username,
    privateKey,
    certificate,
    proxy: pod.proxy,
    sessionAuthProxy: auth.proxy,
    trustStore: at(trustStore),
    retry: retryOf(values.retry, fail, warnings, file),
    timeoutMs: timeoutOf(values, fail),
    warnings,
  };
}

type Fail = (key: string, rule: string) => TypeError;

/** yaml is loaded on the first config read (required, so that reading stays synchronous for the CLI's checks). */
function yamlParse(text: string): unknown {
  const yaml = createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yaml.parse(text);
}

function section(value: unknown, key: string, fail: Fail): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw fail(key, `must be a mapping (key: value lines), got ${kind(value)}`);
  }
  return value as Record<string, unknown>;
}

function kind(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "a list" : `a ${typeof value}`;
}

/** `${VAR}` and `${VAR:-default}` in every string value, from `env`. */
function interpolate(value: unknown, key: string, env: Record<string, string | undefined>, fail: Fail): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_.]*)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
      const found = env[name];
      if (found !== undefined && found !== "") return found;
      if (fallback !== undefined) return fallback;
      throw fail(key, `uses \${${name}}, which is not set (set it, or write \${${name}:-default})`);
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, `${key}[${i}]`, env, fail));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(value)) {
      out[name] = interpolate(item, key ? `${key}.${name}` : name, env, fail);
    }
    return out;
  }
  return value;
}

/** Warns about keys we neither read nor know from the BDK format, naming the closest key we read. */
function checkKeys(
  values: Record<string, unknown>,
  key: string,
  kindOf: string,
  warnings: string[],
  file: string,
): void {
  const used = USED[kindOf] ?? [];
  const ignored = IGNORED[kindOf] ?? [];
  for (const name of Object.keys(values)) {
    if (used.includes(name) || ignored.includes(name)) continue;
    const near = used.find((candidate) => distance(candidate.toLowerCase(), name.toLowerCase()) <= 2);
    const where = key ? `${key}.${name}` : name;
    warnings.push(
      `${file}: ${where} is not a key of the BDK config${near ? ` (did you mean ${key ? `${key}.` : ""}${near}?)` : ""}; it is ignored`,
    );
  }
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] as number;
      row[j] = Math.min(current + 1, (row[j - 1] as number) + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length] as number;
}

interface Service {
  scheme?: "http" | "https";
  host?: string;
  port?: number;
  context?: string;
  proxy?: ProxySettings;
}

/** A service section's (or the global) scheme, host, port, context and proxy; only the keys given. */
function service(value: unknown, key: string, fail: Fail, warnings: string[], file: string): Service {
  if (value === undefined) return {};
  const values = key === "" ? (value as Record<string, unknown>) : section(value, key, fail);
  if (key !== "") checkKeys(values, key, "service", warnings, file);
  const name = (field: string) => (key ? `${key}.${field}` : field);
  const out: Service = {};
  const scheme = optionalString(values.scheme, name("scheme"), fail);
  if (scheme !== undefined) {
    if (scheme !== "http" && scheme !== "https") throw fail(name("scheme"), `must be https or http, got "${scheme}"`);
    out.scheme = scheme;
  }
  const host = optionalString(values.host, name("host"), fail);
  if (host !== undefined) {
    if (host === "" || /[\s/@?#]/.test(host)) throw fail(name("host"), "must be a host name or IP address");
    out.host = host;
  }
  const port = optionalInteger(values.port, name("port"), fail, 1, 65535);
  if (port !== undefined) out.port = port;
  const context = optionalString(values.context, name("context"), fail);
  if (context !== undefined) out.context = context;
  if (values.proxy !== undefined) out.proxy = proxyOf(values.proxy, name("proxy"), fail, warnings, file);
  return out;
}

function serviceUrl(service: Service, key: string, fail: Fail): string {
  const scheme = service.scheme ?? "https";
  const host = service.host as string;
  const hostPart = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const defaultPort = scheme === "https" ? 443 : 80;
  const port = service.port === undefined || service.port === defaultPort ? "" : `:${service.port}`;
  const context = (service.context ?? "").replace(/^\/*/, "/").replace(/\/+$/, "");
  const url = `${scheme}://${hostPart}${port}${context === "/" ? "" : context}`;
  try {
    new URL(url);
  } catch {
    throw fail(`${key}.host`, "does not make a valid URL with its scheme, port and context");
  }
  return url;
}

function proxyOf(value: unknown, key: string, fail: Fail, warnings: string[], file: string): ProxySettings {
  const values = section(value, key, fail);
  checkKeys(values, key, "proxy", warnings, file);
  const host = optionalString(values.host, `${key}.host`, fail);
  if (host === undefined || host === "") throw fail(`${key}.host`, "is required");
  const port = optionalInteger(values.port, `${key}.port`, fail, 1, 65535);
  if (port === undefined) throw fail(`${key}.port`, "is required");
  const username = optionalString(values.username, `${key}.username`, fail);
  const password = optionalString(values.password, `${key}.password`, fail);
  if (password !== undefined && username === undefined) throw fail(`${key}.password`, "needs username");
  return {
    host,
    port,
    ...(username !== undefined && { username }),
    ...(password !== undefined && { password }),
  };
}

function fileOrContent(
  value: unknown,
  key: string,
  fail: Fail,
  warnings: string[],
  file: string,
): { path?: string; content?: string; password?: string } | undefined {
  if (value === undefined) return undefined;
  const values = section(value, key, fail);
  checkKeys(values, key, key, warnings, file);
  const path = optionalString(values.path, `${key}.path`, fail);
  const content = optionalString(values.content, `${key}.content`, fail);
  if ((path === undefined) === (content === undefined)) throw fail(key, "needs path or content (one of them)");
  const password = key === "bot.certificate" ? optionalString(values.password, `${key}.password`, fail) : undefined;
  return {
    ...(path !== undefined && { path }),
    ...(content !== undefined && { content }),
    ...(password !== undefined && { password }),
  };
}

function retryOf(value: unknown, fail: Fail, warnings: string[], file: string): RetryOptions | undefined {
  if (value === undefined) return undefined;
  const values = section(value, "retry", fail);
  checkKeys(values, "retry", "retry", warnings, file);
  const out: RetryOptions = {};
  const maxAttempts = optionalInteger(values.maxAttempts, "retry.maxAttempts", fail, -1, 100);
  if (maxAttempts === -1) {
    throw fail("retry.maxAttempts", "-1 (retry for ever) is not supported: give a number of attempts from 1 to 100");
  }
  if (maxAttempts === 0) throw fail("retry.maxAttempts", "must be from 1 to 100, got 0");
  if (maxAttempts !== undefined) out.maxAttempts = maxAttempts;
  const initial = optionalInteger(values.initialIntervalMillis, "retry.initialIntervalMillis", fail, 0, 3_600_000);
  if (initial !== undefined) out.initialDelayMs = initial;
  const max = optionalInteger(values.maxIntervalMillis, "retry.maxIntervalMillis", fail, 0, 3_600_000);
  if (max !== undefined) out.maxDelayMs = max;
  const multiplier = optionalNumber(values.multiplier, "retry.multiplier", fail);
  if (multiplier !== undefined && multiplier !== 2) {
    warnings.push(`${file}: retry.multiplier ${multiplier} is not honoured: the backoff doubles (with jitter)`);
  }
  return out;
}

/** `readTimeout` (else `connectionTimeout`) as the client's per-attempt limit. */
function timeoutOf(values: Record<string, unknown>, fail: Fail): number | undefined {
  const read = optionalInteger(values.readTimeout, "readTimeout", fail, 1, 3_600_000);
  const connect = optionalInteger(values.connectionTimeout, "connectionTimeout", fail, 1, 3_600_000);
  return read ?? connect;
}

function optionalString(value: unknown, key: string, fail: Fail): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value !== "string") throw fail(key, `must be a text value, got ${kind(value)}`);
  return value;
}

function optionalNumber(value: unknown, key: string, fail: Fail): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isFinite(n)) throw fail(key, `must be a number, got ${kind(value)}`);
  return n;
}

function optionalInteger(value: unknown, key: string, fail: Fail, min: number, max: number): number | undefined {
  const n = optionalNumber(value, key, fail);
  if (n === undefined) return undefined;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw fail(
      key,
      `must be an integer from ${min} to ${max}, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`,
    );
  }
  return n;
}

/** The trust store: PEM certificates (a Java keystore must be converted). @internal */
export function readTrustStore(path: string, file: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new TypeError(
      `${file}: ssl.trustStore.path: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
    );
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    throw new TypeError(
      `${file}: ssl.trustStore.path: ${path} holds no PEM certificate; convert a Java keystore with ` +
        "keytool -exportcert -rfc (or openssl pkcs12 -nokeys for a PKCS#12 one)",
    );
  }
  return text;
}

/**
 * A client certificate file: PKCS#12 (`.p12`/`.pfx`, binary) or PEM holding the certificate and its key.
 * @internal
 */
export function readCertificate(
  given: { path?: string; content?: string; password?: string },
  file: string,
  key = "bot.certificate",
): ClientCertificate {
  let data: Buffer;
  if (given.content !== undefined) data = Buffer.from(given.content, "utf8");
  else {
    try {
      data = readFileSync(given.path as string);
    } catch (error) {
      throw new TypeError(
        `${file}: ${key}.path: cannot read ${given.path} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
      );
    }
  }
  return certificateFromBytes(data, `${file}: ${key}`, given.password);
}

/** PEM (certificate and key blocks) or PKCS#12 bytes as a {@link ClientCertificate}; never quotes them. @internal */
export function certificateFromBytes(data: Buffer, what: string, passphrase: string | undefined): ClientCertificate {
  const text = data.toString("latin1");
  const withPassphrase = passphrase === undefined ? {} : { passphrase };
  if (!text.includes("-----BEGIN")) return { pfx: data, ...withPassphrase };
  const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  const key = text.match(/-----BEGIN ([A-Z ]*)PRIVATE KEY-----[\s\S]+?-----END \1PRIVATE KEY-----/)?.[0];
  if (!certs || key === undefined) {
    throw new TypeError(
      `${what}: a PEM client certificate file must hold the certificate and its private key ` +
        '("BEGIN CERTIFICATE" and "BEGIN PRIVATE KEY" blocks), or give a PKCS#12 (.p12) file',
    );
  }
  return { cert: certs.join("\n"), key, ...withPassphrase };
}
