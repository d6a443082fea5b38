/**
 * `pod-admin features export`, `delegates export`, `apps export`: what the pod holds for some users (named in a file
 * by uid, email or username) or for all of them, written in exactly the layout `apply` takes, so that an export is
 * an input: applying it back with `--only-changes` sends nothing. Streamed: users are read as the input is, at the
 * run's concurrency, and written as they settle.
 */
import { createReadStream, type WriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { parse as parseCsv } from "csv-parse";
import type { PodClient } from "../../api/client.js";
import { PodError, PodUnauthorizedError } from "../../core/errors.js";
import { canonicalUserId } from "../../core/ids.js";
import { AuthenticationError } from "../../core/rsa-auth.js";
import { schedule } from "../../core/scheduler.js";
import { plural, printable, quote } from "../../core/text.js";
import { rulesOf } from "../../operations/index.js";
import { EXIT, type ExportArgs, UsageError } from "../args.js";
import { type CurrentOf, READ_CALL, readCurrent } from "../changes.js";
import { csvCell, unescapeFormula } from "../files/csv-cell.js";
import { createOutput } from "../files/export-output.js";
import type { FileLock } from "../files/safe-file.js";
import { OverlongLine, readLines } from "../input/lines.js";
import { CSV_COLUMNS, formatFor, InputError, MAX_ROW_BYTES, type Operation } from "../input/readers.js";
import type { CliIo } from "../io.js";
import { counterRenderer } from "../progress.js";
import { RepeatedUserError, uidsOnce } from "./user-pages.js";

/** The columns (or JSON fields) that name a user, in the order they are looked for. */
const KEYS = ["uid", "email", "username"] as const;
type Key = (typeof KEYS)[number];
/** Values looked up at once (the library batches them by 100, 10 calls at a time). */
const LOOKUP_CHUNK = 1000;
const MAX_LISTED = 20;
const MAX_INVALID = 50;
/** Users per page of `export --all` (the pod's maximum). */
const PAGE_SIZE = 1000;

/** One user named by the input: the value, its kind, and where. */
interface Named {
  key: Key;
  value: string;
  line: number;
}

/**
 * Runs an export and resolves to its exit code: 0 when every user named was found and read, 1 when some were
 * unknown or could not be read (listed on stderr; the output holds the others), 2 for bad usage or input.
 *
 * @example
 * ```ts
 * const args = {} as Parameters<typeof runExport>[0]; // parseExportArgs(argv, env)
 * const pod = {} as Parameters<typeof runExport>[1]; // podClient(args, token)
 * process.exitCode = await runExport(args, pod, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
 * ```
 */
export async function runExport(args: ExportArgs, pod: PodClient, io: CliIo): Promise<number> {
  const source = args.file === undefined ? undefined : await checkInput(args.file);
  const out = await openOutput(args.out, io);
  const counts = { users: 0, rows: 0, unknown: 0, failed: 0, duplicates: 0 };
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  io.interrupt?.addEventListener("abort", onInterrupt, { once: true });
  const listed = (text: string, count: number) => {
    if (count <= MAX_LISTED) io.stderr.write(`  ${text}\n`);
  };

  async function* uids(): AsyncGenerator<string> {
    if (source === undefined) {
      try {
        yield* uidsOnce(pod.users.list({ pageSize: PAGE_SIZE, signal: controller.signal }), PAGE_SIZE);
      } catch (error) {
        // Ends the input: the calls in flight settle, then the export stops, saying why.
        if (!(error instanceof RepeatedUserError)) throw error;
        listError = error;
      }
      return;
    }
    // A user named twice is exported once: apply refuses a user whose rows are split.
    const seen = new Set<string>();
    const fresh = (uid: string, named: Named) => {
      if (!seen.has(uid)) {
        seen.add(uid);
        return true;
      }
      counts.duplicates++;
      listed(`warning: ${source.label}:${named.line}: user ${uid} is named again: exported once`, counts.duplicates);
      return false;
    };
    let chunk: Named[] = [];
    for await (const named of source.read()) {
      if (controller.signal.aborted) return;
      if (named.key === "uid") {
        const uid = canonicalUserId(named.value) as string;
        if (fresh(uid, named)) yield uid;
        continue;
      }
      chunk.push(named);
      if (chunk.length >= LOOKUP_CHUNK) {
        for (const uid of await resolve(chunk)) if (fresh(uid.uid, uid.named)) yield uid.uid;
        chunk = [];
      }
    }
    for (const uid of await resolve(chunk)) if (fresh(uid.uid, uid.named)) yield uid.uid;
  }

  /** Emails and usernames to uids, with `pod.users.lookup`; the unknown ones listed with their line. */
  async function resolve(chunk: Named[]): Promise<{ uid: string; named: Named }[]> {
    const found: { uid: string; named: Named }[] = [];
    for (const key of ["email", "username"] as const) {
      const part = chunk.filter((named) => named.key === key);
      if (part.length === 0) continue;
      const values = part.map((named) => named.value);
      const { users } = await pod.users.lookup(key === "email" ? { emails: values } : { usernames: values }, {
        signal: controller.signal,
      });
      const byValue = new Map<string, string>();
      for (const user of users) {
        const value = key === "email" ? user.emailAddress?.toLowerCase() : user.username;
        if (value !== undefined) byValue.set(value, user.id.toString());
      }
      for (const named of part) {
        const uid = byValue.get(key === "email" ? named.value.toLowerCase() : named.value);
        if (uid !== undefined) found.push({ uid, named });
        else {
          counts.unknown++;
          listed(`${source?.label}:${named.line}: no user with ${key} ${quote(named.value)}`, counts.unknown);
        }
      }
    }
    return found;
  }

  const progress = args.quiet ? undefined : counterRenderer(io.stderr, `exporting (${READ_CALL[args.operation]})`);
  let stoppedBy: Error | undefined;
  let outputError: Error | undefined;
  let listError: RepeatedUserError | undefined;
  try {
    if (args.format === "csv") await out.write(`${csvHeader(args.operation)}\n`);
    const results = new Map<string, CurrentOf[typeof args.operation]>();
    const outcomes = schedule<string>(
      uids(),
      {
        check: (uid) => uid,
        run: async (uid) => {
          const current = await readCurrent(pod, args.operation, uid);
          results.set(uid, current);
        },
        keyOf: String,
        stopWhen: (error) =>
          error instanceof PodUnauthorizedError ||
          error instanceof AuthenticationError ||
          (error instanceof PodError && error.circuitBreaker !== undefined)
            ? (error as Error)
            : undefined,
      },
      {
        concurrency: args.concurrency,
        signal: controller.signal,
        onProgress: progress?.update,
        progressIntervalMs: 200,
      },
    );
    for (;;) {
      const next = await outcomes.next();
      if (next.done) {
        stoppedBy = next.value.stoppedBy;
        break;
      }
      const outcome = next.value;
      if (outcome.status === "succeeded") {
        const current = results.get(outcome.uid) as CurrentOf[typeof args.operation];
        results.delete(outcome.uid);
        counts.users++;
        const lines = rowsOf(args.operation, args.format, outcome.uid, current);
        counts.rows += lines.length;
        if (lines.length > 0) await out.write(lines.join(""));
      } else if (outcome.status === "failed") {
        counts.failed++;
        if (!stoppedBy) listed(`user ${outcome.uid}: cannot read: ${printable(outcome.error.message)}`, counts.failed);
      } else counts.failed++;
    }
  } catch (error) {
    // The input or the lookup failing mid-way (a lookup error, the file): what was written stays partial.
    if (error instanceof UsageError) throw error;
    outputError = error as Error;
  } finally {
    outputError ??= listError;
    progress?.stop();
    io.interrupt?.removeEventListener("abort", onInterrupt);
  }
  if (counts.failed > MAX_LISTED) io.stderr.write(`  … and ${plural(counts.failed - MAX_LISTED, "more user")}\n`);
  if (counts.unknown > MAX_LISTED) io.stderr.write(`  … and ${counts.unknown - MAX_LISTED} more unknown\n`);
  const complete = !outputError && !stoppedBy && !controller.signal.aborted;
  await out.close(complete);
  if (!complete && args.out !== undefined) io.stderr.write(`What was exported is in ${args.out}.partial.\n`);
  if (stoppedBy)
    io.stderr.write(`The export stopped: ${printable((stoppedBy as PodError).note ?? stoppedBy.message)}.\n`);
  if (outputError) io.stderr.write(`The export stopped: ${printable(outputError.message)}.\n`);
  if (controller.signal.aborted && !stoppedBy) io.stderr.write("Interrupted: the export is incomplete.\n");
  io.stderr.write(
    `Exported ${plural(counts.users, "user")} (${plural(counts.rows, args.format === "csv" ? "row" : "line")})` +
      `${args.out === undefined ? "" : ` to ${args.out}`}` +
      (counts.unknown > 0 ? `; ${counts.unknown} not found` : "") +
      (counts.failed > 0 ? `; ${plural(counts.failed, "user")} not read` : "") +
      ".\n",
  );
  return complete && counts.unknown === 0 && counts.failed === 0 ? EXIT.ok : EXIT.someFailed;
}

/**
 * The CSV header of an export: the apply layout's columns (required first).
 *
 * @example
 * ```ts
 * csvHeader("delegates"); // "uid,userId,action"
 * ```
 */
export function csvHeader(operation: Operation): string {
  const { required, optional } = CSV_COLUMNS[operation];
  return [...required, ...optional].join(",");
}

/**
 * What one user holds, as lines of the apply layout (CSV rows or JSON Lines items, each ending in a newline), as
 * the write declares its export (operations/*.ts). CSV cannot say "no features" or "no apps": such a user has no
 * row; JSON Lines may say it (`{"apps":[]}`) where applying it back means it.
 *
 * @example
 * ```ts
 * rowsOf("delegates", "csv", "1", [2n]); // ["1,2,ADD\n"]
 * ```
 */
export function rowsOf<Op extends Operation>(
  operation: Op,
  format: "csv" | "jsonl",
  uid: string,
  current: CurrentOf[Op],
): string[] {
  const exported = rulesOf(operation).export;
  if (exported === undefined) throw new Error(`${operation} is exported in another layout`);
  const { rows, items } = exported.as(uid, current);
  if (format === "jsonl") return items.map((item) => `${JSON.stringify(item)}\n`);
  const columns = csvHeader(operation).split(",");
  return rows.map((cells) => `${columns.map((column) => csvCell(String(cells[column] ?? ""))).join(",")}\n`);
}

/** Where the export goes: standard output, or FILE written as FILE.partial and renamed when done. */
async function openOutput(file: string | undefined, io: CliIo) {
  let stream: WriteStream | NodeJS.WritableStream = io.stdout;
  let error: Error | undefined;
  let lock: FileLock | undefined;
  if (file !== undefined) {
    const existing = await stat(file).catch(() => undefined);
    if (existing?.isDirectory()) throw new UsageError(`--out ${file} is a directory: name a file`);
    if (existing && !existing.isFile()) {
      throw new UsageError(
        `--out ${file} is not a regular file: the export is written beside it and renamed; name a file`,
      );
    }
    const partial = await createOutput(file);
    lock = partial.lock;
    partial.stream.on("error", (e) => {
      error ??= e;
    });
    stream = partial.stream;
  }
  return {
    async write(text: string) {
      if (error) throw error;
      const target = stream as NodeJS.WritableStream;
      if (!target.write(text)) await new Promise<void>((done) => target.once("drain", () => done()));
    },
    /** Ends the output; a complete file is renamed into place, an incomplete one stays FILE.partial. */
    async close(complete: boolean) {
      if (file === undefined) return;
      try {
        await new Promise<void>((done) => (stream as WriteStream).end(() => done()));
        if (error) {
          await rm(`${file}.partial`, { force: true });
          throw new UsageError(`cannot write --out ${file}: ${printable(error.message)}`);
        }
        if (complete) await rename(`${file}.partial`, file);
      } finally {
        lock?.release();
      }
    },
  };
}

/**
 * The file naming the users, checked whole before anything is read from the pod: its column (or field), and every
 * value (a uid must be a positive int64; no value may be empty). Errors name `file:line`, the column and the rule.
 */
async function checkInput(file: string) {
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${error.code === "ENOENT" ? "no such file" : printable(error.message)}`);
  });
  if (info.isDirectory())
    throw new UsageError(`cannot read ${quote(file)}: it is a directory; give a CSV or JSON Lines file`);
  const first = await firstChar(file);
  const format = formatFor(file, first);
  const read = () => (format === "csv" ? readCsvUsers(file) : readJsonUsers(file));
  const errors: InputError[] = [];
  let count = 0;
  for await (const named of read()) {
    if (named instanceof InputError) {
      errors.push(named);
      if (errors.length >= MAX_INVALID) break;
      continue;
    }
    count++;
  }
  if (errors.length === 0 && count === 0) {
    errors.push(new InputError(file, 1, undefined, "not empty", "names no user"));
  }
  if (errors.length > 0) {
    throw new UsageError(
      `${errors.map((e) => e.message).join("\n  ")}\n${errors.length >= MAX_INVALID ? "(and maybe more) " : ""}` +
        "Nothing was read from the pod: fix the lines above.",
    );
  }
  return {
    label: file,
    async *read(): AsyncGenerator<Named> {
      for await (const named of read()) if (!(named instanceof InputError)) yield named;
    },
  };
}

async function firstChar(file: string): Promise<string | undefined> {
  const stream = createReadStream(file, { start: 0, end: 63, encoding: "utf8" });
  let text = "";
  for await (const chunk of stream) text += chunk;
  return text.replace(/^\uFEFF/, "").trimStart()[0];
}

function checkValue(file: string, line: number, key: Key, value: unknown): Named | InputError {
  if (typeof value !== "string" && !(key === "uid" && typeof value === "number")) {
    return new InputError(file, line, key, "required", value === undefined ? "is missing" : "must be a string");
  }
  const text = String(value).trim();
  if (text === "") return new InputError(file, line, key, "required", "is empty");
  if (key === "uid" && canonicalUserId(text) === undefined) {
    return new InputError(file, line, key, "positive int64", `expected a positive int64 user id, got ${quote(text)}`);
  }
  return { key, value: text, line };
}

async function* readCsvUsers(file: string): AsyncGenerator<Named | InputError> {
  let key: Key | undefined;
  let headerError: InputError | undefined;
  const input: Readable = createReadStream(file);
  const parser = input.pipe(
    parseCsv({
      columns: (names: string[]) => {
        key = KEYS.find((k) => names.includes(k));
        if (key === undefined) {
          headerError = new InputError(
            file,
            1,
            undefined,
            "user column",
            "the header needs a uid, email or username column",
          );
        }
        return names;
      },
      bom: true,
      trim: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: true,
      info: true,
      relax_column_count: false,
      max_record_size: MAX_ROW_BYTES,
    }),
  );
  input.once("error", (error) => parser.destroy(error));
  try {
    for await (const { record, info } of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
    }>) {
      if (headerError) break;
      const value = record[key as Key];
      yield checkValue(file, info.lines, key as Key, value === undefined ? value : unescapeFormula(value));
    }
  } catch (error) {
    if (!headerError) {
      const e = error as { lines?: number; message: string };
      yield new InputError(file, e.lines ?? 0, undefined, "CSV", printable(e.message, 200));
    }
  }
  if (headerError) yield headerError;
}

async function* readJsonUsers(file: string): AsyncGenerator<Named | InputError> {
  const lines = readLines(createReadStream(file), MAX_ROW_BYTES);
  let line = 0;
  for await (const raw of lines) {
    line++;
    if (raw instanceof OverlongLine) {
      yield new InputError(file, line, undefined, "line length", raw.detail);
      continue;
    }
    const text = line === 1 ? raw.replace(/^\uFEFF/, "") : raw;
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      // A uid beyond 2^53 written as a number would be rounded: it is read from the text.
      value = JSON.parse(text.replace(/("uid"\s*:\s*)(\d+)/, '$1"$2"'));
    } catch (error) {
      yield new InputError(
        file,
        line,
        undefined,
        "JSON",
        `not valid JSON (${printable((error as Error).message, 120)})`,
      );
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      yield new InputError(file, line, undefined, "type object", "each line must be a JSON object");
      continue;
    }
    const record = value as Record<string, unknown>;
    const key = KEYS.find((k) => record[k] !== undefined);
    if (key === undefined) {
      yield new InputError(file, line, undefined, "user field", 'each line needs a "uid", "email" or "username"');
      continue;
    }
    yield checkValue(file, line, key, record[key]);
  }
}
