/**
 * The report: a journal in JSON Lines, kept on disk as the run goes, so that whatever stops the run (a failure,
 * Ctrl-C, `kill -9`, a crash) the file says what is left to do, and is itself the input that does it.
 *
 * Life of a journal:
 * 1. The plan pass writes every valid item as a `pending` line to `REPORT.partial` (nothing is sent yet).
 * 2. Before the first call, the file is flushed to disk and renamed to `REPORT`.
 * 3. As outcomes settle they are appended: a short `succeeded` line, or the whole item with the error
 *    (`failed`, `notAttempted`). Each line is handed to the OS as its outcome settles, before the next call takes
 *    its place (a `kill -9` loses none of them), and synced to disk every second.
 * 4. At the end, the journal is replaced (atomically) by the report proper: the `failed` and `notAttempted` lines
 *    only. When that cannot be done, the journal stays, and is just as valid an input.
 *
 * Its files are created by safe-file.ts: `0600`, exclusively, never through a symbolic link, and `REPORT.lock`
 * is held while the run writes them (a second run on the same report is refused).
 *
 * Reading a journal back ({@link scanJournal}): an item is to be applied unless a later line of the same item number
 * settled it, so items applied before the run stopped are never sent again, and items whose outcome was not
 * written (the calls in flight when it stopped) are sent again.
 */

import type { WriteStream } from "node:fs";
import { closeSync, createReadStream, fdatasyncSync, fsyncSync, openSync, rmSync, writeSync } from "node:fs";
import { realpath, rename, rm, stat } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { stringifyJson } from "../../core/json.js";
import { printable } from "../../core/text.js";
import type { UnknownUser } from "../input/identities.js";
import { REPORT_KEY } from "../input/readers.js";
import { holdsReport, holdsUndoJournal } from "./report-scan.js";
import { createExclusive, FileLock, UnsafeFileError } from "./safe-file.js";

/**
 * Outcome lines are written at most this long after they settle: 0, each is written as it settles (it used to wait
 * up to 100 ms, and a `kill -9` then lost more outcomes than the calls in flight).
 *
 * @example
 * ```ts
 * setTimeout(() => console.log("outcomes so far are on disk"), FLUSH_MS);
 * ```
 */
export const FLUSH_MS = 0;
const SYNC_MS = 1000;

/**
 * Thrown when the report cannot be opened or written before anything was sent: the CLI exits 2.
 *
 * @example
 * ```ts
 * const error = await Journal.open("reports/", "users.csv").catch((e: unknown) => e);
 * if (error instanceof ReportUnwritableError) console.error(error.message); // "--report reports/ is a directory: …"
 * ```
 */
export class ReportUnwritableError extends Error {
  override name = "ReportUnwritableError";
}

/**
 * Metadata of a line of the journal or report: what happened to the item, and where it came from.
 *
 * @example
 * ```ts
 * const meta: OutcomeMeta = { status: "failed", line: 4, error: "PodForbiddenError", httpStatus: 403 };
 * ```
 */
export interface OutcomeMeta {
  status: "failed" | "notAttempted";
  line: number | undefined;
  error?: string;
  httpStatus?: number;
  message?: string;
}

/**
 * The journal of one run. Open it with {@link Journal.open} before the plan pass.
 *
 * @example
 * ```ts
 * const journal = await Journal.open("report.jsonl", "users.csv");
 * await journal.pending({ uid: "1", features: [] }, 0, 2);
 * const { pendingBytes } = await journal.commit();
 * journal.succeeded(0);
 * await journal.finish();
 * ```
 */
export class Journal {
  /** Where the journal lives once committed, and where the report ends up. */
  readonly path: string;
  /** Whether `--report` named it (kept even when empty) or the CLI chose the name. */
  readonly named: boolean;
  /** The first write error after the commit; from then on nothing more is written. */
  failure: Error | undefined;
  /** Called once, on the first write error after the commit. */
  onFailure: ((error: Error) => void) | undefined;

  readonly #partial: string;
  #stream: WriteStream | undefined;
  #streamError: Error | undefined;
  #pendingBytes = 0;
  #fd: number | undefined;
  #buffer: string[] = [];
  #bufferBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastSync = 0;
  #committed = false;
  #closed = false;
  #unknownStream: Promise<WriteStream> | undefined;
  #unknownUsers = 0;
  #lock: FileLock | undefined;

