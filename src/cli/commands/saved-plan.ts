/**
 * Saved plans: `… apply FILE --dry-run --save-plan PLAN` records every change the read pass finds (files/
 * plan-file.ts), and `… apply PLAN` applies exactly those items, each only if its user still holds the state the
 * plan saw. Both hook into the read pass (passes/read.ts `onRead`), by each write's declared rules (`before`,
 * `differences`): nothing here knows an operation.
 */
import { closeSync, createReadStream, openSync, writeSync } from "node:fs";
import { mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringifyJson } from "../../core/json.js";
import { plural, quote } from "../../core/text.js";
import type { ApplyArgs } from "../args.js";
import { UsageError } from "../args.js";
import { beforeEntry } from "../changes.js";
import {
  holdsPlan,
  type PlanChange,
  PlanFileError,
  type PlanHeader,
  PlanWriter,
  readPlan,
} from "../files/plan-file.js";
import { UnsafeFileError } from "../files/safe-file.js";
import type { InputFile } from "../input/source.js";
import type { Plan } from "../passes/plan.js";
import type { ReadHook, ReadPass } from "../passes/read.js";

/**
 * A saved plan opened for applying: its items as the run's input (JSON Lines, each on its plan line's number, so
 * the report names plan lines), and the check that refuses a user whose state changed since the plan was saved.
 *
 * @example
 * ```ts
 * const args = {} as Parameters<typeof openSavedPlan>[0]; // parseApplyArgs(["features", "apply", "plan.jsonl", …])
 * const saved: SavedPlan | undefined = await openSavedPlan(args);
 * if (saved) console.log(`${saved.header.counts.users} users change`);
 * ```
 */
export interface SavedPlan {
  header: PlanHeader;
  input: InputFile;
  onRead: ReadHook;
}

/** Two spellings of one pod URL: case of the host and a trailing slash do not matter. */
function samePod(a: string, b: string): boolean {
  const normalize = (url: string) => {
    try {
      const parsed = new URL(url);
      return `${parsed.protocol}//${parsed.host.toLowerCase()}${parsed.pathname.replace(/\/+$/, "")}`;
    } catch {
      return url;
    }
  };
  return normalize(a) === normalize(b);
}

/** Keys sorted: two records of one state compare equal whatever order their fields were written in. */
function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((key) => [key, sort((v as Record<string, unknown>)[key])]),
          )
        : v;
  return value === undefined ? "" : stringifyJson(sort(JSON.parse(stringifyJson(value))));
}

/** What differs between the state the plan saw and the state read now, field by field (uid aside). */
function whatChanged(planned: Record<string, unknown>, now: Record<string, unknown>): string {
  const keys = [...new Set([...Object.keys(planned), ...Object.keys(now)])].filter((key) => key !== "uid");
  const show = (value: unknown) => (value === undefined ? "(none)" : stringifyJson(value));
  return keys
    .filter((key) => canonical(planned[key]) !== canonical(now[key]))
    .map((key) => `${key} was ${show(planned[key])} in the plan, is ${show(now[key])} now`)
    .join("; ");
}

/**
 * Opens `args.file` as a saved plan, or returns undefined when it is not one. Refused (a {@link UsageError}, exit 2,
 * before any login): a plan cut short or edited, saved for another command or another pod, or options that would
 * change what it sends.
 *
 * @example
 * ```ts
 * const args = {} as Parameters<typeof openSavedPlan>[0]; // from parseApplyArgs
 * const saved = await openSavedPlan(args);
 * try {
 *   // run the apply with saved.input and the read pass's onRead: saved.onRead
 * } finally {
 *   await saved?.input.cleanup();
 * }
 * ```
 */
