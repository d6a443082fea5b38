/**
 * The simulated pod's command line, `pod-admin simulate` (and `npx tsx src/simulator/main.ts`, the standalone
 * process): its options, usage text and run loop. Importing this module runs nothing; src/simulator/main.ts is the
 * entry point that calls {@link runSimulatorCli}. The first stdout line is machine-readable (`listening <url>`), for
 * benchmarks and scripts that spawn it.
 */

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { UsageError } from "../core/usage-error.js";
import { readDirectoryFile } from "./directory-file.js";
import { latencyRange, type SimulatorFaults } from "./faults.js";
import { uidKey } from "./ids.js";
import { DEFAULT_SIMULATOR_TOKEN, type SimulatedPodOptions, startSimulatedPod } from "./pod.js";
import { checkRateLimit } from "./ratelimit.js";

/**
 * Usage text of the standalone simulator.
 *
 * @example
 * ```ts
 * console.log(SIMULATOR_USAGE);
 * ```
 */
export const SIMULATOR_USAGE = `Usage: pod-admin simulate [options]

Runs a simulated Symphony pod on loopback until Ctrl-C. Prints "listening <url>" and "token <sessionToken>".
GET <origin>/__simulator/stats answers the counters as JSON (the simulator's own route, not the Pod API's).

Options:
  --port N                  port to listen on (default: a free port)
  --host HOST               interface (default 127.0.0.1)
  --token TOKEN             session token to accept (default ${DEFAULT_SIMULATOR_TOKEN})
  --expire-token-after N    each session token serves N requests, then gets 401
  --rate-limit SHARE        share of requests answered 429 at random (0..1)
  --retry-after SECONDS     Retry-After of those 429s (default 1)
  --rate-limit-per-second N
                            admit N user-admin calls a second for the whole pod, answer the rest 429
                            with a whole-second Retry-After (login is not counted)
  --rate-window MS          window of that limit (default 1000): N × MS / 1000 calls per window
  --rate-algorithm ALG      fixed-window (default; windows aligned to the clock) or token-bucket
                            (holds N × MS / 1000 calls, refilled at N a second)
  --rate-changes S:N,...    change that limit to N calls a second S seconds after its first call,
                            e.g. 10:300,20:1000 (GET <origin>/__simulator/timeline shows the run)
  --server-error SHARE      share of requests answered 503 (0..1)
  --drop SHARE              share of connections dropped without an answer (0..1)
  --latency MS|MIN-MAX      delay before each answer, fixed or a range
  --seed N                  seed of the fault PRNG (default 1)
  --features A,B,...        feature names the pod knows (features/list)
  --strict-features         refuse unknown feature names with 400
  --users A,B,...|FROM-TO   the pod's users; other uids get 404 (default: any uid). Each has the
                            synthetic directory entry: email user.<uid>@example.com, username user.<uid>
  --directory FILE          the pod's users with their directory entries, for GET /v3/users (lookup by
                            uid, email or username) and GET /v2/admin/user/list; other uids get 404.
                            CSV with a header (uid,email required; username, displayName, status
                            optional) or JSON Lines (.jsonl) with the same keys. Not with --users.
                            Without either, any uid is a user and user.<uid>@example.com finds it
  --login-public-key FILE   PEM public key to verify login JWTs with (default: accept any well-formed JWT)
  --https                   serve HTTPS with a test CA generated at start, and the certificate login
                            (POST /sessionauth/v1/authenticate) over mutual TLS on a second port
  --ca-cert FILE --ca-key FILE
                            serve HTTPS with this CA instead (PEM); implies --https
  --tls-dir DIR             with --https: write DIR/ca.pem (to trust) and a client certificate for
                            --client-user (DIR/<user>.p12, password changeit; DIR/<user>.pem with its key)
  --client-user NAME        the certificate login's service account (default bot)
  -h, --help                this text

Example:
  pod-admin simulate --port 8443 --users 1-1000 --rate-limit-per-second 50
  then, in another terminal: POD_SESSION_TOKEN=<token> pod-admin features export --all --pod <url>`;

