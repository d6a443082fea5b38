/**
 * How `pod-admin` reaches the pod: `--config` (a Symphony BDK config file), `--auth-url`, `--ca-file`, `--proxy`,
 * `--certificate`, `--insecure-http` and their `POD_*` variables. Flags override variables, which override the
 * file. Everything is read and checked here, before anything is sent; secrets (proxy and certificate passwords,
 * keys) are never part of a message.
 */
import { readFileSync } from "node:fs";
import { type BdkSettings, certificateFromBytes, readBdkConfig, readTrustStore } from "../core/bdk-config.js";
import type { ClientCertificate, ConnectionOptions, ProxySettings } from "../core/connection.js";
import { checkTransportSecurity } from "../core/connection.js";
import type { RetryOptions } from "../core/retry.js";
import { refuseContentAsPath } from "../core/rsa-auth.js";
import { quote } from "../core/text.js";
import { checkHttpUrl, withoutCredentials } from "../core/urls.js";
import { UsageError } from "../core/usage-error.js";

/**
 * The connection settings of a run, resolved from flags, `POD_*` variables and the config file.
 *
 * @example
 * ```ts
 * const connect: CliConnection = connectionOptions({}, process.env);
 * ```
 */
export interface CliConnection {
  /** The pod's base URL from the config file (flags and POD_URL are applied by the caller). */
  configPodUrl: string | undefined;
  /** The login host: `--auth-url`, POD_AUTH_URL, else the config file's (RSA: the pod's; certificate: sessionAuth). */
  authUrl: string | undefined;
  /** The config file's service account, when no flag or variable names one. */
  configUsername: string | undefined;
  /** The config file's private key, when no flag or variable names one. */
  configPrivateKey: { path?: string; content?: string } | undefined;
  /** The client certificate of a certificate login. */
  certificate: ClientCertificate | undefined;
  /** Proxy, CAs and `insecureHttp`, for the client and its logins. */
  client: ConnectionOptions;
  /**
   * The certificate login's own proxy when the config file gives `sessionAuth` another one than the pod's (`false`:
   * none); undefined: the client's.
   */
  loginProxy: ProxySettings | false | undefined;
  retry: RetryOptions | undefined;
  timeoutMs: number | undefined;
  /** What the config file said that we could not use, to print once. */
  warnings: string[];
}

/** The option values this file reads (parseArgs' strings and booleans). */
export interface ConnectionFlags {
  config?: string | undefined;
  "auth-url"?: string | undefined;
  "ca-file"?: string | undefined;
  proxy?: string | undefined;
  certificate?: string | undefined;
  "insecure-http"?: boolean | undefined;
}

/**
 * Resolves the connection flags, variables and config file. Throws {@link UsageError} naming the flag, the
 * variable or the file's key.
 *
 * @example
 * ```ts
 * const connect = connectionOptions({ config: "bdk.yaml", proxy: "http://proxy:3128" }, process.env);
 * ```
 */
