/**
 * The simulator's `--directory FILE`: a CSV file with a header, or JSON Lines (`.jsonl`, `.ndjson`), read into
 * directory entries. Every error is a UsageError naming `file:line` and the rule, for the person at the terminal.
 */

import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parse as parseCsv } from "csv-parse";
import { UsageError } from "../core/usage-error.js";
import { Directory, type SimulatorDirectoryEntry } from "./directory.js";
import { readJsonExact } from "./json.js";

const REQUIRED = ["uid", "email"] as const;
const COLUMNS: ReadonlySet<string> = new Set([...REQUIRED, "username", "displayName", "status"]);
const COLUMN_LIST = [...COLUMNS].join(", ");

/**
 * Reads a directory file: CSV (`uid,email` required in the header; `username`, `displayName`, `status` optional, empty
 * cells meaning "not given") or, for a `.jsonl`/`.ndjson` name, one JSON object a line with the same keys. The
 * entries are checked by the simulator's own rules (a positive int64 uid, an email, no uid, email or username twice)
 * before the pod starts.
 *
 * @example
 * ```ts
 * const directory = await readDirectoryFile("users.csv");
 * const pod = await startSimulatedPod({ directory });
 * ```
 * @throws UsageError naming `file:line` and the rule broken, or the file that cannot be read.
 * @internal
 */
export async function readDirectoryFile(file: string): Promise<SimulatorDirectoryEntry[]> {
  const entries: SimulatorDirectoryEntry[] = [];
  const lines: number[] = [];
  const add = (entry: SimulatorDirectoryEntry, line: number) => {
    entries.push(entry);
    lines.push(line);
  };
  const input = createReadStream(file);
  // Opening errors (ENOENT, EISDIR) come from the stream; without this they would reach the readers as parse errors.
  const opened = new Promise<void>((resolve, reject) => {
    input.once("open", () => resolve());
    input.once("error", reject);
  });
  try {
    await opened;
  } catch (error) {
    throw new UsageError(`--directory: cannot read ${file}: ${(error as Error).message}`);
  }
  if (/\.(jsonl|ndjson)$/i.test(file)) await readJsonLines(input, file, add);
  else await readCsv(input, file, add);
  try {
    new Directory(entries, (index) => `${file}:${lines[index]}`);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return entries;
}

type Add = (entry: SimulatorDirectoryEntry, line: number) => void;

async function readJsonLines(input: NodeJS.ReadableStream, file: string, add: Add): Promise<void> {
  let line = 0;
  for await (const raw of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, "") : raw;
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      // Uids beyond 2^53 written as bare numbers would be rounded by JSON.parse: read them again as bigints.
      value = readJsonExact(text);
    } catch {
      throw new UsageError(`${file}:${line}: not valid JSON`);
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new UsageError(`${file}:${line}: each line must be a JSON object with uid and email`);
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!COLUMNS.has(key))
        throw new UsageError(`${file}:${line}: unknown key ${JSON.stringify(key)}; the keys are ${COLUMN_LIST}`);
    }
    for (const key of REQUIRED) {
      if (record[key] === undefined) throw new UsageError(`${file}:${line}: ${key} is required`);
    }
    add(record as unknown as SimulatorDirectoryEntry, line);
  }
}

async function readCsv(input: NodeJS.ReadableStream, file: string, add: Add): Promise<void> {
  let header: string[] | undefined;
  const parser = input.pipe(
    parseCsv({
      columns: (names: string[]) => {
        header = names;
        for (const name of names) {
          if (!COLUMNS.has(name)) {
            throw new UsageError(`${file}:1: unknown column ${JSON.stringify(name)}; the columns are ${COLUMN_LIST}`);
          }
        }
        for (const name of REQUIRED) {
          if (!names.includes(name)) throw new UsageError(`${file}:1: the header must have the ${name} column`);
        }
        return names;
      },
      bom: true,
      trim: true,
      skip_empty_lines: true,
      info: true,
    }),
  );
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
    }>) {
      const entry: Record<string, string> = {};
      // An empty cell is a field not given: the entry's default applies.
      for (const [name, value] of Object.entries(record)) if (value !== "") entry[name] = value;
      for (const name of REQUIRED) {
        if (entry[name] === undefined) throw new UsageError(`${file}:${info.lines}: ${name} is required`);
      }
      add(entry as unknown as SimulatorDirectoryEntry, info.lines);
    }
  } catch (error) {
    if (error instanceof UsageError) throw error;
    const { lines, message } = error as Error & { lines?: number };
    throw new UsageError(`${file}:${lines ?? 1}: not valid CSV (${message})`);
  }
  if (header === undefined) {
    throw new UsageError(
      `${file}:1: the file is empty: expected a header row (uid,email[,username,displayName,status])`,
    );
  }
}
