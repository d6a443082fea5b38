/**
 * Streaming readers for the CLI's input files: CSV (a documented column layout per command) and JSON Lines
 * (one bulk item per line, the format of `--report` files and journals). Neither reads a file whole.
 */

import type { Readable } from "node:stream";
import { parse as parseCsv } from "csv-parse";
import type { AppPatchItem, AppReplaceItem, DelegateUpdateItem, FeatureUpdateItem } from "../bulk.js";
import { userIdToDecimal } from "../ids.js";
import {
  JsonTooDeepError,
  MAX_JSON_DEPTH,
  mayHoldUnsafeInteger,
  nestedDeeperThan,
  parseJsonLossless,
} from "../json.js";
import { OPERATIONS, WRITE_OPERATIONS, type WriteOperation } from "../operations.js";
import type { AppEntitlement, AppEntitlementPatch, AppProduct } from "../users.js";
import { looseIdField, OverlongLine, readLines } from "./lines.js";
import { escapeInvisible, printable, quote } from "./text.js";

/**
 * The four bulk operations the CLI applies.
 *
 * @example
 * ```ts
 * const operation: Operation = "appsPatch";
 * ```
 */
export type Operation = (typeof OPERATIONS)[WriteOperation]["cli"]["layout"];

/**
 * The item type each operation reads.
 *
 * @example
 * ```ts
 * const item: ItemOf["delegates"] = { uid: "7215545057281", userId: "7215545057282", action: "ADD" };
 * ```
 */
export interface ItemOf {
  features: FeatureUpdateItem;
  delegates: DelegateUpdateItem;
  appsReplace: AppReplaceItem;
  appsPatch: AppPatchItem;
}

/**
 * A row that cannot become an item (or, as a warning, one that was merged): where it is and which rule it breaks.
 *
 * @example
 * ```ts
 * const error = new InputError("users.csv", 3, "enabled", "boolean", 'expected true or false, got "maybe"');
 * error.message; // 'users.csv:3: column "enabled": expected true or false, got "maybe"'
 * ```
 */
export class InputError extends Error {
  override name = "InputError";
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: string | undefined,
    readonly rule: string,
    detail: string,
  ) {
    super(`${file}:${line}${column !== undefined ? `: column ${quote(column)}` : ""}: ${detail}`);
  }
}

/**
 * What the JSON Lines reader found under {@link REPORT_KEY}: a report or journal line's bookkeeping.
 *
 * @example
 * ```ts
 * const meta: ReportMeta = { item: 17, status: "pending", line: 42 };
 * ```
 */
export interface ReportMeta {
  /** The item's number in the journal that wrote the line. */
  item?: number;
  /** `pending`, `succeeded`, `failed`, `notAttempted` or `duplicate`. */
  status?: string;
  /** The item's line in the file that journal's run read. */
  line?: number;
}

/**
 * One record of the input, in input order. `line` is the item's first line.
 * - `item`: an item to apply (`meta` holds a report line's bookkeeping);
 * - `error`: a row that cannot be applied;
 * - `warning`: a row merged into another (an identical duplicate), or a note;
 * - `outcome`: a journal line recording an outcome, with no item (`succeeded`, `duplicate`).
 *
 * @example
 * ```ts
 * import { Readable } from "node:stream";
 *
 * const input = Readable.from(["uid,entitlement,enabled\n7215545057281,canCreatePublicRoom,true\n"]);
 * for await (const record of readItems("features", input, "users.csv", "csv")) {
 *   if ("error" in record) console.error(record.error.message);
 * }
 * ```
 */
export type SourceRecord<Item> =
  | { item: Item; line: number; meta?: ReportMeta }
  | { error: InputError; line: number }
  | { warning: InputError; line: number }
  | { outcome: ReportMeta; line: number };

/**
 * Report metadata lives under this key, so a report line is an item plus one ignored field.
 *
 * @example
 * ```ts
 * const line = JSON.stringify({ uid: "1", features: [], [REPORT_KEY]: { status: "failed", line: 2 } });
 * ```
 */
export const REPORT_KEY = "_report";

/**
 * Journal statuses that carry no item: the item is settled and is never sent again from this journal.
 *
 * @example
 * ```ts
 * SETTLED_WITHOUT_ITEM.has("succeeded"); // true: the line holds no item to apply
 * ```
 */
