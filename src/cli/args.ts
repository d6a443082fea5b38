/**
 * The command line: commands, options and their checks (their help is usage.ts). Everything wrong here is a
 * {@link UsageError} (exit 2, nothing sent).
 */
import { parseArgs } from "node:util";
import { checkTransportSecurity } from "../core/connection.js";
import { refuseContentAsPath } from "../core/rsa-auth.js";
import { quote } from "../core/text.js";
import { checkHttpUrl, withoutCredentials } from "../core/urls.js";
import { UsageError } from "../core/usage-error.js";
import { OPERATIONS, WRITE_OPERATIONS, WRITES } from "../operations/index.js";
import { type CliConnection, connectionOptions } from "./connection.js";
import { type GuardOptions, guardOptions } from "./guard-options.js";
import type { Operation } from "./input/readers.js";

/**
 * Exit codes: 0 all applied, 1 some did not apply (report written), 2 nothing sent (bad usage, input or login), 130 interrupted before sending.
 *
 * @example
 * ```ts
 * process.exitCode = EXIT.usage; // 2: nothing was sent
 * ```
 */
export const EXIT = { ok: 0, someFailed: 1, usage: 2, interrupted: 130 } as const;

// Bad usage or input found before anything was sent (exit 2): one class, shared with the simulator's command line.
export { UsageError };

/**
 * A command of the CLI: the bulk operation, its label in the plan, and the call it makes.
 *
 * @example
 * ```ts
 * const command: Command = COMMANDS["features apply"] as Command;
 * console.log(command.call); // "POST features/update"
 * ```
 */
export interface Command {
  words: string;
  operation: Operation;
  label: string;
  call: string;
}

/**
 * The commands by their two words.
 *
 * @example
 * ```ts
 * const operation = COMMANDS["apps patch"]?.operation; // "appsPatch"
 * ```
 */
export const COMMANDS: Record<string, Command> = Object.fromEntries(
  WRITE_OPERATIONS.map((name) => {
    const { method, path } = OPERATIONS[name];
    const { words, layout, label } = WRITES[name];
    const call = `${method.toUpperCase()} ${path.replace("/v1/admin/user/{uid}/", "")}`;
    return [words, { words, operation: layout, label, call }];
  }),
);

/**
 * The checked options of an apply command.
 *
 * @example
 * ```ts
 * const args = parseApplyArgs(["features", "apply", "users.csv", "--dry-run"], {}) as ApplyArgs;
 * console.log(args.concurrency); // 300
 * ```
 */
export interface ApplyArgs {
  command: Command;
  file: string;
  concurrency: number;
  maxAttempts: number | undefined;
  /** `--max-rate N` (or `POD_MAX_RATE`): a ceiling on the send rate, in calls per second. Default none. */
  maxRate: number | undefined;
  /** `--rate N` (or `POD_RATE`): the send rate to start at, in calls per second. Default: learned from 429s. */
  rate: number | undefined;
  format: "csv" | "jsonl" | undefined;
  podUrl: string | undefined;
  dryRun: boolean;
  report: string | undefined;
  username: string | undefined;
  privateKey: string | undefined;
  quiet: boolean;
  /** `--only-changes`: read each user first, write only where the item differs. */
  onlyChanges: boolean;
  /** `--journal FILE`: record each user's state before it is written, for `pod-admin undo`. */
  journal: string | undefined;
  /** `--save-plan PLAN` (a dry run, which then reads every user): write the plan and `PLAN.diff`. */
  savePlan: string | undefined;
  /** `--detailed-exitcode` (a dry run, which then reads every user): 0 nothing to do, 2 changes pending, 1 error. */
  detailedExitcode: boolean;
  /** How to reach the pod: config file, login host, certificate, proxy, CAs. */
  connect: CliConnection;
  /** `--max-changes`, `--yes`, `--skip-disabled`, `--exact` (guard-options.ts). */
  guards: GuardOptions;
  /** `-v`/`--verbose` (given `verbose` times) and `--log-file FILE` (or `POD_ADMIN_LOG`). */
  log: LogRequest;
}

/**
 * What a run logs: `-v` given `verbose` times (1: info on stderr, 2: debug), and the JSON Lines log file.
 *
 * @example
 * ```ts
 * const request: LogRequest = { verbose: 1, file: "run.log.jsonl" };
 * ```
 */
