/**
 * The session: the token (from the environment, or an RSA login done before anything is read) and the client.
 */
import type { SessionTokenProvider } from "../auth.js";
import { createPodClient, type PodClient } from "../client.js";
import { readPrivateKeyFile, rsaAuthentication } from "../rsa-auth.js";
import { type ApplyArgs, UsageError } from "./args.js";
import { printable } from "./text.js";

/**
 * The session token of a real run: `POD_SESSION_TOKEN`, or an RSA login with `--username` and `--private-key`.
 * The login happens now, before the input is read: a refused key is a usage error (exit 2), not a run of failed
 * calls. The token is never taken from the command line, where `ps` would show it.
 *
 * @example
 * ```ts
 * const token = await resolveSessionToken({ username: undefined, privateKey: undefined, podUrl: "https://acme.symphony.com/pod" }, process.env);
 * ```
 * @throws UsageError when there is no token, or the login is refused.
 */
export async function resolveSessionToken(
  args: Pick<ApplyArgs, "username" | "privateKey" | "podUrl"> & Partial<Pick<ApplyArgs, "maxAttempts">>,
  env: Record<string, string | undefined>,
): Promise<string | SessionTokenProvider> {
  const { username, privateKey: keyFile } = args;
  if (username || keyFile) {
    if (!username || !keyFile) throw new UsageError("RSA authentication needs both --username and --private-key");
    const privateKey = await readPrivateKeyFile(keyFile).catch((error: Error) => {
      throw new UsageError(`cannot use --private-key ${keyFile}: ${printable(error.message)}`);
    });
    const provider = rsaAuthentication({
      podUrl: args.podUrl as string,
      username,
      privateKey,
      ...(args.maxAttempts && { retry: { maxAttempts: args.maxAttempts } }),
    });
    let first: Promise<string> | undefined = provider();
    await first.catch((error: Error) => {
      throw new UsageError(`RSA authentication failed: ${printable(error.message)}`);
    });
    // Later logins get the client's context: its transport, trace id and user agent.
    return (context) => {
      const token = first ?? provider(context);
      first = undefined;
      return token;
    };
  }
  const token = env.POD_SESSION_TOKEN;
  if (!token) {
    throw new UsageError("no session token: set POD_SESSION_TOKEN, or use --username and --private-key (RSA)");
  }
  return token;
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
  args: Pick<ApplyArgs, "podUrl" | "maxAttempts"> & Partial<Pick<ApplyArgs, "maxRate" | "rate">>,
  sessionToken: string | SessionTokenProvider,
): PodClient {
  const rateLimit = {
    ...(args.maxRate !== undefined && { max: args.maxRate }),
    ...(args.rate !== undefined && { perSecond: args.rate }),
  };
  return createPodClient({
    baseUrl: args.podUrl ?? "http://dry-run.invalid/pod",
    sessionToken,
    ...(args.maxAttempts && { retry: { maxAttempts: args.maxAttempts } }),
    rateLimit,
  });
}
