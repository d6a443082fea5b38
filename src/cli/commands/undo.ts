/**
 * `pod-admin undo FILE`: turns an undo journal into the items that restore what it recorded (changes.ts
 * `undoItem`), written to a temporary JSON Lines file that the apply machinery then runs like any input: the same
 * plan, dry run, progress, report and exit codes. Each item sits on its journal line's line number, so whatever
 * the plan says about an item names the journal's `file:line`.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { plural, quote } from "../../core/text.js";
import { UsageError } from "../../core/usage-error.js";
import { rulesOf } from "../../operations/index.js";
import { COMMANDS, type Command } from "../args.js";
import { UNDO_OPERATION, undoItem } from "../changes.js";
import { readUndoJournal } from "../files/journal.js";
import type { Operation } from "../input/readers.js";
import type { InputFile } from "../input/source.js";

/** Warnings listed at most; the rest are counted. */
const MAX_LISTED = 20;

/**
 * What undo will apply: the command whose items restore the journal's states, and those items as an input file.
 *
 * @example
 * ```ts
 * const undo = await prepareUndo("undo.jsonl", "https://acme.symphony.com/pod", process.stderr);
 * if (undo.items === 0) console.log("nothing to undo");
 * await undo.input.cleanup();
 * ```
 */
export interface PreparedUndo {
  command: Command;
  input: InputFile;
  /** Items to apply. */
  items: number;
  /** Journal lines that need nothing (a delegate change that changed nothing). */
  nothingToUndo: number;
  /** Features the run set that had no value before: the API cannot unset them, so undo cannot reverse them. */
  cannotUndo: number;
}

/**
 * Reads and checks the journal, refuses one from another pod, and writes the inverse items. Features that had no
 * value before the run cannot be unset through the API: they are left as they are, with a warning.
 *
 * @example
 * ```ts
 * const undo = await prepareUndo("undo.jsonl", undefined, process.stderr); // a dry run without --pod
 * console.log(`${undo.command.words}: ${undo.items} items`);
 * ```
 * @throws UsageError for a malformed journal (`file:line`) or one from another pod.
 */
export async function prepareUndo(
  file: string,
  podUrl: string | undefined,
  stderr: { write(text: string): unknown },
): Promise<PreparedUndo> {
  const { header, lines } = await readUndoJournal(file);
  if (podUrl !== undefined && normalize(podUrl) !== normalize(header.pod)) {
    await lines.return(undefined);
    throw new UsageError(
      `${file}:1: this journal was written against ${quote(header.pod, 200)}, not ${quote(podUrl, 200)}: undo it ` +
        "against the pod it came from",
    );
  }
  const operation: Operation = UNDO_OPERATION[header.operation];
  const command = Object.values(COMMANDS).find((c) => c.operation === operation) as Command;
  const dir = await mkdtemp(join(tmpdir(), "pod-admin-undo-"));
  const path = join(dir, "undo.jsonl");
  const cleanup = () => rm(dir, { recursive: true, force: true });
  const prepared: PreparedUndo = {
    command,
    input: { path, label: file, open: () => createReadStream(path), cleanup },
    items: 0,
    nothingToUndo: 0,
    cannotUndo: 0,
  };
  let unset = 0;
  try {
    const out = createWriteStream(path);
    const write = async (text: string) => {
      if (!out.write(text)) await new Promise<void>((done) => out.once("drain", () => done()));
    };
    let written = 1;
    await write("\n"); // the header's line
    const { lost } = rulesOf(header.operation).undo;
    for await (const line of lines) {
      // Blank lines keep each item on its journal line's number.
      while (written < line.line - 1) {
        await write("\n");
        written++;
      }
      written++;
      if ("cutShort" in line) {
        stderr.write(
          `  warning: ${file}:${line.line}: cut short (the run writing it was stopped before sending anything for it): ignored\n`,
        );
        await write("\n");
        continue;
      }
      const entry = line.entry;
      const lostNames = lost?.names(entry as never) ?? [];
      for (const name of lostNames) {
        if (unset++ < MAX_LISTED) {
          stderr.write(
            `  warning: ${file}:${line.line}: user ${entry.uid}, ${lost?.noun} ${quote(name)} had no value before the run; ` +
              "the API cannot unset it: left as it is\n",
          );
        }
      }
      const item = undoItem(header.operation, entry);
      if (item === undefined) {
        // A line whose only features had no value before is not "nothing to undo": it cannot be undone.
        if (lostNames.length === 0) prepared.nothingToUndo++;
        await write("\n");
        continue;
      }
      prepared.items++;
      await write(`${JSON.stringify(item)}\n`);
    }
    await new Promise<void>((done, fail) => {
      out.once("error", fail);
      out.end(() => done());
    });
  } catch (error) {
    await cleanup();
    throw error;
  }
  prepared.cannotUndo = unset;
  if (unset > MAX_LISTED) stderr.write(`  … and ${plural(unset - MAX_LISTED, "more feature")} left as they are\n`);
  return prepared;
}

/** Two spellings of one pod URL: case of the host and a trailing slash do not matter. */
function normalize(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host.toLowerCase()}${parsed.pathname.replace(/\/+$/, "")}`;
  } catch {
    return url;
  }
}