export interface LogRequest {
  verbose: number;
  file: string | undefined;
}

/**
 * Parses and checks an apply command line. Returns `"help"` for `--help` (or no arguments).
 *
 * @example
 * ```ts
 * const args = parseApplyArgs(["features", "apply", "users.csv", "--dry-run"], {});
 * ```
 * @throws UsageError for anything wrong.
 */
export function parseApplyArgs(argv: string[], env: Record<string, string | undefined>): ApplyArgs | "help" {
  const { values, positionals } = parseOptions(argv);
  if (values.help || argv.length === 0) return "help";
  const words = positionals.slice(0, 2).join(" ");
  const command = COMMANDS[words];
  if (!command) throw new UsageError(`unknown command ${quote(words)}`);
  const file = positionals[2];
  if (file === undefined || positionals.length > 3) {
    throw new UsageError("give exactly one input FILE (or - for standard input)");
  }
  refuseExportOptions(values);
  return checkApplyOptions(values, env, command, file);
}

/** `--all` and `--out` belong to export: elsewhere they would be silently ignored. */
function refuseExportOptions(values: { all?: boolean | undefined; out?: string | undefined }) {
  if (values.all) throw new UsageError("--all is an option of the export commands (e.g. features export --all)");
  if (values.out !== undefined) throw new UsageError("--out is an option of the export commands");
}

function checkApplyOptions(
  values: ReturnType<typeof parseOptions>["values"],
  env: Record<string, string | undefined>,
  command: Command,
  file: string,
): ApplyArgs {
  const concurrency = values.concurrency === undefined ? 300 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
    throw new UsageError(`--concurrency must be an integer from 1 to 1000, got ${quote(String(values.concurrency))}`);
  }
  const maxAttempts = values["max-attempts"] === undefined ? undefined : Number(values["max-attempts"]);
  if (maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100)) {
    throw new UsageError(
      `--max-attempts must be an integer from 1 to 100, got ${quote(String(values["max-attempts"]))}`,
    );
  }
  if (values.format !== undefined && values.format !== "csv" && values.format !== "jsonl") {
    throw new UsageError(`--format must be csv or jsonl, got ${quote(values.format)}`);
  }
  const { maxRate, rate } = checkRates(values, env);
  const dryRun = values["dry-run"] === true;
  const connect = connectionOptions(values, env);
  const podUrl = values.pod ?? env.POD_URL ?? connect.configPodUrl;
  const podFrom = values.pod !== undefined ? "--pod" : env.POD_URL !== undefined ? "POD_URL" : "the config file's pod";
  if (podUrl !== undefined) checkPodUrl(podUrl, podFrom, connect.client.insecureHttp === true);
  const privateKeyFrom = values["private-key"] !== undefined ? "--private-key" : "POD_PRIVATE_KEY_FILE";
  const privateKey = values["private-key"] ?? env.POD_PRIVATE_KEY_FILE;
  if (privateKey !== undefined) {
    try {
      refuseContentAsPath(privateKey, privateKeyFrom);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const savePlan = values["save-plan"];
  const detailedExitcode = values["detailed-exitcode"] === true;
  // Both say what a run would change, which only a dry run that reads every user knows.
  if (savePlan !== undefined && !dryRun) {
    throw new UsageError(
      "--save-plan writes the plan of a dry run: add --dry-run (then apply the plan: pod-admin … PLAN)",
    );
  }
  if (detailedExitcode && !dryRun) {
    throw new UsageError("--detailed-exitcode says whether a dry run has changes pending: add --dry-run");
  }
  const onlyChanges = values["only-changes"] === true || savePlan !== undefined || detailedExitcode;
  if (dryRun && values.journal !== undefined) {
    throw new UsageError("--journal records the state before each write, and a dry run writes nothing: drop one");
  }
  const guards = guardOptions(values, env, command.operation);
  // Reading what users hold needs the pod, even in a dry run.
  if ((!dryRun || onlyChanges || values.journal !== undefined || guards.exact) && !podUrl) {
    throw new UsageError(
      `--pod URL is required (or set POD_URL)${dryRun ? ": --only-changes, --journal, --exact, --save-plan and --detailed-exitcode read the users' state" : ""}`,
    );
  }
  return {
    command,
    file,
    concurrency,
    maxAttempts,
    maxRate,
    rate,
    format: values.format as "csv" | "jsonl" | undefined,
    podUrl,
    dryRun,
    report: values.report,
    username: values.username ?? env.POD_USERNAME ?? connect.configUsername,
    privateKey: privateKey ?? connect.configPrivateKey?.path,
    quiet: values.quiet === true,
    onlyChanges,
    journal: values.journal,
    savePlan,
    detailedExitcode,
    connect,
    log: { verbose: values.verbose?.length ?? 0, file: values["log-file"] ?? (env.POD_ADMIN_LOG || undefined) },
    guards,
  };
}

/** `--max-rate` and `--rate` (or POD_MAX_RATE, POD_RATE): calls per second > 0, the start not above the ceiling. */
function checkRates(
  values: { "max-rate"?: string | undefined; rate?: string | undefined },
  env: Record<string, string | undefined>,
): { maxRate: number | undefined; rate: number | undefined } {
  const read = (option: "max-rate" | "rate", variable: string) => {
    const text = values[option] ?? env[variable];
    if (text === undefined || (values[option] === undefined && text.trim() === "")) return undefined;
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value) || value <= 0 || value > 1_000_000) {
      const name = values[option] === undefined ? variable : `--${option}`;
      throw new UsageError(`${name} must be a number of calls per second > 0, got ${quote(text)}`);
    }
    return value;
  };
  const maxRate = read("max-rate", "POD_MAX_RATE");
  const rate = read("rate", "POD_RATE");
  if (maxRate !== undefined && rate !== undefined && rate > maxRate) {
    throw new UsageError(`--rate ${rate} is above --max-rate ${maxRate}: start at most at the ceiling`);
  }
  return { maxRate, rate };
}

