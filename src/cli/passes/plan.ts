/**
 * Pass 1, the plan: reads and validates everything (a bulk dry run, so exactly as the real run would), refuses
 * contradictions and users who appear twice, writes the journal's `pending` lines, and prints what will be sent.
 * Nothing is sent: a bad row stops the job here.
 */
import type { BulkOutcome, BulkStreamEnd } from "../../api/bulk.js";
import type { PodClient } from "../../api/client.js";
import { ValidationError } from "../../core/errors.js";
import { plural, printable } from "../../core/text.js";
import { rulesOf, WRITE_OF_LAYOUT } from "../../operations/index.js";
import type { Command } from "../args.js";
import type { Journal } from "../files/report.js";
import { scanJournal } from "../files/report-scan.js";
import { type ResolutionStats, type UnknownUser, UserResolver, unknownUserMessage } from "../input/identities.js";
import { BitSet, type KeyRecord, KeySorter, keyText } from "../input/keysort.js";
import { InputError, type Operation, readItems } from "../input/readers.js";
import type { InputFile } from "../input/source.js";
import type { GuardEntry, PlanGuards } from "./guards.js";

/**
 * How each operation runs through `pod.bulk.stream`.
 *
 * @example
 * ```ts
 * const method = BULK_METHOD.appsReplace; // "replaceApps"
 * ```
 */
export const BULK_METHOD = WRITE_OF_LAYOUT;

/**
 * A bulk streaming method, loosely typed: the CLI's items are checked by the bulk validation itself.
 *
 * @example
 * ```ts
 * const bulk = pod.bulk.stream[BULK_METHOD.features] as LooseBulk;
 * ```
 */
export type LooseBulk = (
  items: AsyncIterable<unknown>,
  options: object,
) => AsyncGenerator<BulkOutcome<unknown>, BulkStreamEnd | undefined>;

/** Valid items the guards check at once (their reads run together; lookups take 100 uids a call). */
const GUARD_CHUNK = 500;

/** Errors and warnings listed at most; the rest are counted. */
const MAX_LISTED_INVALID = 50;
const MAX_LISTED_WARNINGS = 20;
const MAX_LISTED_UNKNOWN = 20;

/**
 * What the plan pass found.
 *
 * @example
 * ```ts
 * const options = {} as Parameters<typeof makePlan>[0]; // from run.ts
 * const plan: Plan = await makePlan(options);
 * console.log(`${plan.calls} calls, ${plan.invalidCount} invalid rows`);
 * ```
 */
export interface Plan {
  /** Valid items read (after a journal's settled ones are skipped). */
  items: number;
  /** Calls to make: the items, less the repeats merged into another. */
  calls: number;
  users: number;
  /** The first errors by line (at most 50); `invalidCount` counts them all. */
  invalid: InputError[];
  invalidCount: number;
  warnings: InputError[];
  warningCount: number;
  /** Rows that repeat an earlier one exactly, merged into it (with a warning). */
  repeats: number;
  /** Item numbers merged into an earlier identical item: never sent. */
  merged: BitSet;
  /** When the input is a journal: how many of its items it says were applied, and are skipped. */
  resumed: { applied: number } | undefined;
  /** The plan pass was interrupted (Ctrl-C): nothing was sent. */
  interrupted: boolean;
  /**
   * Items naming a user (or delegate) by an email or username the pod does not know: never sent, kept in the report
   * as `unknownUser`. The first 20 by line, and how many in all.
   */
  unknownUsers?: { listed: InputError[]; count: number };
  /** The lookups of the users the input names by email or username; undefined when it names them all by uid. */
  resolution?: ResolutionStats | undefined;
}

/** Keeps the `max` smallest-line entries of a list, in line order. */
function keepFirst(list: InputError[], error: InputError, max: number) {
  if (list.length >= max && (list.at(-1) as InputError).line <= error.line) return;
  let i = list.length;
  while (i > 0 && (list[i - 1] as InputError).line > error.line) i--;
  list.splice(i, 0, error);
  if (list.length > max) list.pop();
}

/**
 * Runs the plan pass. With a `journal`, every valid item is also written to it as `pending` (and every merged
 * repeat as `duplicate`), in the same pass.
 *
 * @example
 * ```ts
 * const options = {} as Parameters<typeof makePlan>[0]; // pod, command, input, … from run.ts
 * const plan = await makePlan({ ...options, format: "csv", interrupt: undefined, journal: undefined });
 * if (plan.invalidCount > 0) process.exitCode = 2;
 * ```
 */