export function connectionOptions(values: ConnectionFlags, env: Record<string, string | undefined>): CliConnection {
  const pick = (flag: keyof ConnectionFlags, variable: string): [string, string] | undefined => {
    const given = values[flag];
    if (typeof given === "string") return [given, `--${flag}`];
    const fromEnv = env[variable];
    return fromEnv ? [fromEnv, variable] : undefined;
  };
  const insecureHttp = values["insecure-http"] === true || /^(1|true|yes)$/i.test(env.POD_INSECURE_HTTP ?? "");
  const configFile = pick("config", "POD_ADMIN_CONFIG");
  let config: BdkSettings | undefined;
  if (configFile) {
    const [path, name] = configFile;
    refusePath(path, name);
    try {
      config = readBdkConfig(path, env);
    } catch (error) {
      throw new UsageError(`${name}: ${(error as Error).message}`);
    }
  }
  const authUrl = pick("auth-url", "POD_AUTH_URL");
  if (authUrl) {
    const url = checkHttpUrl(authUrl[0], authUrl[1], usage, (safe) => quote(safe, 200));
    checkTransportSecurity(url, authUrl[1], insecureHttp, "--insecure-http (or POD_INSECURE_HTTP=1)", usage);
  }
  const client: ConnectionOptions = { insecureHttp };
  const proxy = pick("proxy", "POD_PROXY");
  if (proxy) {
    const [url, name] = proxy;
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      // said below
    }
    if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:")) {
      throw new UsageError(
        `${name} must be a proxy URL such as http://proxy.bank.example:3128, got ${quote(withoutCredentials(url), 200)}`,
      );
    }
    // NO_PROXY applies to a proxy given here too, as to one from HTTPS_PROXY.
    const noProxy = env.no_proxy || env.NO_PROXY;
    client.proxy = noProxy ? { ...proxyParts(parsed), noProxy } : url;
  } else if (config?.proxy) {
    client.proxy = {
      ...config.proxy,
      ...((env.no_proxy || env.NO_PROXY) && { noProxy: env.no_proxy || env.NO_PROXY }),
    };
  } else {
    // HTTPS_PROXY, HTTP_PROXY and NO_PROXY of this run's environment.
    const read = (name: string) => env[name.toLowerCase()] || env[name] || undefined;
    const httpsProxy = read("HTTPS_PROXY");
    const httpProxy = read("HTTP_PROXY");
    const chosen = httpsProxy ?? httpProxy;
    if (chosen !== undefined) {
      let parsed: URL;
      try {
        parsed = new URL(chosen);
      } catch {
        throw new UsageError(
          `${httpsProxy ? "HTTPS_PROXY" : "HTTP_PROXY"} is not a valid proxy URL: ${quote(withoutCredentials(chosen), 200)}`,
        );
      }
      const noProxy = read("NO_PROXY");
      client.proxy = { ...proxyParts(parsed), ...(noProxy && { noProxy }) };
    } else client.proxy = false;
  }
  const caFile = pick("ca-file", "POD_CA_FILE");
  if (caFile) {
    refusePath(caFile[0], caFile[1]);
    try {
      client.ca = readTrustStore(caFile[0], caFile[1]).toString();
    } catch (error) {
      throw new UsageError((error as Error).message.replace(`${caFile[1]}: ssl.trustStore.path: `, `${caFile[1]}: `));
    }
  } else if (config?.trustStore !== undefined) {
    try {
      client.ca = readTrustStore(config.trustStore, config.file);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const certificateFile = pick("certificate", "POD_CERTIFICATE_FILE");
  let certificate: ClientCertificate | undefined;
  if (certificateFile) {
    const [path, name] = certificateFile;
    refusePath(path, name);
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (error) {
      throw new UsageError(
        `${name}: cannot read ${quote(path, 200)} (${(error as NodeJS.ErrnoException).code ?? "error"})`,
      );
    }
    // The password never comes from a flag, where ps would show it.
    const password = env.POD_CERTIFICATE_PASSWORD;
    try {
      certificate = certificateFromBytes(data, name, password || undefined);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  } else if (config?.certificate) {
    try {
      const { path, content, password } = config.certificate;
      const data = content !== undefined ? Buffer.from(content, "utf8") : readFileSync(path as string);
      certificate = certificateFromBytes(
        data,
        `${config.file}: bot.certificate`,
        env.POD_CERTIFICATE_PASSWORD || password,
      );
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new UsageError(
        code ? `${config.file}: bot.certificate.path: cannot read it (${code})` : (error as Error).message,
      );
    }
  }
  const noProxy = env.no_proxy || env.NO_PROXY;
  const loginProxy =
    proxy || !config || JSON.stringify(config.sessionAuthProxy) === JSON.stringify(config.proxy)
      ? undefined
      : config.sessionAuthProxy
        ? { ...config.sessionAuthProxy, ...(noProxy && { noProxy }) }
        : false;
  const loginHost = authUrl?.[0] ?? (certificate ? config?.sessionAuthUrl : config?.loginUrl);
  return {
    configPodUrl: config?.podUrl,
    authUrl: loginHost,
    configUsername: config?.username,
    configPrivateKey: config?.privateKey,
    certificate,
    client,
    loginProxy,
    retry: config?.retry,
    timeoutMs: config?.timeoutMs,
    warnings: config?.warnings ?? [],
  };
}

function usage(message: string): UsageError {
  return new UsageError(message);
}

/** A key's or certificate's content given where a path is expected is refused without being quoted. */
function refusePath(path: string, name: string): void {
  try {
    refuseContentAsPath(path, name);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A proxy URL as parts, so that NO_PROXY can go with it (credentials percent-decoded, as undici reads them). */
function proxyParts(url: URL) {
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port) || (url.protocol === "https:" ? 443 : 80),
    protocol: url.protocol === "https:" ? ("https" as const) : ("http" as const),
    ...(url.username && { username: decodeURIComponent(url.username) }),
    ...(url.password && { password: decodeURIComponent(url.password) }),
  };
}