/**
 * Parses `pod-admin undo FILE [options]`: the apply options; the command comes from the journal's first line.
 *
 * @example
 * ```ts
 * const undo = parseUndoArgs(["undo", "journal.jsonl", "--dry-run", "--pod", "https://acme.symphony.com/pod"], {});
 * ```
 * @throws UsageError for anything wrong.
 */
export function parseUndoArgs(
  argv: string[],
  env: Record<string, string | undefined>,
): { journalFile: string; options: (command: Command, file: string) => ApplyArgs } | "help" {
  const { values, positionals } = parseOptions(argv);
  if (values.help) return "help";
  const journalFile = positionals[1];
  if (journalFile === undefined || positionals.length > 2) {
    throw new UsageError("give exactly one journal FILE (written by --journal)");
  }
  refuseExportOptions(values);
  if (values.format !== undefined) throw new UsageError("--format does not apply to undo: a journal is JSON Lines");
  if (values.exact) throw new UsageError("--exact does not apply to undo: a journal restores the states it recorded");
  // Checked now (exit 2 before the journal is read); the command is known once its first line is.
  checkApplyOptions(values, env, COMMANDS["features apply"] as Command, journalFile);
  return { journalFile, options: (command, file) => checkApplyOptions(values, env, command, file) };
}

/**
 * The checked options of an export command.
 *
 * @example
 * ```ts
 * const args = parseExportArgs(["features", "export", "--all", "--pod", "https://acme.symphony.com/pod"], {}) as ExportArgs;
 * console.log(args.operation); // "features"
 * ```
 */
export interface ExportArgs {
  /** What to export, as the apply layout it is written in: `features`, `delegates` or `appsReplace`. */
  operation: Operation;
  /** How to reach the pod: config file, login host, certificate, proxy, CAs. */
  connect: CliConnection;
  /** The file naming the users (a `uid`, `email` or `username` column); undefined with `--all`. */
  file: string | undefined;
  all: boolean;
  out: string | undefined;
  format: "csv" | "jsonl";
  concurrency: number;
  maxAttempts: number | undefined;
  /** `--max-rate N` (or `POD_MAX_RATE`): a ceiling on the send rate, in calls per second. Default none. */
  maxRate: number | undefined;
  /** `--rate N` (or `POD_RATE`): the send rate to start at, in calls per second. Default: learned from 429s. */
  rate: number | undefined;
  podUrl: string | undefined;
  username: string | undefined;
  privateKey: string | undefined;
  quiet: boolean;
  /** `-v`/`--verbose` and `--log-file FILE` (or `POD_ADMIN_LOG`). */
  log: LogRequest;
}