/**
 * Where the standalone simulator writes, and what stops it; defaults are the process's streams and SIGINT/SIGTERM.
 * Shaped so the `pod-admin` CLI can pass its own io object.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * const done = runSimulatorCli(["--port", "0"], { stdout: process.stdout, interrupt: stop.signal });
 * stop.abort();
 * await done;
 * ```
 */
export interface SimulatorCliIo {
  /** Where the ready lines go. Default `process.stdout`. */
  stdout?: {
    /** Writes `text` as it is (lines end in a newline). */
    write(text: string): unknown;
  };
  /** Where notes and the final counters go. Default `process.stderr`. */
  stderr?: {
    /** Writes `text` as it is (lines end in a newline). */
    write(text: string): unknown;
  };
  /** Stops the simulator when aborted. Default: SIGINT or SIGTERM. */
  interrupt?: AbortSignal | undefined;
}

/**
 * Parses the simulator's command line into {@link startSimulatedPod} options. Returns `"help"` for `--help`.
 *
 * @example
 * ```ts
 * const options = await parseSimulatorArgs(["--port", "8443", "--rate-limit", "0.1", "--seed", "7"]);
 * // { port: 8443, faults: { rateLimit: 0.1, seed: 7 } }
 * await parseSimulatorArgs(["--rate-limit-per-second", "1500", "--rate-window", "100"]);
 * // { rateLimit: { perSecond: 1500, windowMs: 100 } }
 * await parseSimulatorArgs(["--directory", "users.csv"]);
 * // { directory: [{ uid: "7215545057281", email: "ada@example.com", username: "ada" }, …] }
 * ```
 * @throws UsageError with a message for the person at the terminal, for an unknown flag, a bad value, or a
 * `--directory` file that cannot be read or breaks a rule (naming `file:line`).
 */