export const SETTLED_WITHOUT_ITEM: ReadonlySet<string> = new Set(["succeeded", "duplicate"]);

/**
 * Longest CSV row accepted, in bytes: a longer one is refused instead of being read into memory.
 *
 * @example
 * ```ts
 * console.log(`rows up to ${MAX_ROW_BYTES / 1024 / 1024} MiB`);
 * ```
 */
export const MAX_ROW_BYTES = 1024 * 1024;

/**
 * CSV column layouts. `required` columns must be in the header; `optional` may be. Rows of one user must be
 * consecutive where several rows make one call (features, apps).
 *
 * @example
 * ```ts
 * console.log(CSV_COLUMNS.features.required.join(",")); // "uid,entitlement,enabled"
 * ```
 */
export const CSV_COLUMNS = Object.fromEntries(
  WRITE_OPERATIONS.map((name) => {
    const { layout, csv } = OPERATIONS[name].cli;
    return [layout, { required: [...csv.required], optional: [...csv.optional] }];
  }),
) as Record<Operation, { required: string[]; optional: string[] }>;

/**
 * The columns (and JSON Lines fields) that may name a user: exactly one of them per file. `uid` is sent as it is;
 * `email` and `username` are resolved to uids through the pod (`pod.users.lookup`) in the plan pass.
 *
 * @example
 * ```ts
 * USER_KEYS.includes("email"); // true: a file may name its users by email
 * ```
 */
export const USER_KEYS = ["uid", "email", "username"] as const;

/**
 * How a file names its users: one of {@link USER_KEYS}.
 *
 * @example
 * ```ts
 * const key: UserKey = "username";
 * ```
 */
export type UserKey = (typeof USER_KEYS)[number];

/**
 * The columns (and fields) that may name the delegate of a `delegates apply` row: exactly one of them per file.
 *
 * @example
 * ```ts
 * DELEGATE_KEYS.includes("delegateEmail"); // true
 * ```
 */
export const DELEGATE_KEYS = ["userId", "delegateEmail"] as const;

/**
 * How a delegates file names the delegates: one of {@link DELEGATE_KEYS}.
 *
 * @example
 * ```ts
 * const key: DelegateKey = "delegateEmail";
 * ```
 */
export type DelegateKey = (typeof DELEGATE_KEYS)[number];

/**
 * Whether a value looks like an email address: `local@domain.tld`, no blanks, no comma (the pod reads lookups
 * comma-separated), one `@`.
 *
 * @example
 * ```ts
 * looksLikeEmail("ada@acme.com"); // true
 * looksLikeEmail("ada at acme"); // false
 * ```
 */
export function looksLikeEmail(value: string): boolean {
  return /^[^\s@,]+@[^\s@,.]+(\.[^\s@,.]+)+$/.test(value);
}

/**
 * Picks the format from the file name; `-` and unknown extensions sniff the first character.
 *
 * @example
 * ```ts
 * formatFor("users.csv", "u"); // "csv"
 * formatFor("-", "{"); // "jsonl"
 * ```
 */
export function formatFor(file: string, firstChar: string | undefined): "csv" | "jsonl" {
  if (/\.(jsonl|ndjson|json)$/i.test(file)) return "jsonl";
  if (/\.csv$/i.test(file)) return "csv";
  return firstChar === "{" ? "jsonl" : "csv";
}

/**
 * Options of {@link readItems}.
 *
 * @example
 * ```ts
 * import { createReadStream } from "node:fs";
 *
 * const options: ReadOptions = { reopen: () => createReadStream("users.csv") };
 * ```
 */
export interface ReadOptions {
  /**
   * Opens the same input again from the start: used to find the line where an unterminated quote opens (the
   * parser only notices at the end of the file). Without it, the error names the line where the parser stopped.
   */
  reopen?: () => Readable;
}

/**
 * Reads items for `operation` from `input`, one record per item, in input order.
 *
 * @example
 * ```ts
 * import { createReadStream } from "node:fs";
 *
 * for await (const record of readItems("features", createReadStream("users.csv"), "users.csv", "csv")) {
 *   if ("item" in record) console.log(record.line, record.item.uid);
 * }
 * ```
 */
export function readItems<Op extends Operation>(
  operation: Op,
  input: Readable,
  file: string,
  format: "csv" | "jsonl",
  options: ReadOptions = {},
): AsyncGenerator<SourceRecord<ItemOf[Op]>> {
  return (
    format === "jsonl" ? readJsonLines(operation, input, file) : readCsv(operation, input, file, options)
  ) as AsyncGenerator<SourceRecord<ItemOf[Op]>>;
}

