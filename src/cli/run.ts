/**
 * `pod-admin`: applies a CSV or JSON Lines file to a pod through the bulk helpers. Everything the command does
 * goes through {@link runCli}, so tests run it in-process or as a real child process alike. This file only
 * orchestrates: arguments (args.ts) and help (usage.ts), session (session.ts), input (input/), the report and the undo
 * journal (files/), the plan, read and write passes (passes/), export and undo (commands/) and progress
 * (progress.ts) each live in their own file.
 */
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { plural, printable } from "../core/text.js";
import { PACKAGE_VERSION } from "../core/version.js";
import {
  type ApplyArgs,
  COMMANDS,
  type Command,
  EXIT,
  EXPORTS,
  parseApplyArgs,
  parseExportArgs,
  parseUndoArgs,
  UsageError,
} from "./args.js";
import { runExport } from "./commands/export.js";
import { openSavedPlan, startSavingPlan } from "./commands/saved-plan.js";
import { prepareUndo } from "./commands/undo.js";
import { UndoJournal } from "./files/journal.js";
import { Journal, ReportUnwritableError } from "./files/report.js";
import { dryRunSession, LookupError } from "./input/identities.js";
import { CSV_COLUMNS, type ItemOf } from "./input/readers.js";
import { type InputFile, inputFormat, openInput } from "./input/source.js";
import type { CliIo } from "./io.js";
import { type CliLog, openCliLog } from "./log.js";
import { checkMaxChanges, PlanGuards } from "./passes/guards.js";
import { makePlan, printPlan } from "./passes/plan.js";
import { type ReadHook, readBeforeWriting } from "./passes/read.js";
import { apply } from "./passes/write.js";
import { terminalSecret } from "./prompt.js";
import { podClient, resolveSessionToken } from "./session.js";
import { groupWithoutCommand, USAGE, usageFor } from "./usage.js";

export type { CliIo } from "./io.js";

export { EXIT, USAGE };

/**
 * Runs one `pod-admin` invocation and resolves to its exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(["features", "apply", "users.csv", "--dry-run"], {
 *   stdin: process.stdin,
 *   stdout: process.stdout,
 *   stderr: process.stderr,
 *   env: process.env,
 * });
 * ```
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const state: RunState = { sending: false, journal: undefined, pending: false, log: undefined };
  const code = await runCatching(argv, io, state);
  // --detailed-exitcode (terraform plan's): 2 is "changes pending", so every error, bad usage included, is 1.
  if (!argv.includes("--detailed-exitcode") || code === EXIT.interrupted) return code;
  if (code !== EXIT.ok) return EXIT.someFailed;
  return state.pending ? EXIT.usage : EXIT.ok;
}

/** What runCli needs to know of a run besides its exit code, and the log it closes at the end. */
interface RunState {
  sending: boolean;
  journal: Journal | undefined;
  /** A dry run that read every user found calls to send (`--detailed-exitcode`). */
  pending: boolean;
  log: CliLog | undefined;
}

async function runCatching(argv: string[], io: CliIo, state: RunState): Promise<number> {
  try {
    return await run(argv, io, state);
  } catch (thrown) {
    // A lookup failing inside the plan's stream comes wrapped by the bulk run that was reading it.
    const error = thrown instanceof Error && thrown.cause instanceof LookupError ? thrown.cause : thrown;
    if (error instanceof UsageError || error instanceof ReportUnwritableError || error instanceof LookupError) {
      io.stderr.write(`pod-admin: ${printable(error.message, 1000)}\n`);
      if (error instanceof UsageError) io.stderr.write("Run pod-admin --help for usage.\n");
      else io.stderr.write("Nothing was sent.\n");
      return EXIT.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`pod-admin: unexpected error: ${printable(message, 1000)}\n`);
    if (!state.sending) {
      io.stderr.write("Nothing was sent.\n");
      return EXIT.usage;
    }
    if (state.journal) {
      io.stderr.write(`${state.journal.path} holds what is not known to be applied; applying it finishes the job.\n`);
    }
    return EXIT.someFailed;
  } finally {
    state.log?.close();
  }
}

