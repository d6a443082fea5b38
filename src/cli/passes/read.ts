/**
 * Pass 1b, read before writing (`--only-changes`, `--journal`): reads each pending item's user, finds what the item
 * would change by the write's rules, settles the items not to send, records the state before each write, and prints
 * what it found; and the end of a run whose reads Ctrl-C stopped.
 */
import type { PodClient } from "../../api/client.js";
import { PodApiError } from "../../core/errors.js";
import { userIdToDecimal } from "../../core/ids.js";
import { type BulkOutcome, type ScheduledTask, schedule } from "../../core/scheduler.js";
import { plural, printable } from "../../core/text.js";
import { rulesOf } from "../../operations/index.js";
import { type Command, EXIT } from "../args.js";
import { beforeEntry, type CurrentOf, differences, READ_CALL, readCurrent } from "../changes.js";
import { FailureCauses } from "../failures.js";
import type { UndoJournal } from "../files/journal.js";
import type { Journal } from "../files/report.js";
import { BitSet } from "../input/keysort.js";
import type { ItemOf, Operation } from "../input/readers.js";
import type { CliIo } from "../io.js";
import { progressRenderer } from "../progress.js";
import { pendingItems } from "./pending.js";
import type { Plan } from "./plan.js";
import { runPass, stopOf } from "./stream.js";

/**
 * What the read pass found: the items not to send, and the counts the plan prints.
 *
 * @example
 * ```ts
 * const options = {} as Parameters<typeof readBeforeWriting>[0]; // from run.ts
 * const reads: ReadPass = await readBeforeWriting(options);
 * console.log(`${reads.changed} differ, ${reads.unchanged} already hold it`);
 * ```
 */
export interface ReadPass {
  /** Item numbers not to send: unchanged (with `--only-changes`), unreadable, or not read. */
  skip: BitSet;
  /** Users (items) read. */
  read: number;
  /** Items that differ from what their user holds. */
  changed: number;
  /** Users with an item that differs (delegates: several items a user), for `--max-changes`. */
  changedUsers: number;
  /** Items their user already holds. */
  unchanged: number;
  /** Of those, the ones not sent (`--only-changes`). */
  unchangedSkipped: number;
  /** Items whose user could not be read, or that were never read (interrupted, stopped): not sent. */
  unsent: number;
  /** Items the `onRead` check refused (a saved plan's user whose state changed): not sent, in the report. */
  refused: number;
  /** The error that stopped the reads: a refused session, a breaker. Nothing is written then. */
  stoppedBy: Error | undefined;
  /**
   * Set when Ctrl-C stopped the reads (nothing is written then): `resume`, the options a run of the report takes to
   * go on as this one would have (` --only-changes`, ` --journal FILE`).
   */
  interrupted?: { resume: string } | undefined;
}

/**
 * The end of a run whose read pass Ctrl-C stopped: nothing is sent. Every item the reads did not settle is
 * recorded as not attempted, the journal becomes the report, and one line says how to resume; none of the write
 * pass's lines (progress, counts) is printed, since there is no write pass. Returns 130 (1 if the report cannot be
 * written).
 */
export async function finishInterruptedReads(
  options: { io: CliIo; command: Command; journal: Journal; pendingBytes: number; plan: Plan; reads: ReadPass },
  resume: string,
): Promise<number> {
  const { io, command, journal, plan, reads } = options;
  const retryHint = `pod-admin ${command.words} ${journal.path}`;
  let reportError: Error | undefined;
  let report: { lines: number } | undefined;
  try {
    const settled = { merged: plan.merged, skip: reads.skip };
    for await (const { item, ordinal, line } of pendingItems(
      journal,
      command.operation,
      options.pendingBytes,
      settled,
    )) {
      journal.unapplied(item as object, ordinal, { status: "notAttempted", line });
    }
    reportError = journal.failure;
    if (!reportError) report = await journal.finish();
  } catch (error) {
    reportError = error as Error;
  }
  if (reportError) {
    io.stderr.write(
      `pod-admin: cannot write the report ${journal.path}: ${printable(reportError.message)}.\n` +
        `${journal.path} holds every item of the run: once it can be written again, ${retryHint}${resume} ` +
        "finishes the job.\n",
    );
    return EXIT.someFailed;
  }
  if (report && report.lines > 0) {
    io.stdout.write(`Report: ${journal.path} (${plural(report.lines, "item")}). Resume with: ${retryHint}${resume}\n`);
  }
  return EXIT.interrupted;
}

