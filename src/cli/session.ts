/**
 * The session: the token (from the environment, or a login done before anything is read: RSA, or a client
 * certificate) and the client, with the connection settings of the run (proxy, CAs, config file).
 */
import type { KeyObject } from "node:crypto";
import { createPodClient, type PodClient } from "../api/client.js";
import { type SessionTokenContext, type SessionTokenProvider, sessionTokenProblem } from "../core/auth.js";
import { certificateAuthentication } from "../core/certificate-auth.js";
import { resolveConnection, withClientCertificate } from "../core/connection.js";
import { loginLane } from "../core/http.js";
import { createPodLog, type Logger, type LogLevel } from "../core/log.js";
import { DEFAULT_RETRY, resolveRetry } from "../core/retry.js";
import { readPrivateKeyFile, rsaAuthentication } from "../core/rsa-auth.js";
import { printable } from "../core/text.js";
import { type Transport, undiciTransport } from "../core/transport.js";
import { type ApplyArgs, UsageError } from "./args.js";

/** Asks a question on the terminal without echoing the answer (a passphrase). */
export type AskSecret = (question: string) => Promise<string>;

/**
 * The session token of a real run: `POD_SESSION_TOKEN`, an RSA login with `--username` and `--private-key`, or a
 * certificate login with `--certificate` (or the login a `--config` file describes). The login happens now, before
 * the input is read, over the run's connections (proxy, CAs; redirects refused): a refused login is a usage error
 * (exit 2), not a run of failed calls. The token is never taken from the command line, where `ps` would show it.
 *
 * @example
 * ```ts
 * const token = await resolveSessionToken({ username: undefined, privateKey: undefined, podUrl: "https://acme.symphony.com/pod" }, process.env);
 * ```
 * @throws UsageError when there is no token, or the login is refused.
 */
export async function resolveSessionToken(
  args: Pick<ApplyArgs, "username" | "privateKey" | "podUrl"> & Partial<Pick<ApplyArgs, "maxAttempts" | "connect">>,
  env: Record<string, string | undefined>,
  askSecret?: AskSecret,
  log?: { logger: Logger; logLevel: LogLevel },
): Promise<string | SessionTokenProvider> {
  const { username, privateKey: keyFile, connect } = args;
  const keyContent = keyFile === undefined ? connect?.configPrivateKey?.content : undefined;
  const retry = {
    ...connect?.retry,
    ...(args.maxAttempts && { maxAttempts: args.maxAttempts }),
  };
  const hasRetry = Object.keys(retry).length > 0;
  const insecureHttp = connect?.client.insecureHttp === true;
  let provider: ((context?: SessionTokenContext) => Promise<string>) | undefined;
  let kind = "RSA authentication";
  if (connect?.certificate && !(keyFile && username)) {
    kind = "Certificate login";
    try {
      provider = certificateAuthentication({
        sessionAuthUrl: connect.authUrl ?? loginHost(args.podUrl),
        ...connect.certificate,
        // The config file's sessionAuth.proxy, when it differs from the pod's.
        ...(connect.loginProxy !== undefined && { proxy: connect.loginProxy, ca: connect.client.ca }),
        insecureHttp,
        ...(hasRetry && { retry }),
      });
    } catch (error) {
      throw new UsageError(`cannot use the certificate: ${printable((error as Error).message)}`);
    }
  } else if (username || keyFile || keyContent) {
    if (!username || !(keyFile || keyContent)) {
      throw new UsageError("RSA authentication needs both --username and --private-key");
    }
    const key = await readKey(keyFile, keyContent, env, askSecret);
    try {
      provider = rsaAuthentication({
        ...(connect?.authUrl ? { authUrl: connect.authUrl } : { podUrl: args.podUrl as string }),
        username,
        ...key,
        insecureHttp,
        ...(hasRetry && { retry }),
      });
    } catch (error) {
      // Never the key itself: rsaAuthentication's messages name the problem only.
      throw new UsageError(`cannot use the private key: ${printable((error as Error).message)}`);
    }
  }
  if (provider) {
    // The first login goes over the run's own connections (proxy, CAs, certificate), through the same pipeline
    // as the client's: redirects refused, TLS failures named.
    const connection = resolveConnection(connect?.client ?? { proxy: false }, env);
    const transport = undiciTransport(connection);
    const defaults = {
      retry: resolveRetry(DEFAULT_RETRY, hasRetry ? retry : undefined, "retry"),
      timeoutMs: connect?.timeoutMs ?? 30_000,
    };
    let certificateLane: Transport | undefined;
    const podLog = log && createPodLog(log.logger, log.logLevel);
    const certificateTransport = (certificate: Parameters<typeof withClientCertificate>[1]) => {
      certificateLane = undiciTransport(withClientCertificate(connection, certificate));
      return certificateLane;
    };
    const lane = loginLane(transport, defaults, certificateTransport, undefined, podLog);
    let first: Promise<string> | undefined = provider(lane);
    try {
      await first;
    } catch (error) {
      throw new UsageError(`${kind} failed: ${printable((error as Error).message)}`);
    } finally {
      await Promise.all([transport.close(), certificateLane?.close()]);
    }
    // Later logins get the client's context: its transport, trace id and user agent.
    const login = provider;
    return (context) => {
      const token = first ?? login(context);
      first = undefined;
      return token;
    };
  }
  const token = env.POD_SESSION_TOKEN;
  if (!token) {
    throw new UsageError(
      "no session token: set POD_SESSION_TOKEN, use --username and --private-key (RSA), --certificate, or --config",
    );
  }
  const problem = sessionTokenProblem(token);
  if (problem) throw new UsageError(`POD_SESSION_TOKEN ${problem}`);
  return token;
}