async function run(argv: string[], io: CliIo, state: RunState): Promise<number> {
  if (argv[0] === "--version" || argv[0] === "-V") {
    io.stdout.write(`pod-admin ${PACKAGE_VERSION}\n`);
    return EXIT.ok;
  }
  if (argv[0] === "simulate") {
    const { runSimulatorCli } = await import("../simulator/cli.js");
    return runSimulatorCli(argv.slice(1), io);
  }
  if (argv[0] === "undo") {
    const parsed = parseUndoArgs(argv, io.env);
    if (parsed === "help") {
      io.stdout.write(`${usageFor(argv)}\n`);
      return EXIT.ok;
    }
    // The journal is read and checked before any login: a malformed one is exit 2, nothing sent.
    const podUrl = parsed.options(COMMANDS["features apply"] as Command, parsed.journalFile).podUrl;
    const undo = await prepareUndo(parsed.journalFile, podUrl, io.stderr);
    try {
      const args = parsed.options(undo.command, undo.input.path);
      // An undo restores recorded states: only a --max-changes given caps it, not the default of destructive runs.
      args.guards.defaultCap = false;
      printWarnings(args.connect.warnings, io);
      state.log = openCliLog(args.log, io);
      io.stdout.write(
        `Undo: ${parsed.journalFile} restores ${plural(undo.items, "item")} with ${undo.command.words}` +
          (undo.nothingToUndo > 0 ? ` (${undo.nothingToUndo} recorded changes changed nothing)` : "") +
          "\n",
      );
      if (undo.cannotUndo > 0) {
        io.stdout.write(
          `  cannot undo: ${plural(undo.cannotUndo, undo.cannotUndoNoun)} the run set had no value before; the API ` +
            `cannot unset a ${undo.cannotUndoNoun}, so they keep the value the run set\n`,
        );
      }
      // Exit 1 when some of the run's changes stay: the undo did not return every user to the state before.
      const partly = undo.cannotUndo > 0 ? EXIT.someFailed : EXIT.ok;
      if (undo.items === 0) return partly;
      const code = await runApply(args, io, state, undo.input, "jsonl", await sessionOf(args, io, state.log));
      return Math.max(code, partly);
    } finally {
      await undo.input.cleanup();
    }
  }
  if (EXPORTS[argv.slice(0, 2).join(" ")] !== undefined) {
    const args = parseExportArgs(argv, io.env);
    if (args === "help") {
      io.stdout.write(`${usageFor(argv)}\n`);
      return EXIT.ok;
    }
    printWarnings(args.connect.warnings, io);
    state.log = openCliLog(args.log, io);
    const sessionToken = await resolveSessionToken(args, io.env, terminalSecret(io.stdin, io.stderr), state.log);
    const pod = podClient(args, sessionToken, state.log);
    return runExport(args, pod, io);
  }
  const group = groupWithoutCommand(argv);
  if (group !== undefined) {
    io.stderr.write(`pod-admin: ${group}\n`);
    return EXIT.usage;
  }
  const args = parseApplyArgs(argv, io.env);
  if (args === "help") {
    io.stdout.write(`${usageFor(argv)}\n`);
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  printWarnings(args.connect.warnings, io);
  state.log = openCliLog(args.log, io);
  // A saved plan (recognised by its header, checked before any login) is applied exactly, each user re-read first.
  const saved = await openSavedPlan(args);
  if (saved) {
    try {
      io.stdout.write(
        `Saved plan: ${args.file} (${plural(saved.header.counts.changes, "change")} to ` +
          `${plural(saved.header.counts.users, "user")}, saved ${saved.header.created} from ${saved.header.input}): ` +
          "each user is read first, and refused if it no longer holds what the plan saw\n",
      );
      const session = await sessionOf({ ...args, onlyChanges: true }, io, state.log);
      const exact = { ...args, onlyChanges: false };
      return await runApply(exact, io, state, saved.input, "jsonl", session, { onRead: saved.onRead });
    } finally {
      await saved.input.cleanup();
    }
  }
  const sessionToken = await sessionOf(args, io, state.log);
  const input: InputFile = await openInput(args.file, io.stdin);
  try {
    return await runApply(args, io, state, input, args.format, sessionToken);
  } finally {
    await input.cleanup();
  }
}

/** The session of a run that talks to the pod (before the input is read: a refused login sends nothing). */
function sessionOf(args: ApplyArgs, io: CliIo, log: CliLog | undefined) {
  const reading = readsFirst(args);
  if (args.dryRun && !reading) return Promise.resolve("dry-run");
  // A passphrase is asked on the terminal only when the input is not read from it too.
  const ask = args.file === "-" ? undefined : terminalSecret(io.stdin, io.stderr);
  return resolveSessionToken(args, io.env, ask, log);
}

/** Whether the run reads each user before writing: `--only-changes`, `--journal`, `--exact` (its dry run too). */
function readsFirst(args: ApplyArgs): boolean {
  return args.onlyChanges || args.journal !== undefined || args.guards.exact;
}

/** What the config file said that is not used (a misspelt key), once, before anything else. */
function printWarnings(warnings: readonly string[], io: CliIo): void {
  for (const warning of warnings) io.stderr.write(`pod-admin: warning: ${printable(warning, 1000)}\n`);
}

/** The plan, the read pass (`--only-changes`, `--journal`) and the writes of one apply (or undo) run. */
async function runApply(
  args: ApplyArgs,
  io: CliIo,
  state: RunState,
  input: InputFile,
  givenFormat: "csv" | "jsonl" | undefined,
  sessionToken: Awaited<ReturnType<typeof sessionOf>>,
  /** A saved plan's check of each user read (which makes the run read them). */
  planned?: { onRead: ReadHook },
): Promise<number> {
  const reading = readsFirst(args) || planned !== undefined;
  let journal: Journal | undefined;
  let undoJournal: UndoJournal | undefined;
  // A dry run that reads keeps its items in a temporary journal, removed at the end.
  const scratch = args.dryRun && reading ? await mkdtemp(join(tmpdir(), "pod-admin-dry-")) : undefined;
  let saving: Awaited<ReturnType<typeof startSavingPlan>> | undefined;
  try {
    if (args.journal !== undefined) {
      await checkJournalPath(args.journal, args.report, input.path);
      await UndoJournal.refuseExisting(args.journal); // before the plan's reads; created after it
    }
    if (args.savePlan !== undefined) saving = await startSavingPlan({ ...args, savePlan: args.savePlan }, input.path);
    // Opened before anything is read or sent: an unwritable report is refused with exit 2.
    if (!args.dryRun) {
      journal = state.journal = await Journal.open(args.report, input.path, `${args.command.words} ${input.label}`);
    } else if (scratch) journal = await Journal.open(join(scratch, "journal.jsonl"), input.path);
    // A second Ctrl-C before the first call exits at once (130, main.ts): leave no REPORT.partial behind.
    const dropPartial = () => journal?.discardSync();
    io.quit?.addEventListener("abort", dropPartial, { once: true });
    const format = await inputFormat(input, givenFormat);
    // Users named by email or username are looked up in the plan, by a dry run too (lookups are reads).
    const session =
      sessionToken === "dry-run" ? await dryRunSession(args, io.env, input, format, state.log) : sessionToken;
    const pod = podClient(args, session, state.log);
    const guards = new PlanGuards({
      pod,
      command: args.command,
      guards: args.guards,
      canRead: session !== "dry-run",
      label: input.label,
      concurrency: args.concurrency,
      journal,
    });
    const plan = await makePlan({
      guards,
      pod,
      command: args.command,
      input,
      format,
      interrupt: io.interrupt,
      journal,
      canLookUp: session !== "dry-run",
      lookupConcurrency: Math.min(args.concurrency, 100),
    });
    // Items whose user the pod does not know are never sent (the plan lists them; the report keeps them).
    const unknownUsers = plan.unknownUsers?.count ?? 0;
    if (plan.interrupted || io.interrupt?.aborted) {
      io.stderr.write("\nInterrupted while reading the input: nothing was sent.\n");
      return EXIT.interrupted;
    }
    printPlan(io, args.command, input.label, plan, args.concurrency, args.dryRun);
    guards.print(io.stdout, args.dryRun);
    if (plan.invalidCount > 0) return EXIT.usage;
    // Without --only-changes every user of the file counts as changed: the cap is checked before any read.
    const capped = (changed: number) =>
      checkMaxChanges(changed, plan.users, args, guards.destructive, planned !== undefined);
    if (!args.onlyChanges && refused(capped(plan.users), args.dryRun, io)) return EXIT.usage;
    if ((args.dryRun && !reading) || !journal) return unknownUsers > 0 ? EXIT.someFailed : EXIT.ok;
    if (args.journal !== undefined) {
      undoJournal = await UndoJournal.create(args.journal, {
        operation: args.command.operation,
        command: args.command.words,
        pod: args.podUrl as string,
      });
    }
    const { pendingBytes } = await journal.commit();
    const common = { io, pod, command: args.command, journal, pendingBytes, plan, concurrency: args.concurrency };
    const reads = reading
      ? await readBeforeWriting({
          ...common,
          quiet: args.quiet,
          onlyChanges: args.onlyChanges,
          undo: undoJournal,
          dryRun: args.dryRun,
          onRead: planned?.onRead ?? saving?.onRead,
        })
      : undefined;
    const planRefusals = (reads?.refused ?? 0) > 0;
    if (args.onlyChanges && reads && !reads.interrupted && refused(capped(reads.changedUsers), args.dryRun, io)) {
      // The report holds the run as read (the unchanged users settled): applying it with --yes goes on from there.
      io.stderr.write(`${journal.path} holds the run: apply it with --only-changes --yes to go past the cap.\n`);
      return EXIT.usage;
    }
    if (args.dryRun) {
      state.pending = plan.calls - (reads?.skip.size ?? 0) > 0;
      const saved = saving === undefined || (await saving.finish(plan, reads, io.stdout));
      return reads?.stoppedBy || (reads?.unsent ?? 0) > 0 || unknownUsers > 0 || planRefusals || !saved
        ? EXIT.someFailed
        : EXIT.ok;
    }
    state.sending = true;
    const applied = await apply({ ...common, quiet: args.quiet, reads, skippedDisabled: guards.disabled.skippedItems });
    const code = applied === EXIT.ok && (unknownUsers > 0 || planRefusals) ? EXIT.someFailed : applied;
    if (planRefusals) {
      io.stderr.write(
        `${plural(reads?.refused ?? 0, "item")} of the plan refused: their users changed since it was saved. Save a ` +
          "new plan to review them (applying the report sends them without this check).\n",
      );
    }
    // Calls were sent: a second Ctrl-C from here on exits with the run's code, never 130.
    io.quit?.addEventListener("abort", () => io.exitNow?.(code), { once: true });
    return code;
  } finally {
    // Before the commit this removes REPORT.partial (nothing was sent); after it, the journal is kept.
    await journal?.discard();
    undoJournal?.close();
    await saving?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Says a `--max-changes` refusal: on a real run it stops the run (true: exit 2, nothing sent); a dry run only says
 * that the run would stop.
 */
function refused(message: string | undefined, dryRun: boolean, io: CliIo): boolean {
  if (message === undefined) return false;
  if (dryRun) {
    io.stdout.write(`  --max-changes: the run would be refused: ${message}\n`);
    return false;
  }
  io.stderr.write(`pod-admin: ${message}.\nNothing was sent.\n`);
  return true;
}

export type { ItemOf };
export { CSV_COLUMNS };

/**
 * The undo journal must be a file of its own: the report is renamed over its path at the end of the run (and its
 * `.partial` is written meanwhile), so a journal sharing either would be lost after the writes were sent.
 */
async function checkJournalPath(journalFile: string, report: string | undefined, inputPath: string): Promise<void> {
  const real = async (path: string) => realpath(path).catch(() => resolve(path));
  const journal = await real(journalFile);
  const clashes: [string | undefined, string][] = [
    [report, "the --report file"],
    [report === undefined ? undefined : `${report}.partial`, "the --report file's .partial"],
    [inputPath, "the input file"],
  ];
  for (const [path, what] of clashes) {
    if (path !== undefined && (await real(path)) === journal) {
      throw new UsageError(`--journal ${journalFile} is ${what}: the undo journal needs a file of its own`);
    }
  }
}