/**
 * Called for each item whose user was read, with what the read found: returns why the item must not be sent (it is
 * then refused: listed, in the report as `failed` with error `StateChanged`, not sent), or undefined. A saved plan
 * is checked here (and `--save-plan` records one).
 *
 * @example
 * ```ts
 * const onRead: ReadHook = ({ uid, differences }) => (differences.length === 0 ? `user ${uid} holds it` : undefined);
 * ```
 */
export type ReadHook = (read: {
  item: ItemOf[Operation];
  ordinal: number;
  line: number | undefined;
  uid: string;
  current: CurrentOf[Operation];
  differences: string[];
}) => string | undefined;

/** Users whose differences a dry run prints, and lines per user. */
const SHOWN_USERS = 20;
const SHOWN_LINES = 10;
/** Items a saved plan refuses that are listed one by one (the rest are counted; every one is in the report). */
const LISTED_REFUSALS = 20;
/** Delegates: the reads of the last this many users are shared by their rows ({@link readBeforeWriting}). */
const SHARED_READS = 1000;

/**
 * The read pass of `--only-changes` and `--journal`, between the plan and the writes: reads each pending item's user
 * through the client (its rate limit, retries and breakers, at the run's concurrency, with progress), finds what the
 * item would change (changes.ts), records in the report each item not to send (`unchanged`, or `failed` with the
 * read's error, or `notAttempted`), records the state before each write in the undo journal, and prints what it
 * found: counts, the read failures, and in a dry run the first differences.
 *
 * @example
 * ```ts
 * const options = {} as Parameters<typeof readBeforeWriting>[0]; // io, pod, command, journal, plan, … from run.ts
 * const reads = await readBeforeWriting({ ...options, onlyChanges: true, undo: undefined, dryRun: true });
 * ```
 */