export async function makePlan(options: {
  pod: PodClient;
  command: Command;
  input: InputFile;
  format: "csv" | "jsonl";
  interrupt: AbortSignal | undefined;
  journal: Journal | undefined;
  /**
   * Whether `pod` can look users up (false for a dry run's client, which has no session): a file naming users by
   * email or username is then refused. Default true.
   */
  canLookUp?: boolean;
  /** Lookup calls at once (1–100; the run's `--concurrency` is capped there). Default 10. */
  lookupConcurrency?: number;
  /** The guards (passes/guards.ts): they see each valid item, a chunk at a time, before it is journalled. */
  guards?: PlanGuards | undefined;
}): Promise<Plan> {
  const { pod, command, input, format, interrupt, journal } = options;
  const operation = command.operation;
  const many = manyPerUser(operation);
  const label = input.label;
  const plan: Plan = {
    items: 0,
    calls: 0,
    users: 0,
    invalid: [],
    invalidCount: 0,
    warnings: [],
    warningCount: 0,
    repeats: 0,
    merged: new BitSet(),
    resumed: undefined,
    interrupted: false,
    unknownUsers: { listed: [], count: 0 },
    resolution: undefined,
  };
  const unknownUsers = plan.unknownUsers as { listed: InputError[]; count: number };
  const addInvalid = (error: InputError) => {
    plan.invalidCount++;
    keepFirst(plan.invalid, error, MAX_LISTED_INVALID);
  };
  const addWarning = (warning: InputError) => {
    plan.warningCount++;
    if (warning.rule === "duplicate") plan.repeats++;
    keepFirst(plan.warnings, warning, MAX_LISTED_WARNINGS);
  };

  // A journal (a report of a run that stopped early) says which of its items are settled already.
  const scan = format === "jsonl" ? await scanJournal(input.path) : undefined;
  if (scan) plan.resumed = { applied: scan.applied };

  const where = new WeakMap<
    object,
    { line: number; ordinal: number; unknown?: { source: object; users: UnknownUser[] } | undefined }
  >();
  let ordinal = 0;
  // Users named by email or username are looked up a chunk at a time; the items go on with their uids.
  const resolver = new UserResolver(options.canLookUp === false ? undefined : pod, {
    label,
    concurrency: options.lookupConcurrency,
    signal: interrupt,
  });
  /** The column that names the users, for messages: `uid`, or the one the items were resolved from. */
  let userColumn = "uid";
  async function* items() {
    const records = resolver.resolve(readItems(operation, input.open(), label, format, { reopen: input.open }));
    try {
      yield* planned(records);
    } catch (error) {
      if (interrupt?.aborted) return; // a lookup cut short by Ctrl-C
      throw error;
    }
  }
  async function* planned(records: ReturnType<typeof resolver.resolve>) {
    for await (const record of records) {
      if (interrupt?.aborted) return;
      if ("error" in record) {
        if (scan?.incompleteLastLine && record.line === scan.lines) {
          addWarning(
            new InputError(
              label,
              record.line,
              undefined,
              "complete line",
              "cut short (the run writing this report stopped mid-line): ignored; its item is applied again",
            ),
          );
        } else addInvalid(record.error);
      } else if ("warning" in record) addWarning(record.warning);
      else if ("item" in record) {
        const meta = record.meta;
        // An `unchanged` line (--only-changes) holds no item: its item is settled, like a `succeeded` one.
        if (meta?.status === "unchanged") continue;
        if (scan && meta?.status === "pending" && meta.item !== undefined && scan.settled.has(meta.item)) continue;
        const source = "source" in record ? record.source : undefined;
        if (source?.item.email !== undefined) userColumn = "email";
        else if (source?.item.username !== undefined) userColumn = "username";
        if (source && source.unknown.length > 0) {
          // Validated like any other item (with a placeholder uid), then kept for the report; never numbered or sent.
          where.set(record.item as object, {
            line: record.line,
            ordinal: -1,
            unknown: { source: source.item, users: source.unknown },
          });
        } else where.set(record.item as object, { line: record.line, ordinal: ordinal++ });
        yield record.item;
      }
    }
  }

  const sorter = new KeySorter();
  /** A valid item, checked by the guards: into the journal (its `pending` lines come first, before any other). */
  const journalPending = async (entry: GuardEntry) => {
    if (journal && plan.invalidCount === 0) {
      const full = journal.pending(entry.item, entry.ordinal, entry.line);
      if (full) await full;
    }
  };
  const { guards } = options;
  let guarded: GuardEntry[] = [];
  // The guards read the pod only while the file is valid and the run not interrupted: a refused file costs no read.
  const reads = () => plan.invalidCount === 0 && !interrupt?.aborted;
  const runGuards = async () => {
    if (!guards || guarded.length === 0) return;
    const chunk = guarded;
    guarded = [];
    const { kept, invalid } = await guards.check(chunk, reads());
    for (const error of invalid) addInvalid(error);
    plan.items -= chunk.length - invalid.length - kept.length; // skipped (--skip-disabled): never sent
    for (const entry of kept) await journalPending(entry);
  };
  try {
    const bulk = pod.bulk.stream[BULK_METHOD[operation]] as LooseBulk;
    for await (const outcome of bulk(items(), { dryRun: true, concurrency: 1000 })) {
      const at = where.get(outcome.input as object) ?? { line: 0, ordinal: 0, unknown: undefined };
      if (outcome.status === "succeeded" && at.unknown) {
        const message = unknownUserMessage(at.unknown.users);
        const first = at.unknown.users[0] as UnknownUser;
        unknownUsers.count++;
        keepFirst(
          unknownUsers.listed,
          new InputError(label, at.line, first.column, "unknownUser", message),
          MAX_LISTED_UNKNOWN,
        );
        if (journal && plan.invalidCount === 0)
          await journal.unknownUser(at.unknown.source, at.line, at.unknown.users, message);
      } else if (outcome.status === "succeeded") {
        const input = outcome.input as Record<string, unknown>;
        const second = many ? many.secondKey(input) : undefined;
        const flag = many && input[many.choice.field] === many.choice.values[1] ? 1 : 0;
        sorter.add(outcome.uid, second, at.line, at.ordinal, flag);
        await sorter.flushIfFull();
        plan.items++;
        const entry = { uid: outcome.uid, item: input, line: at.line, ordinal: at.ordinal };
        if (!guards) await journalPending(entry);
        else if (guarded.push(entry) >= GUARD_CHUNK) await runGuards();
      } else if (outcome.status === "failed") {
        const error = outcome.error;
        const rule = error instanceof ValidationError ? error.rule : "invalid";
        addInvalid(new InputError(label, at.line, undefined, rule, printable(error.message)));
      }
    }
    if (interrupt?.aborted) {
      plan.interrupted = true;
      return plan;
    }
    await findRepeats(operation, label, userColumn, sorter, plan, addInvalid, addWarning, journal);
    // The last chunk after the repeats: a file of up to GUARD_CHUNK items that is refused costs no read.
    await runGuards();
    // `--exact` delegates: the removals, once every row of the file is known (never repeats: no row names them).
    for (const entry of (await guards?.finish(reads())) ?? []) {
      plan.items++;
      await journalPending({ ...entry, ordinal: ordinal++ });
    }
  } finally {
    await sorter.close();
  }
  if (resolver.stats.emails + resolver.stats.usernames > 0) plan.resolution = resolver.stats;
  plan.calls = plan.items - plan.merged.size;
  return plan;
}