// --- JSON Lines -------------------------------------------------------------------------------------------------

async function* readJsonLines(
  operation: Operation,
  input: Readable,
  file: string,
): AsyncGenerator<SourceRecord<unknown>> {
  const lines = readLines(input, MAX_ROW_BYTES);
  let line = 0;
  let any = false;
  const keysSeen: KeysSeen = new Map();
  for await (const raw of lines) {
    line++;
    if (raw instanceof OverlongLine) {
      any = true;
      yield { line, error: new InputError(file, line, undefined, "line length", raw.detail) };
      continue;
    }
    const text = line === 1 ? raw.replace(/^\uFEFF/, "") : raw;
    if (text.trim() === "") continue;
    any = true;
    let value: unknown;
    try {
      value = JSON.parse(text);
      if (nestedDeeperThan(text, MAX_JSON_DEPTH)) throw new JsonTooDeepError();
      // Ids beyond 2^53 would be rounded by JSON.parse; read them again as bigints (the facade takes them).
      if (mayHoldUnsafeInteger(text)) value = parseJsonLossless(text);
    } catch (error) {
      const detail = `not valid JSON (${printable((error as Error).message, 120)})`;
      yield { line, error: new InputError(file, line, undefined, "JSON", detail) };
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      yield { line, error: new InputError(file, line, undefined, "type object", "each line must be a JSON object") };
      continue;
    }
    const loose = looseIdField(text, value as Record<string, unknown>);
    if (loose) {
      const detail =
        `field ${quote(loose.field)} is written ${printable(loose.written, 40)}, which JSON reads as ${loose.read}: ` +
        "a user id is written with digits only";
      yield { line, error: new InputError(file, line, undefined, "integer digits", detail) };
      continue;
    }
    const { [REPORT_KEY]: metadata, ...item } = value as Record<string, unknown>;
    const meta = reportMeta(metadata);
    if (meta?.status !== undefined && SETTLED_WITHOUT_ITEM.has(meta.status)) {
      yield { line, outcome: meta };
      continue;
    }
    // A report written by pod-admin may mix resolved (uid) lines and lines whose user is still unknown (email).
    const identityError = checkJsonIdentity(operation, item, file, line, metadata === undefined ? keysSeen : undefined);
    if (identityError) {
      yield { line, error: identityError };
      continue;
    }
    const { error, warnings } = checkJsonItem(operation, item, file, line);
    for (const warning of warnings) yield { line, warning };
    if (error) yield { line, error };
    else yield meta ? { line, item, meta } : { line, item };
  }
  if (!any) yield { line: 1, error: new InputError(file, 1, undefined, "not empty", "the file is empty: no items") };
}

/** The field that named the user (and the delegate) first in a file, and its line. */
type KeysSeen = Map<readonly string[], { key: string; line: number }>;

/**
 * A JSON Lines item names its user by exactly one of `uid`, `email`, `username` (a delegate by `userId` or
 * `delegateEmail`), the same one as the file's earlier items (`seen`; undefined for a report's lines). An item
 * naming none is left to the bulk validation, which says what it needs.
 */
function checkJsonIdentity(
  operation: Operation,
  item: Record<string, unknown>,
  file: string,
  line: number,
  seen: KeysSeen | undefined,
): InputError | undefined {
  for (const keys of operation === "delegates" ? [USER_KEYS, DELEGATE_KEYS] : [USER_KEYS]) {
    const present = keys.filter((key) => item[key] !== undefined);
    const key = present[0];
    if (key === undefined) continue;
    const what = keys === USER_KEYS ? "user" : "delegate";
    const fields = keys.map((k) => quote(k)).join(", ");
    if (present.length > 1) {
      return new InputError(
        file,
        line,
        undefined,
        "one identity field",
        `names its ${what} by both ${present.map((k) => quote(k)).join(" and ")}: give exactly one of ${fields}`,
      );
    }
    const value = item[key];
    if (key !== "uid" && key !== "userId") {
      if (typeof value !== "string" || value.trim() === "") {
        return new InputError(file, line, undefined, "required", `field ${quote(key)} must be a non-empty string`);
      }
      const problem = userValueProblem(key, value);
      if (problem) return new InputError(file, line, undefined, problem.rule, `field ${quote(key)}: ${problem.detail}`);
    }
    const first = seen?.get(keys);
    if (first === undefined) seen?.set(keys, { key, line });
    else if (first.key !== key) {
      return new InputError(
        file,
        line,
        undefined,
        "one identity field",
        `names its ${what} by ${quote(key)}, but line ${first.line} names it by ${quote(first.key)}: a file names ` +
          `all its ${what}s one way, by exactly one of ${fields}`,
      );
    }
  }
  return undefined;
}