/** The login host when neither --auth-url nor the config file names one: the pod's, without `/pod`. */
function loginHost(podUrl: string | undefined): string {
  return (podUrl ?? "").replace(/\/+$/, "").replace(/\/pod$/, "");
}

/**
 * The RSA key from its file, or the config file's content as it is (rsaAuthentication checks it); an encrypted
 * one is opened with POD_PRIVATE_KEY_PASSPHRASE, else a passphrase asked on the terminal.
 */
async function readKey(
  path: string | undefined,
  content: string | undefined,
  env: Record<string, string | undefined>,
  askSecret: AskSecret | undefined,
): Promise<{ privateKey: KeyObject | string; passphrase?: string }> {
  let passphrase = env.POD_PRIVATE_KEY_PASSPHRASE || undefined;
  if (path === undefined) {
    if (passphrase === undefined && askSecret && /ENCRYPTED/.test(content ?? "")) {
      passphrase = await askSecret("Passphrase of the private key: ");
    }
    return { privateKey: content as string, ...(passphrase !== undefined && { passphrase }) };
  }
  for (let asked = false; ; asked = true) {
    try {
      return { privateKey: await readPrivateKeyFile(path, passphrase) };
    } catch (error) {
      const message = (error as Error).message;
      if (!asked && passphrase === undefined && askSecret && /is encrypted: give its passphrase/.test(message)) {
        passphrase = await askSecret("Passphrase of the private key: ");
        continue;
      }
      throw new UsageError(`cannot use --private-key ${printable(path)}: ${printable(message)}`);
    }
  }
}

/**
 * The client of a run; a dry run's sends nothing and needs no pod URL. `--max-rate` and `--rate` are its
 * `rateLimit` (`max`, `perSecond`).
 *
 * @example
 * ```ts
 * const dryRun = podClient({ podUrl: undefined, maxAttempts: undefined }, "dry-run");
 * const gentle = podClient({ podUrl: "https://acme.symphony.com/pod", maxAttempts: undefined, maxRate: 200 }, token);
 * ```
 */
export function podClient(
  args: Pick<ApplyArgs, "podUrl" | "maxAttempts"> & Partial<Pick<ApplyArgs, "connect" | "maxRate" | "rate">>,
  sessionToken: string | SessionTokenProvider,
  log?: { logger: Logger; logLevel: LogLevel },
): PodClient {
  const { connect } = args;
  const retry = { ...connect?.retry, ...(args.maxAttempts && { maxAttempts: args.maxAttempts }) };
  const rateLimit = {
    ...(args.maxRate !== undefined && { max: args.maxRate }),
    ...(args.rate !== undefined && { perSecond: args.rate }),
  };
  return createPodClient({
    // A dry run without a pod sends nothing: its placeholder needs no TLS.
    baseUrl: args.podUrl ?? "http://dry-run.invalid/pod",
    sessionToken,
    ...(Object.keys(retry).length > 0 && { retry }),
    rateLimit,
    ...(connect?.timeoutMs !== undefined && { timeoutMs: connect.timeoutMs }),
    ...(connect?.client ?? { proxy: false }),
    ...(args.podUrl === undefined && { insecureHttp: true }),
    ...(log && { logger: log.logger, logLevel: log.logLevel }),
  });
}
