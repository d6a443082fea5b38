/**
 * The undo journal (`--journal FILE`): JSON Lines, a first line naming the operation and the pod, then one line per
 * item to be written with the state its user held when it was read. Every line is written to the file as soon as it
 * is known (a `kill -9` loses nothing written) and synced to disk every second and before the first write is sent.
 * `pod-admin undo FILE` reads it back ({@link readUndoJournal}).
 */
import { closeSync, createReadStream, fdatasyncSync, fsyncSync, writeSync } from "node:fs";
import { lstat, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { canonicalUserId } from "../../core/ids.js";
import { printable, quote } from "../../core/text.js";
import { UsageError } from "../../core/usage-error.js";
import { rulesOf, WRITE_OF_LAYOUT } from "../../operations/index.js";
import type { BeforeOf } from "../changes.js";
import { OverlongLine, readLines } from "../input/lines.js";
import { MAX_ROW_BYTES, type Operation } from "../input/readers.js";
import { ReportUnwritableError } from "./report.js";
import { createExclusiveSync, UnsafeFileError } from "./safe-file.js";

/**
 * The key of the journal's first line.
 *
 * @example
 * ```ts
 * const first = JSON.stringify({ [UNDO_KEY]: { version: 1, operation: "features", pod: "https://acme.symphony.com/pod" } });
 * ```
 */
export const UNDO_KEY = "_undo";

const SYNC_MS = 1000;

/**
 * What the journal's first line says.
 *
 * @example
 * ```ts
 * const header: UndoHeader = { version: 1, operation: "features", command: "features apply", pod: "https://acme.symphony.com/pod", created: new Date().toISOString() };
 * ```
 */
export interface UndoHeader {
  version: 1;
  operation: Operation;
  /** The command that wrote it, e.g. `apps patch`. */
  command: string;
  /** The pod's base URL (never with credentials: `--pod` refuses them). */
  pod: string;
  created: string;
}

/**
 * An undo journal being written. Opening refuses a directory and an existing file (a journal holds one run: a
 * second run appending to it would record states the first run wrote, and undo would restore those).
 *
 * @example
 * ```ts
 * const journal = await UndoJournal.create("undo.jsonl", { operation: "delegates", command: "delegates apply", pod: "https://acme.symphony.com/pod" });
 * journal.record({ uid: "1", userId: "2", action: "ADD", held: false });
 * journal.close();
 * ```
 */
export class UndoJournal {
  readonly path: string;
  #fd: number | undefined;
  #lastSync = Date.now();
  /** Entries written. */
  entries = 0;

  private constructor(path: string, fd: number) {
    this.path = path;
    this.#fd = fd;
  }

  /**
   * Refuses a journal path that is a directory or an existing file, before the plan reads anything (exit 2).
   *
   * @example
   * ```ts
   * await UndoJournal.refuseExisting("undo.jsonl");
   * ```
   */
  static async refuseExisting(path: string): Promise<void> {
    const full = resolve(path);
    const existing = await lstat(full).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new ReportUnwritableError(`--journal ${path} is a directory: name a file (e.g. ${path}/undo.jsonl)`);
    }
    if (existing && !existing.isSymbolicLink()) {
      throw new ReportUnwritableError(
        `--journal ${path} exists: a journal holds one run, so undo restores exactly what that run changed; name a new file`,
      );
    }
  }

  /** Creates the file and writes its first line, synced. @throws ReportUnwritableError (exit 2, nothing sent). */
  static async create(path: string, header: Omit<UndoHeader, "version" | "created">): Promise<UndoJournal> {
    const full = resolve(path);
    await UndoJournal.refuseExisting(path);
    let fd: number;
    try {
      fd = createExclusiveSync(full);
    } catch (error) {
      if (error instanceof UnsafeFileError) throw new ReportUnwritableError(`--journal ${error.message}`);
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === "ENOENT" ? `${dirname(full)} does not exist` : (error as Error).message;
      throw new ReportUnwritableError(`cannot write the undo journal ${path}: ${printable(why)}`);
    }
    const journal = new UndoJournal(path, fd);
    const first: UndoHeader = { version: 1, ...header, created: new Date().toISOString() };
    try {
      journal.#write(`${JSON.stringify({ [UNDO_KEY]: first })}\n`);
      fsyncSync(fd);
    } catch (error) {
      journal.close();
      throw new ReportUnwritableError(`cannot write the undo journal ${path}: ${printable((error as Error).message)}`);
    }
    return journal;
  }

  /** One item's state before its write; on the disk's page cache when this returns. @throws on a write error. */
  record(entry: BeforeOf[Operation]): void {
    this.#write(`${JSON.stringify(entry)}\n`);
    this.entries++;
    if (Date.now() - this.#lastSync >= SYNC_MS) this.sync();
  }

  /** Syncs to disk: called before the first write is sent. */
  sync(): void {
    if (this.#fd === undefined) return;
    fdatasyncSync(this.#fd);
    this.#lastSync = Date.now();
  }

  /** Syncs and closes. */
  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  #write(text: string) {
    if (this.#fd === undefined) throw new Error("the journal is closed");
    const data = Buffer.from(text);
    let written = 0;
    while (written < data.length) written += writeSync(this.#fd, data, written);
  }
}

/**
 * A line of a journal read back: its entry, or (for a last line cut short by a kill) a warning.
 *
 * @example
 * ```ts
 * const line: UndoLine = { line: 2, entry: { uid: "1", userId: "2", action: "ADD", held: false } };
 * ```
 */
export type UndoLine = { line: number; entry: BeforeOf[Operation] } | { line: number; cutShort: true };

/**
 * Reads an undo journal: its header, then its entries in order, each checked for the header's operation. A
 * malformed line is a {@link UsageError} naming `file:line` and what is wrong (nothing is sent).
 *
 * @example
 * ```ts
 * const { header, lines } = await readUndoJournal("undo.jsonl");
 * for await (const line of lines) if ("entry" in line) console.log(line.entry.uid);
 * console.log(header.operation);
 * ```
 */
export async function readUndoJournal(file: string): Promise<{ header: UndoHeader; lines: AsyncGenerator<UndoLine> }> {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${error.code === "ENOENT" ? "no such file" : printable(error.message)}`);
  });
  if (info.isDirectory()) throw new UsageError(`cannot read ${quote(file)}: it is a directory; give a journal file`);
  const handle = createReadStream(file);
  const reader = readLines(handle, MAX_ROW_BYTES);
  const endsWithNewline = info.size === 0 || (await lastByte(file, info.size)) === 0x0a;
  const fail = (line: number, detail: string) => new UsageError(`${file}:${line}: ${detail}`);
  const first = await reader.next();
  if (first.value instanceof OverlongLine) throw fail(1, first.value.detail);
  const header = parseHeader(first.done ? "" : first.value, (detail) => fail(1, detail));

  async function* lines(): AsyncGenerator<UndoLine> {
    let line = 1;
    let pendingError: UsageError | undefined;
    try {
      for (;;) {
        const next = await reader.next();
        if (next.done) break;
        line++;
        // An error on the last line of a file cut short is the kill's, not the file's: said by the caller.
        if (pendingError) throw pendingError;
        const text = next.value;
        if (text instanceof OverlongLine) throw fail(line, text.detail);
        if (text.trim() === "") continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          pendingError = fail(line, `not valid JSON (${printable((error as Error).message, 120)})`);
          continue;
        }
        const problem = checkEntry(header.operation, value);
        if (problem) throw fail(line, problem);
        yield { line, entry: value as BeforeOf[Operation] };
      }
      if (pendingError) {
        if (!endsWithNewline) yield { line, cutShort: true };
        else throw pendingError;
      }
    } finally {
      handle.destroy();
    }
  }
  return { header, lines: lines() };
}

async function lastByte(file: string, size: number): Promise<number | undefined> {
  const stream = createReadStream(file, { start: size - 1, end: size - 1 });
  for await (const chunk of stream as AsyncIterable<Buffer>) return chunk[0];
  return undefined;
}

const OPERATIONS = Object.keys(WRITE_OF_LAYOUT) as Operation[];

function parseHeader(text: string, fail: (detail: string) => UsageError): UndoHeader {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw fail(`not an undo journal: its first line must be the ${UNDO_KEY} line --journal writes`);
  }
  const header = (value as Record<string, unknown> | null)?.[UNDO_KEY] as Partial<UndoHeader> | undefined;
  if (header === undefined || header === null || typeof header !== "object") {
    throw fail(`not an undo journal: its first line must be the ${UNDO_KEY} line --journal writes`);
  }
  if (header.version !== 1) throw fail(`unknown journal version ${quote(String(header.version))}; expected 1`);
  if (!OPERATIONS.includes(header.operation as Operation)) {
    throw fail(`unknown operation ${quote(String(header.operation))}; expected one of ${OPERATIONS.join(", ")}`);
  }
  if (typeof header.pod !== "string" || typeof header.command !== "string") {
    throw fail("the first line must name the pod and the command that wrote the journal");
  }
  return header as UndoHeader;
}

/** What is wrong with an entry for `operation`, or undefined: its fields and uid here, the rest by the write's rule. */
function checkEntry(operation: Operation, value: unknown): string | undefined {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "each line must be a JSON object";
  const entry = value as Record<string, unknown>;
  const { journal } = rulesOf(operation);
  const shape = `a ${operation} journal line has ${journal.fields.join(", ")}`;
  for (const key of Object.keys(entry)) {
    if (!journal.fields.includes(key)) return `unknown field ${quote(key)}: ${shape}`;
  }
  if (typeof entry.uid !== "string" || canonicalUserId(entry.uid) === undefined) {
    return `"uid" must be a positive int64 user id as a string: ${shape}`;
  }
  return journal.check(entry, shape);
}