function reportMeta(value: unknown): ReportMeta | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const { item, status, line } = value as Record<string, unknown>;
  const meta: ReportMeta = {};
  if (typeof item === "number" && Number.isSafeInteger(item) && item >= 0) meta.item = item;
  if (typeof status === "string") meta.status = status;
  if (typeof line === "number") meta.line = line;
  return meta;
}

/**
 * Contradictions inside one JSON Lines item: the same feature (or app) twice with different values is refused;
 * an identical repeat is dropped with a warning. Shapes the spec refuses are left to the bulk validation.
 */
function checkJsonItem(operation: Operation, item: Record<string, unknown>, file: string, line: number) {
  const warnings: InputError[] = [];
  const rows = rowsOf(operation);
  if (rows === undefined) return { warnings };
  const field = rows.list;
  const list = item[field];
  if (!Array.isArray(list)) return { warnings };
  const keyOf = (entry: unknown) =>
    entry !== null && typeof entry === "object" ? (entry as Record<string, unknown>)[rows.key] : undefined;
  const seen = new Map<unknown, number>();
  const kept: unknown[] = [];
  for (let i = 0; i < list.length; i++) {
    const entry = list[i];
    const key = keyOf(entry);
    const first = typeof key === "string" ? seen.get(key) : undefined;
    if (first === undefined) {
      if (typeof key === "string") seen.set(key, i);
      kept.push(entry);
      continue;
    }
    const earlier = JSON.stringify(list[first], bigintSafe);
    const later = JSON.stringify(entry, bigintSafe);
    const what = operation === "features" ? `feature ${quote(key as string)}` : `app ${quote(key as string)}`;
    if (earlier === later) {
      warnings.push(
        new InputError(
          file,
          line,
          undefined,
          "duplicate",
          `${field}[${i}] repeats ${field}[${first}] (${what}): merged`,
        ),
      );
      continue;
    }
    if (operation === "appsPatch" && !conflictingPatches(list[first], entry)) {
      kept.push(entry);
      continue;
    }
    return {
      warnings,
      error: new InputError(
        file,
        line,
        undefined,
        "no contradiction",
        `${field}[${i}] contradicts ${field}[${first}] for ${what}: ${printable(later, 120)} against ${printable(earlier, 120)}; keep one of them`,
      ),
    };
  }
  if (kept.length !== list.length) item[field] = kept;
  return { warnings };
}

/** Two patches of one app contradict when they set a setting (or a product of one name) differently. */
function conflictingPatches(a: unknown, b: unknown): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const setting of ["listed", "install"]) {
    if (x[setting] !== undefined && y[setting] !== undefined && String(x[setting]) !== String(y[setting])) return true;
  }
  const px = x.product as Record<string, unknown> | undefined;
  const py = y.product as Record<string, unknown> | undefined;
  return (
    px !== undefined &&
    py !== undefined &&
    px.name === py.name &&
    JSON.stringify(px, bigintSafe) !== JSON.stringify(py, bigintSafe)
  );
}

function bigintSafe(_key: string, value: unknown) {
  return typeof value === "bigint" ? value.toString() : value;
}

// --- CSV --------------------------------------------------------------------------------------------------------

type Row = Record<string, string>;

interface CsvError extends Error {
  code?: string;
  lines?: number;
  bytes_records?: number;
}

