/**
 * The command line: commands, options, their checks and the usage text. Everything wrong here is a
 * {@link UsageError} (exit 2, nothing sent). Just over 450 lines: the options and their checks are one table.
 */
import { parseArgs } from "node:util";
import { checkTransportSecurity } from "../core/connection.js";
import { refuseContentAsPath } from "../core/rsa-auth.js";
import { quote } from "../core/text.js";
import { checkHttpUrl, withoutCredentials } from "../core/urls.js";
import { UsageError } from "../core/usage-error.js";
import { OPERATIONS, WRITE_OF_LAYOUT, WRITE_OPERATIONS, WRITES } from "../operations/index.js";
import { type CliConnection, connectionOptions } from "./connection.js";
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

/** The commands' lines of the help, from each write's declared help (operations/*.ts). */
function commandsHelp(): string {
  const writes = WRITE_OPERATIONS.map((name) => WRITES[name]);
  const apply = writes.map(
    ({ words, help }) => `  ${`${words} FILE`.padEnd(22)} ${help.does.padEnd(31)} CSV: ${help.columns}`,
  );
  const exports = writes.flatMap(({ export: exported, help }) =>
    exported === undefined ? [] : [`  ${`${exported.words} [FILE|--all]`.padEnd(30)} ${help.exports ?? ""}`],
  );
  return [...apply, ...exports].join("\n");
}

/** The commands an option is for: the writes (`apply`, which `undo` takes too unless it says otherwise), `export`. */
type OptionScope = "apply" | "export" | "undo";

/**
 * One option of the help: its flags, its text (later lines are continuations), and the commands it is for. Each
 * command's `--help` lists its own options from this table; an option added to `parseOptions` gets a row here.
 */
interface OptionHelp {
  flags: string;
  text: string;
  for: readonly OptionScope[];
}

const EVERY: readonly OptionScope[] = ["apply", "export", "undo"];
const WRITING: readonly OptionScope[] = ["apply", "undo"];

const OPTION_HELP: readonly OptionHelp[] = [
  { flags: "--pod URL", text: "the pod's base URL, e.g. https://acme.symphony.com/pod (or POD_URL)", for: EVERY },
  { flags: "--concurrency N", text: "calls at once, 1-1000 (default 300)", for: EVERY },
  { flags: "--max-attempts N", text: "attempts per call, retries included (default 5)", for: EVERY },
  {
    flags: "--max-rate N",
    text:
      "at most N calls a second, whatever the pod admits: leave room for the pod's other\n" +
      "clients (or POD_MAX_RATE; default none, the pod's 429s set the pace)",
    for: EVERY,
  },
  {
    flags: "--rate N",
    text: "start at N calls a second, a limit you know, instead of learning it (or POD_RATE)",
    for: EVERY,
  },
  { flags: "--dry-run", text: "parse and validate everything, print the plan, send nothing", for: WRITING },
  {
    flags: "--report FILE",
    text:
      "the report: kept up to date as calls settle, then every failed or not-attempted item\n" +
      "(valid input; default pod-admin-report-<time>.jsonl)",
    for: WRITING,
  },
  { flags: "--format csv|jsonl", text: "input format (default: from the file name, else sniffed)", for: ["apply"] },
  { flags: "--format csv|jsonl", text: "output format (default csv, or from the --out name)", for: ["export"] },
  { flags: "--all", text: "export every user of the pod (GET /v2/admin/user/list)", for: ["export"] },
  {
    flags: "--out FILE",
    text: "write to FILE (via FILE.partial, renamed when complete); default standard output",
    for: ["export"],
  },
  { flags: "--username NAME", text: "service account for RSA authentication (or POD_USERNAME)", for: EVERY },
  { flags: "--private-key FILE", text: "its RSA private key, PEM (or POD_PRIVATE_KEY_FILE)", for: EVERY },
  {
    flags: "--config FILE",
    text:
      "a Symphony BDK config file (YAML or JSON): pod, login, proxy, trust store, retry\n" +
      "(or POD_ADMIN_CONFIG); flags and POD_* variables override it",
    for: EVERY,
  },
  {
    flags: "--auth-url URL",
    text:
      "the login host, if not the pod's: RSA <URL>/login/pubkey/authenticate, certificate\n" +
      "<URL>/sessionauth/v1/authenticate (or POD_AUTH_URL)",
    for: EVERY,
  },
  {
    flags: "--certificate FILE",
    text:
      "log in with this client certificate instead of RSA: PKCS#12 (.p12) or PEM holding\n" +
      "the certificate and its key (or POD_CERTIFICATE_FILE; its password: POD_CERTIFICATE_PASSWORD)",
    for: EVERY,
  },
  {
    flags: "--ca-file FILE",
    text: "PEM CA certificates trusted in addition to the system's (or POD_CA_FILE)",
    for: EVERY,
  },
  {
    flags: "--proxy URL",
    text:
      "http://[user:password@]host:port for every connection (or POD_PROXY; default\n" +
      "HTTPS_PROXY/HTTP_PROXY; NO_PROXY honoured)",
    for: EVERY,
  },
  {
    flags: "--insecure-http",
    text: "allow a plain http:// pod or login URL that is not this machine (or POD_INSECURE_HTTP=1)",
    for: EVERY,
  },
  { flags: "--quiet", text: "no progress output", for: EVERY },
  {
    flags: "--only-changes",
    text:
      "read each user first (one GET per user), write only where the item differs;\n" +
      "with --dry-run, print the first differences (- old / + new)",
    for: WRITING,
  },
  {
    flags: "--journal FILE",
    text: "the undo journal: each user's state before it is written (a new file), for pod-admin undo FILE",
    for: WRITING,
  },
  { flags: "-h, --help", text: "this help", for: EVERY },
];