/**
 * Users (or, for delegates, user and delegate pairs) that appear twice, found by sorting the keys: the calls would
 * race. Two identical delegate changes are merged with a warning; two different ones are a contradiction.
 */
async function findRepeats(
  operation: Operation,
  label: string,
  userColumn: string,
  sorter: KeySorter,
  plan: Plan,
  addInvalid: (error: InputError) => void,
  addWarning: (warning: InputError) => void,
  journal: Journal | undefined,
) {
  const first: KeyRecord = { hi1: 0, lo1: 0, hi2: 0, lo2: 0, line: 0, ordinal: 0, flag: 0 };
  let haveFirst = false;
  let userHi = -1;
  let userLo = -1;
  const many = manyPerUser(operation);
  const choice = (flag: number) => many?.choice.values[flag === 1 ? 1 : 0];
  await sorter.merge((r) => {
    const sameUser = userHi === r.hi1 && userLo === r.lo1;
    if (!sameUser) {
      plan.users++;
      userHi = r.hi1;
      userLo = r.lo1;
    }
    const sameKey = sameUser && haveFirst && first.hi2 === r.hi2 && first.lo2 === r.lo2;
    if (!sameKey) {
      Object.assign(first, r);
      haveFirst = true;
      return;
    }
    const f = first;
    const uid = keyText(r.hi1, r.lo1);
    if (!many) {
      addInvalid(
        new InputError(
          label,
          r.line,
          userColumn,
          "one call per user",
          `user ${uid} appears again (first at line ${f.line}); name each user once (one JSON Lines item, one spelling), or two calls for them would race`,
        ),
      );
      return;
    }
    const what = `user ${uid}, ${many.secondNoun} ${keyText(r.hi2, r.lo2)}`;
    if (r.flag !== f.flag) {
      addInvalid(
        new InputError(
          label,
          r.line,
          many.choice.field,
          "no contradiction",
          `${what}, is "${choice(r.flag)}" here but "${choice(f.flag)}" at ${label}:${f.line}; keep one of the two rows`,
        ),
      );
      return;
    }
    plan.merged.add(r.ordinal);
    addWarning(
      new InputError(
        label,
        r.line,
        undefined,
        "duplicate",
        `repeats line ${f.line} (${what}, ${choice(r.flag)}): merged into one`,
      ),
    );
    if (journal && plan.invalidCount === 0) return journal.duplicate(r.ordinal, r.line, f.line);
  });
}