async function* readCsv(
  operation: Operation,
  input: Readable,
  file: string,
  options: ReadOptions,
): AsyncGenerator<SourceRecord<unknown>> {
  const layout = CSV_COLUMNS[operation];
  let header: string[] | undefined;
  let headerError: InputError | undefined;
  const parser = input.pipe(
    parseCsv({
      columns: (names: string[]) => {
        header = names;
        headerError = checkHeader(names, layout, file);
        return names;
      },
      bom: true,
      trim: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: true, // spreadsheets end with rows of bare commas
      info: true,
      relax_column_count: false,
      max_record_size: MAX_ROW_BYTES,
    }),
  );
  // pipe() does not pass the source's errors on: a file that fails mid-read must end the records with an error.
  input.once("error", (error) => parser.destroy(error));
  const group = grouper(operation, file);
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Row; info: { lines: number } }>) {
      if (headerError) break;
      yield* group.add(record, info.lines);
    }
  } catch (error) {
    if (headerError) {
      yield { line: 1, error: headerError };
      return;
    }
    const csvError = error as CsvError;
    const { line, detail } = await describeCsvError(csvError, options);
    yield { line, error: new InputError(file, line, undefined, "CSV", detail) };
    return;
  }
  if (headerError) {
    yield { line: 1, error: headerError };
    return;
  }
  if (header === undefined) {
    const detail = `the file is empty: expected a header row (${layout.required.join(",")}) and rows`;
    yield { line: 1, error: new InputError(file, 1, undefined, "not empty", detail) };
    return;
  }
  yield* group.flush();
}

async function describeCsvError(error: CsvError, options: ReadOptions): Promise<{ line: number; detail: string }> {
  const line = error.lines ?? 0;
  if (error.code === "CSV_QUOTE_NOT_CLOSED" || error.code === "CSV_MAX_RECORD_SIZE") {
    // The parser stops at the end of the file (or of the size limit); the row began after the last complete one.
    const quoteNotClosed = error.code === "CSV_QUOTE_NOT_CLOSED";
    const opened =
      options.reopen && error.bytes_records !== undefined
        ? await lineAfter(options.reopen(), error.bytes_records, quoteNotClosed ? "quote" : "row").catch(
            () => undefined,
          )
        : undefined;
    const where = opened ?? line;
    if (quoteNotClosed) return { line: where, detail: "a quote opens on this line and is never closed" };
    return {
      line: where,
      detail: `a row longer than ${MAX_ROW_BYTES / 1024 / 1024} MiB starts on this line (a quote never closed?)`,
    };
  }
  return { line, detail: printable(error.message, 200) };
}

/**
 * The line of the first `"` (or, for `row`, the first byte that is not a line break) at or after byte `offset`,
 * and after the header line: where the row the parser gave up on begins.
 */
async function lineAfter(input: Readable, offset: number, what: "quote" | "row"): Promise<number | undefined> {
  let position = 0;
  let line = 1;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++, position++) {
        const byte = chunk[i];
        if (position >= offset && line > 1) {
          if (what === "quote" ? byte === 0x22 : byte !== 0x0a && byte !== 0x0d) return line;
        }
        if (byte === 0x0a) line++;
      }
    }
  } finally {
    input.destroy();
  }
  return undefined;
}

/** The required columns that another column may replace: `uid` (email, username) and `userId` (delegateEmail). */
function identityGroups(layout: { required: string[] }): [string, readonly string[]][] {
  const groups: [string, readonly string[]][] = [];
  if (layout.required.includes("uid")) groups.push(["uid", USER_KEYS]);
  if (layout.required.includes("userId")) groups.push(["userId", DELEGATE_KEYS]);
  return groups;
}

function checkHeader(columns: string[], layout: { required: string[]; optional: string[] }, file: string) {
  const blank = columns.indexOf("");
  if (blank !== -1 && columns.some((c) => c !== "")) {
    return new InputError(file, 1, undefined, "named column", `column ${blank + 1} of the header has no name`);
  }
  const firstIndex = new Map<string, number>();
  for (let i = 0; i < columns.length; i++) {
    const name = columns[i] as string;
    const first = firstIndex.get(name);
    if (first !== undefined) {
      return new InputError(
        file,
        1,
        name,
        "unique column",
        `appears twice in the header (columns ${first + 1} and ${i + 1}); keep one`,
      );
    }
    firstIndex.set(name, i);
  }
  // `uid` may be `email` or `username` instead, and a delegate's `userId` may be `delegateEmail`: one per file.
  const groups = identityGroups(layout);
  const alternatives = groups.map(
    ([column, keys]) => `${keys.filter((k) => k !== column).join(" or ")} instead of ${column}`,
  );
  const needs = `the header needs ${layout.required.join(",")}${alternatives.length > 0 ? ` (or ${alternatives.join(", ")})` : ""}`;
  for (const column of layout.required) {
    const keys = groups.find(([name]) => name === column)?.[1] ?? [column];
    const present = keys.filter((key) => firstIndex.has(key));
    if (present.length === 0) return new InputError(file, 1, column, "required column", `missing; ${needs}`);
    if (present.length > 1) {
      return new InputError(
        file,
        1,
        present[1],
        "one identity column",
        `the header has both ${present.map((key) => quote(key)).join(" and ")}: a file names all its ` +
          `${column === "uid" ? "users" : "delegates"} one way, by exactly one of ${keys.join(", ")}; keep one column`,
      );
    }
  }
  const known = [...layout.required, ...layout.optional, ...groups.flatMap(([, keys]) => keys)];
  const unknown = columns.find((c) => !known.includes(c));
  if (unknown !== undefined) {
    return new InputError(file, 1, unknown, "known column", `unknown column; expected some of ${known.join(",")}`);
  }
  return undefined;
}