/** The option lines of the commands of `scope`, aligned, continuations indented. */
function optionsHelp(scope: OptionScope): string {
  const rows = OPTION_HELP.filter((option) => option.for.includes(scope));
  return rows
    .flatMap(({ flags, text }) => {
      const [first, ...more] = text.split("\n");
      const head = flags.length <= 22 ? `  ${flags.padEnd(22)} ${first}` : `  ${flags}\n${" ".repeat(25)}${first}`;
      return [head, ...more.map((line) => `${" ".repeat(25)}${line}`)];
    })
    .join("\n");
}

const EXAMPLE_POD = "https://acme.symphony.com/pod";

const SESSION_HELP = `Session token: POD_SESSION_TOKEN, RSA authentication with --username and --private-key (an encrypted key's
passphrase: POD_PRIVATE_KEY_PASSPHRASE, or asked on a terminal), or a certificate login with --certificate;
or the login a --config file describes.`;

const CTRL_C_HELP = `Ctrl-C: stop taking work, finish the calls in flight, write the report. Ctrl-C again: quit now; the calls in
flight stay in the report as not applied, and are sent again when it is applied.`;

const EXIT_HELP = `Exit codes: 0 all applied, 1 some did not apply (report written), 2 bad usage, invalid input, unwritable report
or refused login (nothing sent), 130 interrupted before anything was sent.`;

/**
 * The usage text `pod-admin --help` prints.
 *
 * @example
 * ```ts
 * process.stdout.write(`${USAGE}\n`);
 * ```
 */
