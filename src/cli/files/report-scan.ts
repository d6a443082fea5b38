import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createInterface } from "node:readline";
import { BitSet } from "../input/keysort.js";
import { REPORT_KEY } from "../input/readers.js";

/**
 * What a journal says is settled: the numbers of the items with an outcome line. `undefined` when the file is not
 * a journal (its first line is not a `pending` one): then every line is an item.
 *
 * @example
 * ```ts
 * const scan = await scanJournal("report.jsonl");
 * if (scan && scan.settled.has(17)) console.log("item 17 was applied, or has a line of its own");
 * ```
 */
export async function scanJournal(
  path: string,
): Promise<{ settled: BitSet; applied: number; lines: number; incompleteLastLine: boolean } | undefined> {
  const PENDING = `"${REPORT_KEY}":{"status":"pending"`;
  const OUTCOME = new RegExp(`"${REPORT_KEY}":\\{"status":"(\\w+)","item":(\\d+)[,}]`);
  // A run killed while writing leaves its last line cut short: it says nothing (its item is applied again).
  const handle = await open(path, "r");
  let incompleteLastLine = false;
  try {
    const { size } = await handle.stat();
    const last = Buffer.alloc(1);
    if (size > 0) {
      await handle.read(last, 0, 1, size - 1);
      incompleteLastLine = last[0] !== 0x0a;
    }
  } finally {
    await handle.close();
  }
  const settled = new BitSet();
  let applied = 0;
  let lines = 0;
  let first = true;
  let previous: string | undefined;
  const take = (line: string) => {
    if (line.includes(PENDING)) return;
    const match = OUTCOME.exec(line);
    if (match) {
      settled.add(Number(match[2]));
      if (match[1] === "succeeded") applied++;
    }
  };
  const input = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of input) {
    lines++;
    if (first) {
      if (line.trim() === "") continue;
      first = false;
      if (!line.includes(PENDING)) {
        input.close();
        return undefined;
      }
    }
    if (previous !== undefined) take(previous);
    previous = line;
  }
  if (first) return undefined;
  if (previous !== undefined && !incompleteLastLine) take(previous);
  return { settled, applied, lines, incompleteLastLine };
}

/**
 * Whether `--report` may replace this file: empty, or its first line is a report's (a `pod-admin` report, journal
 * or report of an earlier run; their lines end with the `_report` key). Read from its first 1 MiB at most.
 */
export async function holdsReport(path: string): Promise<boolean> {
  const handle = await open(path, "r").catch(() => undefined);
  if (handle === undefined) return true; // gone since: nothing to lose
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = buffer.toString("utf8", 0, bytesRead);
    if (text.trim() === "") return true;
    const first = text.trimStart().split("\n", 1)[0] as string;
    return first.startsWith("{") && first.includes(`"${REPORT_KEY}":{"status":"`);
  } finally {
    await handle.close();
  }
}

/** Whether a file starts with an undo journal's header line (`{"_undo":…`), read from its first bytes only. */
export async function holdsUndoJournal(path: string): Promise<boolean> {
  const handle = await open(path, "r").catch(() => undefined);
  if (handle === undefined) return false;
  try {
    const buffer = Buffer.alloc(64);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return /^\s*\{\s*"_undo"\s*:/.test(buffer.toString("utf8", 0, bytesRead));
  } finally {
    await handle.close();
  }
}