/** What a user's earlier rows set, to refuse a contradiction and merge an identical repeat. */
interface Seen {
  /** The value as compared (`true`, `TRUE`, …). */
  value: string;
  /** The cell as written, for messages. */
  cell: string;
  line: number;
  column: string;
}

/** One app of a user's rows: its entry, the settings its rows gave, its products by name, its rows. */
interface AppSeen {
  entry: Record<string, unknown>;
  settings: Map<string, Seen>;
  products: Map<string, { text: string; line: number }>;
  rows: Map<string, number>;
}

interface Group {
  /** The user as the rows name them (uid, email or username), for messages. */
  uid: string;
  /** What makes rows one user's: the cell, or the email in lower case. */
  key: string;
  line: number;
  item: Record<string, unknown>;
  features: Map<string, Seen>;
  apps: Map<string, AppSeen>;
}

/**
 * Turns rows into items. Consecutive rows of the same user make one call; within them, the same feature (or app
 * setting) twice with different values is an error naming both rows, and an identical repeat is merged with a
 * warning. A user whose rows are split is refused by the plan (two calls for one user would race).
 */
function grouper(operation: Operation, file: string) {
  let current: Group | undefined;
  let invalid: InputError | undefined;

  function* flush(): Generator<SourceRecord<unknown>> {
    if (current) {
      const { line, item } = current;
      current = undefined;
      if (invalid) yield { line, error: invalid };
      else yield { line, item };
      invalid = undefined;
    }
  }

  // The header names the user (and the delegate) one way; the rows all have its columns.
  let userKey: UserKey | undefined;
  let delegateKey: DelegateKey | undefined;

  function* add(row: Row, line: number): Generator<SourceRecord<unknown>> {
    userKey ??= USER_KEYS.find((key) => key in row) ?? "uid";
    const user = row[userKey] ?? "";
    if (operation === "delegates") {
      delegateKey ??= DELEGATE_KEYS.find((key) => key in row) ?? "userId";
      try {
        yield {
          line,
          item: {
            [userKey]: cellUser(row, userKey, file, line),
            [delegateKey]: cellUser(row, delegateKey, file, line),
            action: cellEnum(row, "action", ["ADD", "REMOVE"], file, line),
          },
        };
      } catch (error) {
        yield { line, error: error as InputError };
      }
      return;
    }
    // The pod matches emails whatever their case: Ada@acme.com and ada@acme.com are one user.
    const key = userKey === "email" ? user.toLowerCase() : user;
    if (current && current.key !== key) yield* flush();
    if (!current) {
      current = { uid: user, key, line, item: newItem(operation, userKey, user), features: new Map(), apps: new Map() };
      try {
        cellUser(row, userKey, file, line);
      } catch (error) {
        invalid ??= error as InputError;
      }
    }
    if (invalid) return;
    try {
      const warning =
        operation === "features"
          ? addFeatureRow(current, row, file, line)
          : addAppRow(operation, current, row, file, line);
      if (warning) yield { line, warning };
    } catch (error) {
      invalid = error as InputError;
    }
  }

  return { add, flush };
}

function newItem(operation: Operation, userKey: UserKey, user: string): Record<string, unknown> {
  return { [userKey]: user, [rowsOf(operation)?.list ?? "rows"]: [] };
}