/**
 * Prints the plan: counts on stdout, the invalid rows and warnings on stderr.
 *
 * @example
 * ```ts
 * const options = {} as Parameters<typeof makePlan>[0]; // pod, command, input, … from run.ts
 * const plan = await makePlan(options);
 * printPlan(process, options.command, options.input.label, plan, 300, true);
 * ```
 */
export function printPlan(
  io: { stdout: { write(text: string): unknown }; stderr: { write(text: string): unknown } },
  command: Command,
  label: string,
  plan: Plan,
  concurrency: number,
  dryRun: boolean,
): void {
  const out = io.stdout;
  out.write(`${dryRun ? "Plan (dry run, nothing sent)" : "Plan"}: ${command.label} from ${label}\n`);
  if (plan.resumed) {
    out.write(`  a report of an earlier run: ${plural(plan.resumed.applied, "item")} it applied are skipped\n`);
  }
  out.write(
    `  ${plural(plan.users, "user")}, ${plural(plan.calls, "call")} (${command.call}), concurrency ${concurrency}\n`,
  );
  const resolution = plan.resolution;
  if (resolution) {
    const by = [
      resolution.emails > 0 ? plural(resolution.emails, "email") : "",
      resolution.usernames > 0 ? plural(resolution.usernames, "username") : "",
    ].filter(Boolean);
    const kinds = by.length === 2 ? "email and username" : resolution.emails > 0 ? "email" : "username";
    out.write(
      `  users named by ${kinds}: ${by.join(" and ")} looked up in ${plural(resolution.calls, "call")} ` +
        `(GET /v3/users): ${resolution.found} resolved, ${resolution.unknown} unknown\n`,
    );
  }
  const unknown = plan.unknownUsers;
  if (unknown && unknown.count > 0) {
    out.write(
      `  ${plural(unknown.count, "item")} naming a user the pod does not know: not sent` +
        `${dryRun ? "" : ", kept in the report (status unknownUser)"}\n`,
    );
    for (const error of unknown.listed) io.stderr.write(`  unknown user: ${error.message}\n`);
    if (unknown.count > unknown.listed.length) {
      io.stderr.write(`  … and ${plural(unknown.count - unknown.listed.length, "more unknown user")}\n`);
    }
  }
  out.write(`  ${plural(plan.invalidCount, "invalid row")}\n`);
  if (plan.repeats > 0) out.write(`  ${plural(plan.repeats, "repeated row")} merged into the row they repeat\n`);
  for (const warning of plan.warnings) io.stderr.write(`  warning: ${warning.message}\n`);
  if (plan.warningCount > plan.warnings.length) {
    io.stderr.write(`  … and ${plural(plan.warningCount - plan.warnings.length, "more warning")}\n`);
  }
  for (const error of plan.invalid) io.stderr.write(`  ${error.message}\n`);
  if (plan.invalidCount > plan.invalid.length) {
    io.stderr.write(`  … and ${plan.invalidCount - plan.invalid.length} more\n`);
  }
  if (plan.invalidCount > 0) io.stderr.write("Nothing was sent: fix the rows above and run again.\n");
}

/** How a write with several items per user (delegates) tells them apart; undefined for one item per user. */
function manyPerUser(operation: Operation) {
  const { rows } = rulesOf(operation);
  return rows.kind === "single" && rows.perUser.many ? rows.perUser : undefined;
}