export const USAGE = `Usage: pod-admin <command> FILE [options]

Commands:
${commandsHelp()}
  undo JOURNAL           restore the states a --journal recorded (same options as apply)
  simulate               run a simulated pod on loopback (see pod-admin simulate --help)
Each command's own help: pod-admin <command> --help (e.g. pod-admin features apply --help).

FILE is CSV or JSON Lines (.jsonl; one bulk item per line, e.g. a --report file). "-" reads standard input.
A report (also that of a run that was stopped, even by kill -9) is a FILE too: applying it finishes the job,
never sending again what it says was applied.
A user's rows may be anywhere in the file (one call each). action is ADD or REMOVE. A file names its users one
way: uid, email or username (and delegates by userId or delegateEmail); the plan looks emails and usernames up on
the pod (GET /v3/users, a dry run too), and users it does not know are listed, kept in the report (unknownUser)
and never sent. Column names match whatever their case; the separator is a comma.
product* columns: productName,productType,productSubscribed[,productSku][,productAppId]

Options:
${optionsHelp("apply")}
  -V, --version          the version of pod-admin

Export (FILE: a uid, email or username column, CSV or JSON Lines; or --all users):
  --out FILE             write to FILE (via FILE.partial, renamed when complete); default standard output
  --format csv|jsonl     output format (default csv, or from the --out name)
  --pod, --concurrency, --max-attempts, --max-rate, --rate, --username, --private-key, --config, --auth-url,
  --certificate, --ca-file, --proxy, --insecure-http, --quiet as above

${SESSION_HELP}
${CTRL_C_HELP}
${EXIT_HELP}`;

/** The help of `pod-admin <write> --help`: its layout, its options, examples. */
function applyUsage(command: Command): string {
  const rules = WRITES[WRITE_OF_LAYOUT[command.operation]];
  const { required, optional } = rules.csv;
  return `Usage: pod-admin ${command.words} FILE [options]

${capitalise(rules.help.does)}: ${command.call} (${command.label}).

FILE: CSV, or JSON Lines (.jsonl: one bulk item per line, e.g. the --report of an earlier run); "-" reads
standard input.
CSV columns (any order, names in any case): ${rules.help.columns}
  required: ${required.join(", ")} (uid may be email or username instead: looked up on the pod)
  optional: ${optional.length > 0 ? optional.join(", ") : "none"}
${command.operation.startsWith("apps") ? "  product* columns: productName,productType,productSubscribed[,productSku][,productAppId]\n" : ""}${rules.rows.kind === "grouped" ? "A user's rows may be anywhere in the file: they make one call." : "Each row is one call; a user named twice for the same thing is refused (the calls would race)."}

Options:
${optionsHelp("apply")}

Examples:
  pod-admin ${command.words} users.csv --pod ${EXAMPLE_POD} --dry-run --only-changes
  pod-admin ${command.words} users.csv --pod ${EXAMPLE_POD} --journal undo.jsonl --report run.jsonl

${SESSION_HELP}
${EXIT_HELP}`;
}

/** The help of `pod-admin <group> export --help`. */
function exportUsage(words: string, operation: Operation): string {
  const rules = WRITES[WRITE_OF_LAYOUT[operation]];
  const { required, optional } = rules.csv;
  return `Usage: pod-admin ${words} [FILE | --all] [options]

Writes ${(rules.help as { exports?: string }).exports ?? "what the pod holds"}: the users a FILE names (a uid, email or username
column, CSV or JSON Lines; an apply-layout file will do, each user is exported once), or every user with --all.
The output is valid input of pod-admin ${rules.words}; users come out by uid, each user's rows in a fixed order,
so two exports of one pod are byte-identical.
CSV columns written: ${[...required, ...optional].join(",")}

Options:
${optionsHelp("export")}

Examples:
  pod-admin ${words} --all --pod ${EXAMPLE_POD} --out ${words.split(" ")[0]}.csv
  pod-admin ${words} users.csv --pod ${EXAMPLE_POD} --format jsonl > ${words.split(" ")[0]}.jsonl

${SESSION_HELP}
Exit codes: 0 every user named was exported, 1 some were not found or not read (the output holds the others),
2 bad usage or a bad FILE (nothing read).`;
}