export async function readBeforeWriting(options: {
  io: CliIo;
  pod: PodClient;
  command: Command;
  journal: Journal;
  pendingBytes: number;
  plan: Plan;
  concurrency: number;
  quiet: boolean;
  onlyChanges: boolean;
  undo: UndoJournal | undefined;
  dryRun: boolean;
  /** Checks each item read (a saved plan's BEFORE) or records it (`--save-plan`). */
  onRead?: ReadHook | undefined;
}): Promise<ReadPass> {
  const { io, pod, command, journal, plan, undo } = options;
  const operation = command.operation;
  const result: ReadPass = {
    skip: new BitSet(),
    read: 0,
    changed: 0,
    changedUsers: 0,
    unchanged: 0,
    unchangedSkipped: 0,
    unsent: 0,
    refused: 0,
    stoppedBy: undefined,
  };
  const controller = new AbortController();
  const onInterrupt = () => {
    io.stderr.write("\nInterrupted while reading the users' state: nothing will be written.\n");
    controller.abort();
  };
  io.interrupt?.addEventListener("abort", onInterrupt, { once: true });
  if (io.interrupt?.aborted) controller.abort();
  // A second Ctrl-C exits at once (130: nothing written): the `unchanged` lines found so far are kept first.
  const onQuit = () => journal.flushSync();
  io.quit?.addEventListener("abort", onQuit, { once: true });

  interface Entry {
    item: ItemOf[Operation];
    ordinal: number;
    line: number | undefined;
    current?: CurrentOf[Operation];
    /** The read the entry awaited (delegates: shared by the rows of one user). */
    read?: Promise<CurrentOf[Operation]>;
  }
  /**
   * Delegates (one call per row): one read per user, not per row. The reads of the last {@link SHARED_READS} users
   * are kept, so the rows of a user share one, consecutive or not (rows further apart than that read again). Every
   * read comes before any write, and the plan refuses an `ADD` and a `REMOVE` of one delegate, so the rows of a
   * user never conflict: each is decided against the state read, which is also the state after the earlier rows.
   */
  const shared = new Map<string, Promise<CurrentOf[Operation]>>();
  const { rows } = rulesOf(operation);
  const sharesReads = rows.kind === "single" && rows.perUser.many;
  const readOf = (uid: string): Promise<CurrentOf[Operation]> => {
    if (!sharesReads) return readCurrent(pod, operation, uid);
    let read = shared.get(uid);
    if (read === undefined) {
      read = readCurrent(pod, operation, uid);
      read.catch(() => {}); // every row that awaits it gets the error; none is left unhandled
      shared.set(uid, read);
      if (shared.size > SHARED_READS) shared.delete(shared.keys().next().value as string);
    }
    return read;
  };
  /** Failed reads already counted and listed (a shared read fails all its rows, but is one read). */
  const failedReads = new WeakSet<Promise<unknown>>();
  async function* entries(): AsyncGenerator<Entry> {
    yield* pendingItems(journal, operation, options.pendingBytes, { merged: plan.merged });
  }

  // Delegates: a user's rows are counted once (their uids are kept: one string per user that differs).
  const changedUids = sharesReads ? new Set<string>() : undefined;
  // Reads settle in any order: the first SHOWN_USERS differences by input position are kept, so a dry run prints
  // the same lines every time.
  const shown: { ordinal: number; text: string }[] = [];
  let failures = 0;
  const causes = new FailureCauses();
  const progress = options.quiet
    ? undefined
    : progressRenderer(io.stderr, `reading (${READ_CALL[operation]})`, plan.calls);
  try {
    const task: ScheduledTask<Entry> = {
      check: (entry) => userIdToDecimal(entry.item.uid, "uid"),
      run: async (entry) => {
        // No signal per call (hundreds of listeners on one signal): reads in flight finish, as writes do.
        entry.read = readOf(userIdToDecimal(entry.item.uid, "uid"));
        entry.current = await entry.read;
      },
      keyOf: (entry) => String((entry as Entry).item.uid),
      stopWhen: (error) => stopOf(error)?.error,
    };
    /** One read settled: counted, recorded in the report and the undo journal, its differences kept to print. */
    const settle = (outcome: BulkOutcome<Entry>): void => {
      const entry = outcome.input;
      if (outcome.status === "succeeded") {
        result.read++;
        const current = entry.current as CurrentOf[Operation];
        const lines = differences(operation, entry.item, current);
        const { item, ordinal, line } = entry;
        const refusal = options.onRead?.({ item, ordinal, line, uid: outcome.uid, current, differences: lines });
        if (refusal !== undefined) {
          result.refused++;
          result.skip.add(ordinal);
          if (result.refused <= LISTED_REFUSALS) io.stderr.write(`  refused: ${printable(refusal, 2000)}\n`);
          journal.unapplied(item as object, ordinal, {
            status: "failed",
            line,
            error: "StateChanged",
            message: refusal,
          });
          return;
        }
        if (lines.length === 0) {
          result.unchanged++;
          if (options.onlyChanges) {
            result.unchangedSkipped++;
            result.skip.add(entry.ordinal);
            journal.unchanged(entry.ordinal);
            return;
          }
        } else {
          result.changed++;
          if (changedUids) changedUids.add(outcome.uid);
          else result.changedUsers++;
          if (options.dryRun && (shown.length < SHOWN_USERS || entry.ordinal < (shown.at(-1)?.ordinal ?? 0))) {
            let text = `  user ${outcome.uid}${entry.line === undefined ? "" : ` (line ${entry.line})`}:\n`;
            for (const line of lines.slice(0, SHOWN_LINES)) text += `    ${printable(line, 300)}\n`;
            if (lines.length > SHOWN_LINES) text += `    … and ${plural(lines.length - SHOWN_LINES, "more line")}\n`;
            shown.push({ ordinal: entry.ordinal, text });
            shown.sort((a, b) => a.ordinal - b.ordinal);
            if (shown.length > SHOWN_USERS) shown.pop();
          }
        }
        // Recorded before anything is written: a kill after this line loses nothing undo needs.
        undo?.record(beforeEntry(operation, entry.item, current));
        return;
      }
      result.unsent++;
      result.skip.add(entry.ordinal);
      if (outcome.status === "failed") {
        const error = outcome.error;
        const first = entry.read === undefined || !failedReads.has(entry.read);
        if (entry.read) failedReads.add(entry.read);
        if (first && !result.stoppedBy) {
          failures++;
          causes.add(error, outcome.uid, entry.line);
        }
        journal.unapplied(entry.item as object, entry.ordinal, {
          status: "failed",
          line: entry.line,
          error: error.name,
          ...(error instanceof PodApiError && { httpStatus: error.status }),
          message: `reading the user's state before writing failed, so nothing was written: ${error.message}`,
        });
      } else {
        journal.unapplied(entry.item as object, entry.ordinal, { status: "notAttempted", line: entry.line });
      }
    };
    const pass = { concurrency: options.concurrency, signal: controller.signal, progress };
    result.stoppedBy = await runPass((streamOptions) => schedule(entries(), task, streamOptions), pass, settle);
  } finally {
    progress?.stop();
    io.interrupt?.removeEventListener("abort", onInterrupt);
    io.quit?.removeEventListener("abort", onQuit);
  }
  undo?.sync();
  // Why, on stderr even with --quiet: the failed reads by cause, a few examples each (every one is in the report).
  if (causes.total > 0) {
    io.stderr.write("Reads failed (users not written), by cause:\n");
    for (const line of causes.lines("failed")) io.stderr.write(line);
  }
  if (result.refused > LISTED_REFUSALS) {
    io.stderr.write(`  … and ${plural(result.refused - LISTED_REFUSALS, "more refused item")} (in the report)\n`);
  }
  if (changedUids) result.changedUsers = changedUids.size;
  // Aborted by Ctrl-C (a stop of the reads says why instead): nothing is written, and the resume hint keeps the options.
  if (controller.signal.aborted && !result.stoppedBy) {
    result.interrupted = {
      resume: (options.onlyChanges ? " --only-changes" : "") + (undo ? " --journal FILE" : ""),
    };
  }

  const out = io.stdout;
  const rules = rulesOf(operation).rows;
  const noun = rules.kind === "single" && rules.perUser.many ? rules.perUser.noun : "user";
  const nouns = `${noun}s`;
  const total = result.read + result.unsent;
  out.write(
    `${result.interrupted ? "Interrupted while reading" : "Read before writing"} (${READ_CALL[operation]}): ` +
      `${plural(result.read, noun, nouns)} of ${total} read, ` +
      `${result.changed} differ, ${result.unchanged} already hold it` +
      (failures > 0 ? `, ${plural(failures, "read")} failed (not written; in the report)` : "") +
      (result.refused > 0 ? `, ${result.refused} refused (not written; in the report)` : "") +
      (result.interrupted ? "; nothing was written." : "") +
      "\n",
  );
  const toWrite = plan.calls - result.skip.size;
  if (result.interrupted) {
    // One summary: the counts above, then (apply) the report to resume with. No line about calls to send.
    if (undo) {
      out.write(
        `  journal: ${undo.path} (${plural(undo.entries, "state")} recorded, no write after them; a resumed run ` +
          "takes a new --journal FILE)\n",
      );
    }
  } else if (options.onlyChanges) {
    out.write(
      `  --only-changes: ${plural(toWrite, "call")} to send (${command.call}), ${result.unchangedSkipped} not sent\n`,
    );
  } else if (result.unchanged > 0) {
    out.write(
      `  all ${plural(toWrite, "call")} sent (--only-changes would skip the ${result.unchanged} that hold it)\n`,
    );
  }
  if (undo && !result.interrupted)
    out.write(`  journal: ${undo.path} (${plural(undo.entries, "state")} recorded; pod-admin undo ${undo.path})\n`);
  if (options.dryRun && shown.length > 0) {
    out.write(`Differences (the first ${SHOWN_USERS} ${nouns} that differ, ${SHOWN_LINES} lines each):\n`);
    for (const { text } of shown) out.write(text);
    if (result.changed > shown.length)
      out.write(`  … and ${plural(result.changed - shown.length, `more ${noun}`, `more ${nouns}`)}\n`);
  }
  if (result.stoppedBy && !options.dryRun) {
    io.stderr.write("The reads stopped before anything was written.\n");
  } else if (result.stoppedBy) {
    // A dry run has no apply pass to say why.
    io.stderr.write(`The reads stopped: ${printable(result.stoppedBy.message)}\n`);
  }
  return result;
}