  private constructor(path: string, named: boolean) {
    this.path = path;
    this.named = named;
    this.#partial = `${path}.partial`;
  }

  /**
   * Checks where the report goes, locks it (`REPORT.lock`) and creates `REPORT.partial` for the plan's lines.
   * Refused (nothing sent): a directory, the input file itself, an existing file that is not a `pod-admin` report,
   * a report another run is writing, a symbolic link at `REPORT.partial`, a parent that does not exist or cannot be
   * written. `run` names this run in the lock (e.g. `features apply users.csv`).
   */
  static async open(requested: string | undefined, inputPath: string, run = "pod-admin"): Promise<Journal> {
    const path = resolve(requested ?? `pod-admin-report-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`);
    const shown = requested ?? path;
    const existing = await stat(path).catch(() => undefined);
    if (existing?.isDirectory()) {
      throw new ReportUnwritableError(`--report ${shown} is a directory: name a file (e.g. ${shown}/report.jsonl)`);
    }
    // The journal is renamed over the path at the end: a device or a pipe (/dev/null, a FIFO) would be replaced.
    if (existing && !existing.isFile()) {
      throw new ReportUnwritableError(
        `--report ${shown} is not a regular file (a device, a pipe or a socket): the report is a file kept up to date ` +
          "and moved into place, so name a file",
      );
    }
    const inputReal = await realpath(inputPath);
    if ((await realpath(path).catch(() => path)) === inputReal) {
      throw new ReportUnwritableError(
        `--report ${shown} is the input file: the report is written while the input is read; name another file`,
      );
    }
    if (existing && (await holdsUndoJournal(path))) {
      throw new ReportUnwritableError(
        `--report ${shown} is an undo journal (written by --journal): the report would replace it; name another file`,
      );
    }
    if (existing && !(await holdsReport(path))) {
      throw new ReportUnwritableError(
        `--report ${shown} exists and is not a pod-admin report: the report would replace it; name a new file ` +
          "(or remove it first)",
      );
    }
    try {
      await FileLock.refuseIfLocked(inputPath);
    } catch (error) {
      throw new ReportUnwritableError(`the input ${(error as Error).message}`);
    }
    const journal = new Journal(path, requested !== undefined);
    try {
      journal.#lock = await FileLock.acquire(path, "--report", run);
      // The lock is held: a regular REPORT.partial there was left by a run that was killed before sending.
      const handle = await createExclusive(journal.#partial, { replace: true });
      journal.#stream = handle.createWriteStream();
    } catch (error) {
      journal.#lock?.release();
      if (error instanceof UnsafeFileError) throw new ReportUnwritableError(error.message);
      const why =
        (error as NodeJS.ErrnoException).code === "ENOENT"
          ? `${dirname(path)} does not exist`
          : (error as Error).message;
      throw new ReportUnwritableError(`cannot write the report ${shown}: ${printable(why)}`);
    }
    journal.#stream.on("error", (error) => {
      journal.#streamError ??= error;
    });
    return journal;
  }

  /**
   * Plan pass: one item to apply, with its number and its line in the input. Returns a promise only when the
   * file's buffer is full (await it then): a million items cost no million awaits.
   */
  pending(item: object, ordinal: number, line: number): Promise<void> | undefined {
    const stream = this.#stream as WriteStream;
    if (this.#streamError) throw this.#unwritable(this.#streamError);
    const text = `${toJson({ ...item, [REPORT_KEY]: { status: "pending", item: ordinal, line } })}\n`;
    this.#pendingBytes += Buffer.byteLength(text);
    if (stream.write(text)) return undefined;
    return new Promise<void>((done) => stream.once("drain", () => done()));
  }

  /**
   * Plan pass: an item whose user (or delegate) the pod does not know, as read (named by email or username): never
   * sent, and kept in the report with status `unknownUser`, so that applying the report looks it up again. Written
   * aside until the commit, after the `pending` lines (the apply pass reads only those).
   */
  async unknownUser(item: object, line: number, unknown: readonly UnknownUser[], message: string): Promise<void> {
    this.#unknownUsers++;
    const [first] = unknown;
    const meta = { status: "unknownUser", line, column: first?.column, value: first?.value, message };
    await this.#writeAside(`${toJson({ ...item, [REPORT_KEY]: meta })}\n`);
  }

  /**
   * Plan pass: an item the guards keep from being sent (`--skip-disabled`), kept in the report as `notAttempted`
   * with the reason, so that applying the report considers it again. Written aside like the `unknownUser` lines.
   */
  async notSent(item: object, line: number, reason: string, message: string): Promise<void> {
    const meta = { status: "notAttempted", line, reason, message };
    await this.#writeAside(`${toJson({ ...item, [REPORT_KEY]: meta })}\n`);
  }

  async #writeAside(text: string): Promise<void> {
    this.#unknownStream ??= createExclusive(`${this.#partial}.unknown`, { replace: true }).then((handle) =>
      handle.createWriteStream().on("error", (error) => {
        this.#streamError ??= error;
      }),
    );
    const stream = await this.#unknownStream.catch((error: Error) => {
      throw this.#unwritable(error);
    });
    if (!stream.write(text)) await new Promise<void>((done) => stream.once("drain", () => done()));
  }

  /** Plan pass: an item that repeats an earlier one and is merged into it (never sent). */
  async duplicate(ordinal: number, line: number, of: number): Promise<void> {
    // Aside, as the plan's guards may still write `pending` lines after the repeats are found.
    await this.#writeAside(`${stringifyJson({ [REPORT_KEY]: { status: "duplicate", item: ordinal, line, of } })}\n`);
  }

  /**
   * Before the first call: the plan's lines are synced to disk and the file takes its name. Returns how many bytes
   * of it are `pending` lines: the apply pass reads them from there.
   */
  async commit(): Promise<{ pendingBytes: number }> {
    const stream = this.#stream as WriteStream;
    await this.#appendUnknownUsers(stream);
    await new Promise<void>((done) => stream.end(() => done()));
    this.#stream = undefined;
    if (this.#streamError) throw this.#unwritable(this.#streamError);
    try {
      const fd = openSync(this.#partial, "a");
      fsyncSync(fd);
      await rename(this.#partial, this.path);
      this.#fd = fd;
    } catch (error) {
      throw this.#unwritable(error as Error);
    }
    this.#committed = true;
    this.#lastSync = Date.now();
    return { pendingBytes: this.#pendingBytes };
  }

  /** The lines written aside (`unknownUser`, `duplicate`, skipped), copied after the plan's `pending` lines. */
  async #appendUnknownUsers(stream: WriteStream) {
    const aside = await this.#unknownStream?.catch(() => undefined);
    if (aside === undefined) return;
    this.#unknownStream = undefined;
    await new Promise<void>((done) => aside.end(() => done()));
    if (this.#streamError) throw this.#unwritable(this.#streamError);
    for await (const chunk of createReadStream(`${this.#partial}.unknown`)) {
      if (!stream.write(chunk)) await new Promise<void>((done) => stream.once("drain", () => done()));
    }
    await rm(`${this.#partial}.unknown`, { force: true });
  }

  /** Apply pass: the item with this number was applied. */
  succeeded(ordinal: number): void {
    this.#append(`{"${REPORT_KEY}":{"status":"succeeded","item":${ordinal}}}\n`);
  }

  /**
   * `--only-changes`: the user already holds what the item sets, so it is not sent. Settled like an applied item
   * (applying the journal never sends it), and not in the final report.
   */
  unchanged(ordinal: number): void {
    this.#append(`{"${REPORT_KEY}":{"status":"unchanged","item":${ordinal}}}\n`);
  }

  /** Apply pass: the item failed or was not attempted; the line holds the item, so it can be applied again. */
  unapplied(item: object, ordinal: number, meta: OutcomeMeta): void {
    const { status, ...rest } = meta;
    this.#append(`${toJson({ ...item, [REPORT_KEY]: { status, item: ordinal, ...rest } })}\n`);
  }

  /** Writes what is buffered now, synchronously (a second Ctrl-C calls this just before the process exits). */
  flushSync(): void {
    if (this.#fd === undefined || this.#buffer.length === 0 || this.failure) return;
    const data = Buffer.from(this.#buffer.join(""));
    this.#buffer = [];
    this.#bufferBytes = 0;
    try {
      let written = 0;
      while (written < data.length) written += writeSync(this.#fd, data, written);
      if (Date.now() - this.#lastSync >= SYNC_MS) {
        fdatasyncSync(this.#fd);
        this.#lastSync = Date.now();
      }
    } catch (error) {
      this.failure = error as Error;
      this.onFailure?.(this.failure);
    }
  }

  /**
   * After the last outcome: replaces the journal by the report proper (its `failed` and `notAttempted` lines),
   * or removes it when everything applied and `--report` was not given. Returns the report's line count. When the
   * journal could not be written, it is left as it is.
   */
  async finish(): Promise<{ lines: number; removed: boolean }> {
    this.#stopTimer();
    this.flushSync();
    this.#close();
    if (this.failure) throw this.failure;
    const temporary = this.#partial;
    let lines = 0;
    try {
      const stream = (await createExclusive(temporary, { replace: true })).createWriteStream();
      let error: Error | undefined;
      stream.on("error", (e) => {
        error ??= e;
      });
      const input = createInterface({ input: createReadStream(this.path), crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of input) {
        if (
          line.includes(`"${REPORT_KEY}":{"status":"failed"`) ||
          line.includes(`"${REPORT_KEY}":{"status":"notAttempted"`) ||
          line.includes(`"${REPORT_KEY}":{"status":"unknownUser"`)
        ) {
          lines++;
          if (!stream.write(`${line}\n`)) await new Promise<void>((done) => stream.once("drain", () => done()));
          if (error) throw error;
        }
      }
      await new Promise<void>((done) => stream.end(() => done()));
      if (error) throw error;
      const fd = openSync(temporary, "r+");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    if (lines === 0 && !this.named) {
      await rm(temporary, { force: true });
      await rm(this.path, { force: true });
      this.#lock?.release();
      return { lines, removed: true };
    }
    await rename(temporary, this.path);
    this.#lock?.release();
    return { lines, removed: false };
  }

  /** Before the commit only (nothing sent): removes `REPORT.partial`. Afterwards, the journal is never removed. */
  async discard(): Promise<void> {
    if (this.#committed) {
      this.#stopTimer();
      this.flushSync();
      this.#close();
      this.#lock?.release();
      return;
    }
    const stream = this.#stream;
    this.#stream = undefined;
    if (stream) await new Promise<void>((done) => stream.end(() => done()));
    const aside = await this.#unknownStream?.catch(() => undefined);
    this.#unknownStream = undefined;
    if (aside) await new Promise<void>((done) => aside.end(() => done()));
    await rm(this.#partial, { force: true });
    await rm(`${this.#partial}.unknown`, { force: true });
    this.#lock?.release();
  }

  /** For a sudden exit before the commit (a second Ctrl-C during the plan): removes `REPORT.partial` now. */
  discardSync(): void {
    if (this.#committed) return;
    rmSync(this.#partial, { force: true });
    rmSync(`${this.#partial}.unknown`, { force: true });
    this.#lock?.release();
  }

  /** Items the plan kept as `unknownUser` (their user is not on the pod). */
  get unknownUsers(): number {
    return this.#unknownUsers;
  }

  #append(text: string) {
    if (this.failure || this.#closed) return;
    this.#buffer.push(text);
    this.#bufferBytes += text.length;
    // Written now, before the scheduler starts the call that takes this one's place: a kill then re-sends at most
    // the calls in flight. Before the commit (no file yet) lines wait in the buffer.
    if (this.#fd !== undefined) this.flushSync();
  }

  #stopTimer() {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #close() {
    if (this.#fd !== undefined && !this.#closed) {
      try {
        if (!this.failure) fdatasyncSync(this.#fd);
      } catch (error) {
        this.failure ??= error as Error;
      }
      closeSync(this.#fd);
    }
    this.#closed = true;
  }

  #unwritable(error: Error) {
    return new ReportUnwritableError(`cannot write the report ${this.path}: ${printable(error.message)}`);
  }
}

/** JSON of an item: plain `JSON.stringify` (fast), or the int64-aware one when the item holds a bigint. */
function toJson(value: object): string {
  try {
    return JSON.stringify(value);
  } catch {
    return stringifyJson(value);
  }
}