export async function parseSimulatorArgs(argv: readonly string[]): Promise<SimulatedPodOptions | "help"> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        token: { type: "string" },
        "expire-token-after": { type: "string" },
        "rate-limit": { type: "string" },
        "retry-after": { type: "string" },
        "rate-limit-per-second": { type: "string" },
        "rate-window": { type: "string" },
        "rate-algorithm": { type: "string" },
        "rate-changes": { type: "string" },
        "server-error": { type: "string" },
        drop: { type: "string" },
        latency: { type: "string" },
        seed: { type: "string" },
        features: { type: "string" },
        "strict-features": { type: "boolean" },
        users: { type: "string" },
        directory: { type: "string" },
        "login-public-key": { type: "string" },
        https: { type: "boolean" },
        "ca-cert": { type: "string" },
        "ca-key": { type: "string" },
        "tls-dir": { type: "string" },
        "client-user": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return "help";
  const text = (name: string) => values[name] as string | undefined;
  const options: SimulatedPodOptions = {};
  const port = integer(text("port"), "--port");
  if (port !== undefined) options.port = port;
  if (text("host") !== undefined) options.host = text("host");
  if (text("token") !== undefined) options.sessionToken = text("token");
  const expire = integer(text("expire-token-after"), "--expire-token-after");
  if (expire !== undefined) options.expireTokenAfterRequests = expire;
  const faults: SimulatorFaults = {};
  const shares = { "rate-limit": "rateLimit", "server-error": "serverError", drop: "dropConnection" } as const;
  for (const [flag, key] of Object.entries(shares)) {
    const value = number(text(flag), `--${flag}`);
    if (value !== undefined) faults[key] = value;
  }
  const retryAfter = number(text("retry-after"), "--retry-after");
  if (retryAfter !== undefined) faults.retryAfterSeconds = retryAfter;
  const latency = text("latency");
  if (latency !== undefined) faults.latencyMs = latencyOption(latency);
  const seed = integer(text("seed"), "--seed");
  if (seed !== undefined) faults.seed = seed;
  if (Object.keys(faults).length > 0) options.faults = faults;
  const rateLimit = rateLimitOptions(text);
  if (rateLimit !== undefined) options.rateLimit = rateLimit;
  const features = text("features");
  if (features !== undefined) options.availableFeatures = list(features);
  if (values["strict-features"]) options.strictFeatures = true;
  const users = text("users");
  if (users !== undefined) options.users = userList(users);
  const directory = text("directory");
  if (directory !== undefined) {
    if (users !== undefined) throw new UsageError("--users and --directory both name the pod's users: give one");
    options.directory = await readDirectoryFile(directory);
  }
  const keyFile = text("login-public-key");
  if (keyFile !== undefined) {
    try {
      options.login = { publicKey: await readFile(keyFile, "utf8") };
    } catch (error) {
      throw new UsageError(`--login-public-key: cannot read ${keyFile}: ${(error as Error).message}`);
    }
  }
  const caCert = text("ca-cert");
  const caKey = text("ca-key");
  if ((caCert === undefined) !== (caKey === undefined)) throw new UsageError("--ca-cert and --ca-key go together");
  if (caCert !== undefined && caKey !== undefined) {
    try {
      options.tls = { ca: { cert: await readFile(caCert, "utf8"), key: await readFile(caKey, "utf8") } };
    } catch (error) {
      throw new UsageError(`--ca-cert/--ca-key: cannot read them: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
    }
  } else if (values.https) options.tls = true;
  if ((text("tls-dir") !== undefined || text("client-user") !== undefined) && options.tls === undefined) {
    throw new UsageError("--tls-dir and --client-user need --https (or --ca-cert and --ca-key)");
  }
  return options;
}

/**
 * Runs the simulated pod until SIGINT/SIGTERM (or `io.interrupt`), printing `listening <url>` and `token <token>` on
 * stdout once ready, and the counters on stderr when stopping. `pod-admin simulate` runs this. Resolves to the exit code: 0 after a clean stop,
 * 1 when the server cannot start, 2 for bad usage.
 *
 * @example
 * ```ts
 * process.exitCode = await runSimulatorCli(process.argv.slice(2));
 * ```
 */
export async function runSimulatorCli(argv: readonly string[], io: SimulatorCliIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const out = (line: string) => stdout.write(`${line}\n`);
  const err = (line: string) => stderr.write(`${line}\n`);
  let options: SimulatedPodOptions | "help";
  try {
    options = await parseSimulatorArgs(argv);
  } catch (error) {
    err(`simulate: ${(error as Error).message}`);
    err("Run with --help for the options.");
    return 2;
  }
  if (options === "help") {
    out(SIMULATOR_USAGE);
    return 0;
  }
  let pod: Awaited<ReturnType<typeof startSimulatedPod>>;
  try {
    pod = await startSimulatedPod(options);
  } catch (error) {
    const usage = error instanceof RangeError || error instanceof TypeError;
    err(`simulate: ${(error as Error).message}`);
    return usage ? 2 : 1;
  }
  out(`listening ${pod.url}`);
  out(`token ${pod.currentToken()}`);
  if (pod.sessionAuthUrl !== undefined) {
    out(`sessionauth ${pod.sessionAuthUrl}`);
    const dir = argValue(argv, "--tls-dir");
    if (dir !== undefined) {
      const user = argValue(argv, "--client-user") ?? "bot";
      const bot = pod.issueClientCertificate(user);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, "ca.pem"), pod.ca as string);
      await writeFile(join(dir, `${user}.p12`), bot.pfx, { mode: 0o600 });
      await writeFile(join(dir, `${user}.pem`), `${bot.cert}${bot.key}`, { mode: 0o600 });
      out(`ca ${join(dir, "ca.pem")}`);
    }
  }
  err(`Simulated pod at ${pod.url} (login at ${pod.origin}/login/pubkey/authenticate). Ctrl-C to stop.`);
  await stopped(io.interrupt);
  await pod.close();
  const stats = pod.stats();
  const limiter = options.rateLimit === undefined ? "" : `, rate limiter ${JSON.stringify(stats.rateLimiter)}`;
  err(
    `stopped: ${stats.requests} requests, by status ${JSON.stringify(stats.byStatus)}, faults ${JSON.stringify(stats.faults)}${limiter}, ` +
      `${stats.writes} writes, ${stats.tokenExpiries} token expiries, ${stats.logins} logins, ` +
      `by operation ${JSON.stringify(Object.fromEntries(Object.entries(stats.byOperation).filter(([, n]) => n > 0)))}`,
  );
  return 0;
}

function stopped(signal: AbortSignal | undefined): Promise<void> {
  if (signal !== undefined) {
    return new Promise((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
  }
  return new Promise((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve();
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}

const RATE_FLAGS = {
  perSecond: "--rate-limit-per-second",
  windowMs: "--rate-window",
  algorithm: "--rate-algorithm",
  changes: "--rate-changes",
} as const;

/** The `--rate-*` flags as the `rateLimit` option, checked by the simulator's own rules but naming the flags. */
function rateLimitOptions(text: (name: string) => string | undefined): SimulatedPodOptions["rateLimit"] {
  const perSecond = number(text("rate-limit-per-second"), RATE_FLAGS.perSecond);
  const windowMs = integer(text("rate-window"), RATE_FLAGS.windowMs);
  const algorithm = text("rate-algorithm");
  const changes = text("rate-changes");
  if (perSecond === undefined) {
    if (windowMs !== undefined || algorithm !== undefined || changes !== undefined) {
      const flag =
        windowMs !== undefined
          ? RATE_FLAGS.windowMs
          : algorithm !== undefined
            ? RATE_FLAGS.algorithm
            : RATE_FLAGS.changes;
      throw new UsageError(`${flag} needs ${RATE_FLAGS.perSecond}`);
    }
    return undefined;
  }
  const rateLimit: NonNullable<SimulatedPodOptions["rateLimit"]> = { perSecond };
  if (windowMs !== undefined) rateLimit.windowMs = windowMs;
  if (algorithm !== undefined) rateLimit.algorithm = algorithm as typeof rateLimit.algorithm;
  if (changes !== undefined) {
    rateLimit.changes = changes.split(",").map((part) => {
      const [after, rate, extra] = part.split(":");
      if (extra !== undefined || !after?.trim() || !rate?.trim()) {
        throw new UsageError(
          `${RATE_FLAGS.changes} takes SECONDS:PER_SECOND pairs such as 10:300,20:1000, got ${part}`,
        );
      }
      return { afterSeconds: Number(after), perSecond: Number(rate) };
    });
  }
  try {
    checkRateLimit(rateLimit, RATE_FLAGS);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return rateLimit;
}

function number(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n))
    throw new UsageError(`${flag} expects a number, got ${JSON.stringify(value)}`);
  return n;
}

function integer(value: string | undefined, flag: string): number | undefined {
  const n = number(value, flag);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${flag} expects an integer, got ${value}`);
  return n;
}

/** `--latency MS|MIN-MAX` as `faults.latencyMs`, by the fault settings' own rule but naming the flag. */
function latencyOption(value: string): number | [number, number] {
  try {
    const [min, max] = latencyRange(value, "--latency");
    return min === max ? min : [min, max];
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

function userList(value: string): bigint[] {
  const range = /^(\d+)-(\d+)$/.exec(value.trim());
  if (range) {
    const [from, to] = [userId(range[1] as string, "--users FROM"), userId(range[2] as string, "--users TO")];
    if (to < from || to - from > 10_000_000n)
      throw new UsageError("--users FROM-TO must be an ascending range of at most 10,000,000 users");
    const users: bigint[] = [];
    for (let uid = from; uid <= to; uid++) users.push(uid);
    return users;
  }
  return list(value).map((uid) => userId(uid, "--users"));
}

/** A user id of the command line: a positive int64, as the client takes them. */
function userId(text: string, flag: string): bigint {
  const key = uidKey(text);
  if (key === undefined) throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a user id (a positive int64)`);
  return BigInt(key);
}

/** A flag's value as given (`--flag value` or `--flag=value`); the parse above has checked it. */
function argValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === flag) return argv[i + 1];
    if (arg.startsWith(`${flag}=`)) return arg.slice(flag.length + 1);
  }
  return undefined;
}
