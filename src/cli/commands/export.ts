/**
 * `pod-admin features export`, `delegates export`, `apps export`, `status export` (every write that declares an
 * export, operations/*.ts): what the pod holds for some users (named in a file
 * by uid, email or username) or for all of them, written in exactly the layout `apply` takes, so that an export is
 * an input: applying it back with `--only-changes` sends nothing. Streamed: users are read as the input is, at the
 * run's concurrency; their lines wait on disk and are written in uid order at the end (each user's rows in the
 * order the write's export declares), so the output is the same from one run to the next.
 */
import type { WriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
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
import { csvRecords, otherSeparator } from "../input/csv.js";
import { UserResolver } from "../input/identities.js";
import { jsonObjects } from "../input/jsonl.js";
import { CSV_COLUMNS, InputError, type Operation, USER_KEYS } from "../input/readers.js";
import { type InputFile, inputFormat, openInput } from "../input/source.js";
import { SpillSort, uidKey } from "../input/spill.js";
import type { CliIo } from "../io.js";
import { counterRenderer } from "../progress.js";
import { RepeatedUserError, uidsOnce } from "./user-pages.js";

type Key = (typeof USER_KEYS)[number];
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
  const source = args.file === undefined ? undefined : await checkInput(await openInput(args.file, io.stdin));
  const out = await openOutput(args.out, io);
  const counts = { users: 0, rows: 0, unknown: 0, failed: 0 };
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
    // A user named again (an apply-layout file has a row per feature, app or delegate) is exported once, silently:
    // the next row of the same user is not read again; a repeat further down is dropped when the output is sorted.
    let previous: string | undefined;
    const resolver = new UserResolver(pod, {
      label: source.label,
      concurrency: args.concurrency,
      signal: controller.signal,
    });
    async function* records() {
      for await (const named of source?.read() ?? []) yield { line: named.line, item: { [named.key]: named.value } };
    }
    for await (const record of resolver.resolve(records())) {
      if (controller.signal.aborted) return;
      if (!("item" in record)) continue;
      const unknown = record.source?.unknown[0];
      if (unknown !== undefined) {
        counts.unknown++;
        listed(
          `${source.label}:${record.line}: no user with ${unknown.column} ${quote(unknown.value)}`,
          counts.unknown,
        );
        continue;
      }
      const uid = canonicalUserId(String((record.item as { uid: unknown }).uid)) as string;
      if (uid !== previous) yield uid;
      previous = uid;
    }
  }

  const progress = args.quiet ? undefined : counterRenderer(io.stderr, `exporting (${READ_CALL[args.operation]})`);
  let stoppedBy: Error | undefined;
  let outputError: Error | undefined;
  let listError: RepeatedUserError | undefined;
  // Users settle in any order: their lines are kept on disk and written sorted by uid at the end, so two exports
  // of one pod are byte-identical (and can be diffed, or kept in git), whatever the concurrency.
  const spill = new SpillSort("pod-admin-export-");
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
        const lines = rowsOf(args.operation, args.format, outcome.uid, current);
        await spill.add(...uidKey(outcome.uid), lines.length, lines.join(""));
      } else if (outcome.status === "failed") {
        counts.failed++;
        if (!stoppedBy) listed(`user ${outcome.uid}: cannot read: ${printable(outcome.error.message)}`, counts.failed);
      } else counts.failed++;
    }
    await writeSorted(spill, out, counts);
  } catch (error) {
    // The input or the lookup failing mid-way (a lookup error, the file): what was written stays partial.
    if (error instanceof UsageError) throw error;
    outputError = error as Error;
  } finally {
    outputError ??= listError;
    progress?.stop();
    io.interrupt?.removeEventListener("abort", onInterrupt);
    await source?.cleanup();
    await spill.close();
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

/** Writes the users' lines in uid order, each user once; counts them. */
async function writeSorted(
  spill: SpillSort,
  out: { write(text: string): Promise<void> },
  counts: { users: number; rows: number },
): Promise<void> {
  let hi = -1;
  let lo = -1;
  for await (const user of spill.sorted()) {
    if (user.hi === hi && user.lo === lo) continue;
    hi = user.hi;
    lo = user.lo;
    counts.users++;
    counts.rows += user.line;
    if (user.text !== "") await out.write(user.text);
  }
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
async function checkInput(input: InputFile) {
  const format = await inputFormat(input, undefined);
  const read = () => (format === "csv" ? readCsvUsers(input) : readJsonUsers(input));
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
    errors.push(new InputError(input.label, 1, undefined, "not empty", "names no user"));
  }
  if (errors.length > 0) {
    await input.cleanup();
    throw new UsageError(
      `${errors.map((e) => e.message).join("\n  ")}\n${errors.length >= MAX_INVALID ? "(and maybe more) " : ""}` +
        "Nothing was read from the pod: fix the lines above.",
    );
  }
  return {
    label: input.label,
    cleanup: () => input.cleanup(),
    async *read(): AsyncGenerator<Named> {
      for await (const named of read()) if (!(named instanceof InputError)) yield named;
    },
  };
}

function checkValue(file: string, line: number, key: Key, value: unknown): Named | InputError {
  if (typeof value !== "string" && !(key === "uid" && (typeof value === "number" || typeof value === "bigint"))) {
    return new InputError(file, line, key, "required", value === undefined ? "is missing" : "must be a string");
  }
  const text = String(value).trim();
  if (text === "") return new InputError(file, line, key, "required", "is empty");
  if (key === "uid" && canonicalUserId(text) === undefined) {
    return new InputError(file, line, key, "positive int64", `expected a positive int64 user id, got ${quote(text)}`);
  }
  return { key, value: text, line };
}

async function* readCsvUsers(input: InputFile): AsyncGenerator<Named | InputError> {
  const file = input.label;
  let key: Key | undefined;
  let headerError: InputError | undefined;
  const parser = csvRecords(
    input.open(),
    (names) => {
      key = USER_KEYS.find((k) => names.includes(k));
      headerError = otherSeparator(names, file);
      if (key === undefined && headerError === undefined) {
        headerError = new InputError(
          file,
          1,
          undefined,
          "user column",
          "the header needs a uid, email or username column",
        );
      }
    },
    USER_KEYS,
  );
  try {
    for await (const { record, info } of parser) {
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

async function* readJsonUsers(input: InputFile): AsyncGenerator<Named | InputError> {
  for await (const record of jsonObjects(input.open(), input.label)) {
    if ("error" in record) {
      yield record.error;
      continue;
    }
    const key = USER_KEYS.find((k) => record.value[k] !== undefined);
    if (key === undefined) {
      yield new InputError(
        input.label,
        record.line,
        undefined,
        "user field",
        'each line needs a "uid", "email" or "username"',
      );
      continue;
    }
    yield checkValue(input.label, record.line, key, record.value[key]);
  }
}