export async function openSavedPlan(args: ApplyArgs): Promise<SavedPlan | undefined> {
  if (args.file === "-" || !(await holdsPlan(args.file))) return undefined;
  const file = args.file;
  if (args.savePlan !== undefined) throw new UsageError(`${file} is a saved plan already: drop --save-plan`);
  if (args.format === "csv") throw new UsageError(`${file} is a saved plan (JSON Lines): drop --format csv`);
  if (args.podUrl === undefined) {
    throw new UsageError(`--pod URL is required (or set POD_URL): applying ${file} reads each user's state first`);
  }
  const dir = await mkdtemp(join(tmpdir(), "pod-admin-plan-"));
  const path = join(dir, "items.jsonl");
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    // The items, each on its plan line (line 1, the header, blank), and what each user held, by item number.
    const fd = openSync(path, "wx", 0o600);
    writeSync(fd, "\n");
    const expected: { uid: string; before: Record<string, unknown>; canonical: string }[] = [];
    const header = await readPlan(file, (change: PlanChange) => {
      writeSync(fd, `${stringifyJson(change.item)}\n`);
      expected.push({ uid: change.uid, before: change.before, canonical: canonical(change.before) });
    }).finally(() => closeSync(fd));
    if (header.command !== args.command.words) {
      throw new UsageError(
        `${file} is a plan for ${quote(header.command)}, not ${quote(args.command.words)}: apply it with ` +
          `pod-admin ${header.command} ${file}`,
      );
    }
    if (!samePod(header.pod, args.podUrl)) {
      throw new UsageError(
        `${file} was saved against ${quote(header.pod, 200)}, not ${quote(args.podUrl, 200)}: a plan applies to ` +
          "the pod it read",
      );
    }
    const operation = args.command.operation;
    const onRead: ReadHook = ({ item, ordinal, line, uid, current }) => {
      const planned = expected[ordinal];
      if (planned === undefined || planned.uid !== uid) return `user ${uid} (line ${line}): not the plan's item`;
      const now = beforeEntry(operation, item, current) as unknown as Record<string, unknown>;
      if (canonical(now) === planned.canonical) return undefined;
      return `user ${uid} (${file} line ${line}): its state changed since the plan was saved, so the plan's item was not sent: ${whatChanged(planned.before, now)}`;
    };
    return {
      header,
      input: { path, label: file, open: () => createReadStream(path), cleanup },
      onRead,
    };
  } catch (error) {
    await cleanup();
    if (error instanceof PlanFileError) throw new UsageError(`${error.message}. Nothing was sent`);
    throw error;
  }
}

/**
 * `--save-plan PLAN`: opened before any read (an unwritable PLAN is refused with exit 2), fed by the read pass
 * (`onRead`), saved when the dry run ends.
 *
 * @example
 * ```ts
 * const args = {} as Parameters<typeof startSavingPlan>[0]; // from parseApplyArgs, with --save-plan
 * const saving = await startSavingPlan(args, "users.csv");
 * // … the read pass, with onRead: saving.onRead, then:
 * const [plan, reads] = [{}, {}] as unknown as Parameters<typeof saving.finish>;
 * const saved = await saving.finish(plan, reads, process.stdout);
 * ```
 */
export async function startSavingPlan(
  args: ApplyArgs & { savePlan: string },
  inputPath: string,
): Promise<{
  onRead: ReadHook;
  finish: (plan: Plan, reads: ReadPass | undefined, out: Out) => Promise<boolean>;
  close: () => Promise<void>;
}> {
  const real = async (path: string) => realpath(path).catch(() => resolve(path));
  if ((await real(args.savePlan)) === (await real(inputPath))) {
    throw new UsageError(`--save-plan ${args.savePlan} is the input file: name another file`);
  }
  let writer: PlanWriter;
  try {
    writer = await PlanWriter.open(args.savePlan, `${args.command.words} --save-plan ${args.savePlan}`);
  } catch (error) {
    if (error instanceof UnsafeFileError) throw new UsageError(`--save-plan ${error.message}`);
    throw new UsageError(`--save-plan ${args.savePlan}: cannot write it: ${(error as Error).message}`);
  }
  const operation = args.command.operation;
  const onRead: ReadHook = ({ item, line, uid, current, differences }) => {
    if (differences.length === 0) return undefined;
    const before = beforeEntry(operation, item, current) as unknown as Record<string, unknown>;
    writer.add({ uid, line, item: item as unknown as Record<string, unknown>, before, diff: differences });
    return undefined;
  };
  /** Saves the plan unless the reads missed some user (a plan must hold every change); true when saved. */
  const finish = async (plan: Plan, reads: ReadPass | undefined, out: Out): Promise<boolean> => {
    const why =
      reads === undefined || reads.interrupted
        ? "the reads were interrupted"
        : reads.stoppedBy
          ? "the reads stopped"
          : reads.unsent > 0
            ? `${plural(reads.unsent, "item")} could not be read`
            : undefined;
    if (why !== undefined || reads === undefined) {
      await writer.close();
      out.write(`Plan not saved: ${why}, so it would not hold every change.\n`);
      return false;
    }
    await writer.save({
      command: args.command.words,
      pod: args.podUrl as string,
      input: args.file,
      unchanged: reads.unchanged,
      unknownUsers: plan.unknownUsers?.count ?? 0,
    });
    const next =
      writer.changes === 0
        ? "Nothing to apply."
        : `Review, then apply exactly it: pod-admin ${args.command.words} ${writer.path} --pod URL`;
    out.write(
      `Plan saved: ${writer.path} (${plural(writer.changes, "change")}; JSON Lines) and ${writer.diffPath} (the full ` +
        `diff). ${next}\n`,
    );
    return true;
  };
  return { onRead, finish, close: () => writer.close() };
}

type Out = { write(text: string): unknown };