/** How a layout's rows group into items, as the operation table declares it; undefined: one row, one item. */
function rowsOf(operation: Operation): { list: string; key: string } | undefined {
  const name = WRITE_OPERATIONS.find((op) => OPERATIONS[op].cli.layout === operation);
  const cli = name === undefined ? undefined : (OPERATIONS[name].cli as { rows?: { list: string; key: string } });
  return cli?.rows;
}

function contradiction(file: string, line: number, column: string, what: string, cell: string, earlier: Seen) {
  return new InputError(
    file,
    line,
    column,
    "no contradiction",
    `${what} is ${quote(cell)} here but ${quote(earlier.cell)} at ${file}:${earlier.line} ` +
      `(column ${quote(earlier.column)}); keep one of the two rows`,
  );
}

function merged(file: string, line: number, what: string, first: number): InputError {
  return new InputError(file, line, undefined, "duplicate", `repeats line ${first} (${what}): merged into one`);
}

/** Adds a `features apply` row to its user's item; returns a warning when it repeats an earlier row. */
function addFeatureRow(group: Group, row: Row, file: string, line: number): InputError | undefined {
  const entitlement = cell(row, "entitlement", file, line);
  const enabled = cellBoolean(row, "enabled", file, line);
  const what = `user ${group.uid}, feature ${quote(entitlement)},`;
  const earlier = group.features.get(entitlement);
  if (earlier) {
    if (earlier.value !== String(enabled)) {
      throw contradiction(file, line, "enabled", what, row.enabled as string, earlier);
    }
    return merged(file, line, `user ${group.uid}, feature ${quote(entitlement)}`, earlier.line);
  }
  group.features.set(entitlement, { value: String(enabled), cell: row.enabled as string, line, column: "enabled" });
  (group.item.features as unknown[]).push({ entitlement, enabled });
  return undefined;
}

/**
 * Adds an `apps replace` or `apps patch` row. Rows of one app, anywhere among the user's rows, must agree on its
 * settings (`listed`, `install`, `appName`) and on each product of one name; `apps replace` makes one entry per app
 * (each row may add a product), `apps patch` one patch per row.
 */
function addAppRow(operation: Operation, group: Group, row: Row, file: string, line: number): InputError | undefined {
  const appId = cell(row, "appId", file, line);
  const product = cellProduct(row, file, line);
  const what = `user ${group.uid}, app ${quote(appId)},`;
  const settings: Seen[] = [];
  if (operation === "appsReplace") {
    for (const column of ["listed", "install"]) {
      const value = String(cellBoolean(row, column, file, line));
      settings.push({ value, cell: row[column] as string, line, column });
    }
    if (row.appName) settings.push({ value: row.appName, cell: row.appName, line, column: "appName" });
  } else {
    for (const column of ["listed", "install"] as const) {
      if (row[column]) settings.push({ value: cellSetting(row, column, file, line), cell: row[column], line, column });
    }
  }
  let app = group.apps.get(appId);
  const rowText = JSON.stringify(row);
  if (app) {
    const same = app.rows.get(rowText);
    if (same !== undefined) return merged(file, line, `user ${group.uid}, app ${quote(appId)}`, same);
    for (const setting of settings) {
      const earlier = app.settings.get(setting.column);
      if (earlier && earlier.value !== setting.value) {
        throw contradiction(file, line, setting.column, what, setting.cell, earlier);
      }
    }
  } else {
    app = { entry: { appId }, settings: new Map(), products: new Map(), rows: new Map() };
    group.apps.set(appId, app);
    if (operation === "appsReplace") (group.item.apps as unknown[]).push(app.entry);
  }
  let newProduct = product;
  if (product) {
    const text = JSON.stringify(product);
    const earlier = app.products.get(product.name);
    if (earlier && earlier.text !== text) {
      throw new InputError(
        file,
        line,
        "productName",
        "no contradiction",
        `${what} product ${quote(product.name)} differs from the one at ${file}:${earlier.line}; keep one of the two rows`,
      );
    }
    if (earlier) newProduct = undefined;
    else app.products.set(product.name, { text, line });
  }
  app.rows.set(rowText, line);
  for (const setting of settings) if (!app.settings.has(setting.column)) app.settings.set(setting.column, setting);

  if (operation === "appsReplace") {
    const entry = app.entry as unknown as AppEntitlement;
    entry.listed = app.settings.get("listed")?.value === "true";
    entry.install = app.settings.get("install")?.value === "true";
    const name = app.settings.get("appName")?.value;
    if (name !== undefined) entry.appName = name;
    if (newProduct) entry.products = [...(entry.products ?? []), newProduct];
    return undefined;
  }
  const patch: AppEntitlementPatch = { appId };
  for (const setting of settings) patch[setting.column as "listed" | "install"] = setting.value as "TRUE";
  if (newProduct) patch.product = newProduct;
  (group.item.patches as unknown[]).push(patch);
  return undefined;
}