/** The help of `pod-admin undo --help`. */
const UNDO_USAGE = `Usage: pod-admin undo JOURNAL [options]

Restores the state each user had before a run that was given --journal JOURNAL: the journal names its command
(features apply, delegates apply, apps replace, apps patch, status apply) and holds, for each user written, the
part of their state the run changed. The undo is a run of that command (or of the one that restores it), with
a plan, a report and the same options; a feature that had no value before cannot be unset and is listed.

Options:
${optionsHelp("undo")}

Examples:
  pod-admin undo undo.jsonl --pod ${EXAMPLE_POD} --dry-run
  pod-admin undo undo.jsonl --pod ${EXAMPLE_POD} --report undo-report.jsonl

${SESSION_HELP}
${EXIT_HELP}`;

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The commands of each group (`features`: `features apply`, `features export`), from the writes' declarations. */
function groupCommands(group: string): string[] {
  const writes = WRITE_OPERATIONS.map((name) => WRITES[name]);
  return writes.flatMap(({ words, help, export: exported }) => {
    if (words.split(" ")[0] !== group) return [];
    const lines = [`  ${`${words} FILE`.padEnd(30)} ${help.does}`];
    if (exported) lines.push(`  ${`${exported.words} [FILE|--all]`.padEnd(30)} ${help.exports ?? ""}`);
    return lines;
  });
}

/**
 * The help `pod-admin ARGS --help` prints: that command's (a write, an export, undo, a group of commands), or the
 * global {@link USAGE}. The simulator's is its own (`pod-admin simulate --help`).
 *
 * @example
 * ```ts
 * process.stdout.write(`${usageFor(["features", "apply", "--help"])}\n`);
 * ```
 */
export function usageFor(argv: readonly string[]): string {
  const words = argv.filter((arg) => !arg.startsWith("-"));
  const two = words.slice(0, 2).join(" ");
  const command = COMMANDS[two];
  if (command) return applyUsage(command);
  const exported = EXPORTS[two];
  if (exported) return exportUsage(two, exported);
  if (words[0] === "undo") return UNDO_USAGE;
  const group = groupCommands(words[0] ?? "");
  if (group.length > 0) return `Usage: pod-admin ${words[0]} <command> [options]\n\nCommands:\n${group.join("\n")}`;
  return USAGE;
}

/**
 * A group's name alone (`pod-admin features`): the usage message listing the group's commands (exit 2); undefined
 * for anything else.
 *
 * @example
 * ```ts
 * groupWithoutCommand(["features"]); // "features needs a command:\n  features apply FILE …"
 * ```
 */
export function groupWithoutCommand(positionals: readonly string[]): string | undefined {
  const group = positionals[0] ?? "";
  const commands = groupCommands(group);
  if (positionals.length !== 1 || commands.length === 0) return undefined;
  return `${group} needs a command:\n${commands.join("\n")}\nRun pod-admin ${group} <command> --help for its options.`;
}

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
  /** How to reach the pod: config file, login host, certificate, proxy, CAs. */
  connect: CliConnection;
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
  const onlyChanges = values["only-changes"] === true;
  if (dryRun && values.journal !== undefined) {
    throw new UsageError("--journal records the state before each write, and a dry run writes nothing: drop one");
  }
  // Reading what users hold needs the pod, even in a dry run.
  if ((!dryRun || onlyChanges || values.journal !== undefined) && !podUrl) {
    throw new UsageError(
      `--pod URL is required (or set POD_URL)${dryRun ? ": --only-changes and --journal read the users' state" : ""}`,
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
    connect,
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
  for (const option of ["dry-run", "report", "only-changes", "journal"] as const) {
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
        all: { type: "boolean" },
        out: { type: "string" },
        config: { type: "string" },
        "auth-url": { type: "string" },
        "ca-file": { type: "string" },
        proxy: { type: "string" },
        certificate: { type: "string" },
        "insecure-http": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    // Node's message quotes the argument: a pasted --pod=https://user:pw@host must not come back whole.
    throw new UsageError(withoutCredentials((error as Error).message).replace(/\/\/[^\s'"/]*@/g, "//"));
  }
}