/**
 * The export commands by their two words, and the apply layout each writes.
 *
 * @example
 * ```ts
 * EXPORTS["apps export"]; // "appsReplace"
 * ```
 */
export const EXPORTS: Record<string, Operation> = Object.fromEntries(
  WRITE_OPERATIONS.flatMap((name) => {
    const { export: exported, layout } = WRITES[name];
    return exported === undefined ? [] : [[exported.words, layout]];
  }),
);

/**
 * Parses and checks an export command line. Returns `"help"` for `--help`.
 *
 * @example
 * ```ts
 * const args = parseExportArgs(["delegates", "export", "users.csv", "--out", "delegates.csv"], { POD_URL: "https://acme.symphony.com/pod" });
 * ```
 * @throws UsageError for anything wrong.
 */
export function parseExportArgs(argv: string[], env: Record<string, string | undefined>): ExportArgs | "help" {
  const { values, positionals } = parseOptions(argv);
  if (values.help) return "help";
  const operation = EXPORTS[positionals.slice(0, 2).join(" ")] as Operation;
  const file = positionals[2];
  const all = values.all === true;
  if (positionals.length > 3) throw new UsageError("give at most one FILE naming the users");
  if (all === (file !== undefined)) {
    throw new UsageError("name the users: a FILE with a uid, email or username column, or --all for every user");
  }
  for (const option of ["dry-run", "report", "only-changes", "journal", "save-plan", "detailed-exitcode"] as const) {
    if (values[option] !== undefined) throw new UsageError(`--${option} does not apply to export`);
  }
  const applied = checkApplyOptions(
    { ...values, format: undefined },
    env,
    COMMANDS["features apply"] as Command,
    file ?? "",
  );
  if (values.format !== undefined && values.format !== "csv" && values.format !== "jsonl") {
    throw new UsageError(`--format must be csv or jsonl, got ${quote(values.format)}`);
  }
  const format = (values.format ?? (values.out && /\.(jsonl|ndjson|json)$/i.test(values.out) ? "jsonl" : "csv")) as
    | "csv"
    | "jsonl";
  return {
    operation,
    file,
    all,
    out: values.out,
    format,
    concurrency: applied.concurrency,
    maxAttempts: applied.maxAttempts,
    maxRate: applied.maxRate,
    rate: applied.rate,
    podUrl: applied.podUrl,
    username: applied.username,
    privateKey: applied.privateKey,
    quiet: applied.quiet,
    connect: applied.connect,
    log: applied.log,
  };
}

/**
 * The pod's base URL must be an http(s) URL with no query, no fragment and no `user:password@` (the pod is
 * authenticated by the session token; a password there would end up in logs). Messages show the URL without
 * its credentials.
 */
function checkPodUrl(url: string, name: string, insecureHttp: boolean): void {
  const usage = (message: string) => new UsageError(message);
  const checked = checkHttpUrl(url, name, usage, (safe) => quote(safe, 200));
  checkTransportSecurity(checked, name, insecureHttp, "--insecure-http (or POD_INSECURE_HTTP=1)", usage);
}

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        pod: { type: "string" },
        concurrency: { type: "string" },
        "max-attempts": { type: "string" },
        "max-rate": { type: "string" },
        rate: { type: "string" },
        "dry-run": { type: "boolean" },
        report: { type: "string" },
        format: { type: "string" },
        username: { type: "string" },
        "private-key": { type: "string" },
        quiet: { type: "boolean" },
        "only-changes": { type: "boolean" },
        journal: { type: "string" },
        "save-plan": { type: "string" },
        "detailed-exitcode": { type: "boolean" },
        exact: { type: "boolean" },
        "max-changes": { type: "string" },
        yes: { type: "boolean" },
        "skip-disabled": { type: "boolean" },
        all: { type: "boolean" },
        out: { type: "string" },
        config: { type: "string" },
        "auth-url": { type: "string" },
        "ca-file": { type: "string" },
        proxy: { type: "string" },
        certificate: { type: "string" },
        "insecure-http": { type: "boolean" },
        verbose: { type: "boolean", short: "v", multiple: true },
        "log-file": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    // Node's message quotes the argument: a pasted --pod=https://user:pw@host must not come back whole.
    throw new UsageError(withoutCredentials((error as Error).message).replace(/\/\/[^\s'"/]*@/g, "//"));
  }
}
