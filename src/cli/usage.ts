/**
 * The help: `pod-admin --help`, each command's own (`pod-admin features apply --help`: its columns, its options,
 * examples), a group's commands (`pod-admin features`). Generated from the writes' declarations (operations/*.ts)
 * and one table of options, {@link OPTION_HELP}, that says which commands each option is for: an option added to
 * args.ts gets a row there, and every command's help that takes it shows it.
 */
import { WRITE_OF_LAYOUT, WRITE_OPERATIONS, WRITES } from "../operations/index.js";
import { COMMANDS, type Command, EXPORTS } from "./args.js";
import { DEFAULT_DESTRUCTIVE_CAP } from "./guard-options.js";
import type { Operation } from "./input/readers.js";

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
  {
    flags: "--quiet",
    text: "no progress output (the summary and the failures by cause are still printed)",
    for: EVERY,
  },
  {
    flags: "-v, --verbose",
    text:
      "log retries, 429 holds, rate changes, breakers and logins on stderr; -vv also every\n" +
      "request and answer (the progress bar is then a line every few seconds)",
    for: EVERY,
  },
  {
    flags: "--log-file FILE",
    text:
      "the same events as JSON Lines, one per line, in a new file (0600); info, debug with -vv\n" +
      "(or POD_ADMIN_LOG=FILE); never a token, key or password",
    for: EVERY,
  },
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
  {
    flags: "--save-plan PLAN",
    text:
      "with --dry-run: read every user, write the plan (JSON Lines: each change, before and\n" +
      "after) to PLAN and the full diff to PLAN.diff; pod-admin <command> PLAN applies exactly it",
    for: ["apply"],
  },
  {
    flags: "--detailed-exitcode",
    text: "with --dry-run: read every user; exit 0 nothing to do, 2 changes pending, 1 error",
    for: WRITING,
  },
  {
    flags: "--exact",
    text:
      "features/delegates apply: each listed user ends with exactly what the file names\n" +
      "(features it does not name turned off, delegates it does not name removed)",
    for: ["apply"],
  },
  {
    flags: "--max-changes N|N%",
    text:
      "refuse (nothing sent) a run changing more than N users, or N% of the file's users\n" +
      `(or POD_MAX_CHANGES); destructive runs default to ${DEFAULT_DESTRUCTIVE_CAP}`,
    for: WRITING,
  },
  { flags: "--yes", text: "go past the --max-changes cap", for: WRITING },
  {
    flags: "--skip-disabled",
    text: "do not write to disabled users (kept in the report as notAttempted)",
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

const EXIT_HELP = `Exit codes: 0 all applied, 1 some did not apply (report written), 2 bad usage, invalid input, unwritable report,
refused login or over the --max-changes cap (nothing sent), 130 interrupted before anything was sent; with
--detailed-exitcode (a dry run) 0 nothing to do, 2 changes pending, 1 error (bad usage or input included).`;

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
never sending again what it says was applied. A plan saved by --save-plan is a FILE too: applying it sends exactly
its items, each user read again first and refused if it no longer holds what the plan saw.
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
  --certificate, --ca-file, --proxy, --insecure-http, --quiet, -v, --log-file as above

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