function cell(row: Row, column: string, file: string, line: number): string {
  const value = row[column];
  if (value === undefined || value === "") throw new InputError(file, line, column, "required", "is empty");
  return value;
}

function cellUid(row: Row, column: string, file: string, line: number): string {
  const value = cell(row, column, file, line);
  try {
    userIdToDecimal(value, column);
  } catch {
    throw new InputError(
      file,
      line,
      column,
      "positive int64",
      `expected a positive int64 user id, got ${quote(value)}`,
    );
  }
  return value; // as written: the report gives back the row's own text
}

/** Longer usernames are refused before any lookup (the spec gives no maximum; Symphony's are far shorter). */
const MAX_USERNAME = 256;

/** A cell naming a user or a delegate: a uid, an email or a username, by its column. */
function cellUser(row: Row, column: UserKey | DelegateKey, file: string, line: number): string {
  if (column === "uid" || column === "userId") return cellUid(row, column, file, line);
  const value = cell(row, column, file, line);
  const problem = userValueProblem(column, value);
  if (problem) throw new InputError(file, line, column, problem.rule, problem.detail);
  return value;
}

/** What is wrong with an email or a username (not a uid), or undefined. */
function userValueProblem(column: string, value: string): { rule: string; detail: string } | undefined {
  // Invisible characters never match a pod's user: refuse them here, naming the line, not later as "unknown".
  if (escapeInvisible(value) !== value) {
    return { rule: "no invisible characters", detail: `holds a control or invisible character: ${quote(value)}` };
  }
  if (column === "email" || column === "delegateEmail") {
    // RFC 5321's limits; a longer value would only make a lookup URL the pod refuses, failing its whole batch.
    if (value.length > 254 || value.indexOf("@") > 64) {
      return {
        rule: "email length",
        detail: `an email address has at most 254 characters, 64 before the @; got ${value.length} characters`,
      };
    }
    if (!looksLikeEmail(value)) return { rule: "email", detail: `expected an email address, got ${quote(value)}` };
  } else if (value.length > MAX_USERNAME) {
    return {
      rule: "username length",
      detail: `a username has at most ${MAX_USERNAME} characters; got ${value.length}`,
    };
  } else if (/[\s,]/.test(value)) {
    return { rule: "username", detail: `expected a username (no blanks, no commas), got ${quote(value)}` };
  }
  return undefined;
}

const TRUE_WORDS = new Set(["true", "1", "yes", "y"]);
const FALSE_WORDS = new Set(["false", "0", "no", "n"]);

function cellBoolean(row: Row, column: string, file: string, line: number): boolean {
  const value = cell(row, column, file, line).toLowerCase();
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  throw new InputError(file, line, column, "boolean", `expected true or false, got ${quote(row[column] as string)}`);
}

function cellEnum<T extends string>(row: Row, column: string, allowed: readonly T[], file: string, line: number): T {
  const value = cell(row, column, file, line).toUpperCase();
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new InputError(
    file,
    line,
    column,
    `enum ${allowed.join("|")}`,
    `expected one of ${allowed.join(", ")}, got ${quote(row[column] as string)}`,
  );
}

function cellSetting(row: Row, column: "listed" | "install", file: string, line: number): string {
  const value = cell(row, column, file, line).toLowerCase();
  if (TRUE_WORDS.has(value)) return "TRUE";
  if (FALSE_WORDS.has(value)) return "FALSE";
  return cellEnum(row, column, ["TRUE", "FALSE", "KEEP", "REMOVE"] as const, file, line);
}

function cellProduct(row: Row, file: string, line: number): AppProduct | undefined {
  if (!row.productName && !row.productType && !row.productSku && !row.productSubscribed) return undefined;
  const product: AppProduct = {
    name: cell(row, "productName", file, line),
    type: cell(row, "productType", file, line),
    subscribed: cellBoolean(row, "productSubscribed", file, line),
  };
  if (row.productSku) product.sku = row.productSku;
  if (row.productAppId) product.appId = row.productAppId;
  return product;
}
