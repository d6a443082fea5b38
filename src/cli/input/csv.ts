/**
 * The CSV reader: a header checked against the command's layout (column names whatever their case), then rows
 * grouped into items by the write's declared row rules (operations/*.ts: one row one item, or a user's rows one
 * item, wherever in the file they are: gathered through a sort on disk, spill.ts).
 */
import type { Readable } from "node:stream";
import { parse as parseCsv } from "csv-parse";
import { canonicalUserId } from "../../core/ids.js";
import { printable, quote } from "../../core/text.js";
import { rulesOf } from "../../operations/index.js";
import { unescapeRow } from "../files/csv-cell.js";
import { type Row, rowCells } from "./cells.js";
import {
  CSV_COLUMNS,
  InputError,
  MAX_ROW_BYTES,
  type Operation,
  type ReadOptions,
  type SourceRecord,
  secondUser,
  USER_FIELDS,
  USER_KEYS,
  type UserKey,
} from "./records.js";
import { type Spilled, SpillSort, textKey, uidKey } from "./spill.js";

interface CsvError extends Error {
  code?: string;
  lines?: number;
  bytes_records?: number;
}

/**
 * The records of a CSV input as every reader of CSV input parses them (apply's rows, export's users): a header row
 * (`onHeader` sees it; a name that is one of `known` whatever its case is spelt as there), a BOM dropped, cells trimmed, blank rows and rows of bare commas skipped, every row as wide as
 * the header, none over {@link MAX_ROW_BYTES}; each record with its line (`info.lines`).
 *
 * @example
 * ```ts
 * import { createReadStream } from "node:fs";
 *
 * for await (const { record, info } of csvRecords(createReadStream("users.csv"), (names) => console.log(names))) {
 *   console.log(info.lines, record.uid);
 * }
 * ```
 */
export function csvRecords(
  input: Readable,
  onHeader: (names: string[]) => void,
  known: readonly string[] = [],
): AsyncIterable<{ record: Row; info: { lines: number } }> & { destroy(error?: Error): void } {
  // Spreadsheets capitalise headers (`Email,Entitlement,Enabled`): a known column is matched whatever its case.
  const byLowerCase = new Map(known.map((name) => [name.toLowerCase(), name]));
  const parser = input.pipe(
    parseCsv({
      columns: (header: string[]) => {
        const names = header.map((name) => byLowerCase.get(name.trim().toLowerCase()) ?? name.trim());
        onHeader(names);
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
  return parser as unknown as AsyncIterable<{ record: Row; info: { lines: number } }> & { destroy(e?: Error): void };
}

export async function* readCsv(
  operation: Operation,
  input: Readable,
  file: string,
  options: ReadOptions,
): AsyncGenerator<SourceRecord<unknown>> {
  const layout = CSV_COLUMNS[operation];
  let header: string[] | undefined;
  let headerError: InputError | undefined;
  let userKey: UserKey = "uid";
  const rowKey = (row: Row): [number, number] => {
    const cell = row[userKey] ?? "";
    const uid = userKey === "uid" ? canonicalUserId(cell) : undefined;
    return uid !== undefined ? uidKey(uid) : textKey(userKey === "email" ? cell.toLowerCase() : cell);
  };
  const parser = csvRecords(
    input,
    (names) => {
      header = names;
      headerError = checkHeader(names, operation, file);
      userKey = USER_KEYS.find((key) => names.includes(key)) ?? "uid";
    },
    knownColumns(operation),
  );
  const group = grouper(operation, file);
  // Where a user's rows make one call, they are gathered on disk first: they need not be consecutive.
  const spill = rulesOf(operation).rows.kind === "grouped" ? new SpillSort("pod-admin-rows-") : undefined;
  let failure: SourceRecord<unknown> | undefined;
  try {
    try {
      for await (const { record, info } of parser as AsyncIterable<{ record: Row; info: { lines: number } }>) {
        if (headerError) break;
        const row = unescapeRow(record);
        if (spill) await spill.add(...rowKey(row), info.lines, `${JSON.stringify([info.lines, row])}\n`);
        else yield* group.add(row, info.lines);
      }
    } catch (error) {
      if (headerError) {
        yield { line: 1, error: headerError };
        return;
      }
      const { line, detail } = await describeCsvError(error as CsvError, options);
      failure = { line, error: new InputError(file, line, undefined, "CSV", detail) };
    }
    if (spill && !headerError) yield* spilledRows(spill, group);
  } finally {
    await spill?.close();
  }
  if (failure) {
    yield failure;
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

/**
 * The spilled rows to the grouper: in the order read when each user's rows were consecutive, else by user (uid order
 * for a file of uids), each user's rows in the order read, each with its own line.
 */
async function* spilledRows(
  spill: SpillSort,
  group: ReturnType<typeof grouper>,
): AsyncGenerator<SourceRecord<unknown>> {
  const texts = (await spill.grouped()) ? spill.lines() : textsOf(spill.sorted());
  for await (const text of texts) {
    const [line, row] = JSON.parse(text) as [number, Row];
    yield* group.add(row, line);
  }
}

async function* textsOf(spilled: AsyncIterable<Spilled>): AsyncGenerator<string> {
  for await (const { text } of spilled) yield text;
}

/** Every column a layout's header may name, as spelt there: required, optional and the identity columns. */
function knownColumns(operation: Operation): string[] {
  const layout = CSV_COLUMNS[operation];
  return [...layout.required, ...layout.optional, ...identityGroups(operation).flatMap(([, keys]) => keys)];
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

/**
 * The required columns that another column may replace: `uid` (email, username) and the second user a write's rows
 * may name (delegates: `userId`, or `delegateEmail`).
 */
function identityGroups(operation: Operation): [string, readonly string[]][] {
  const groups: [string, readonly string[]][] = [["uid", USER_KEYS]];
  const second = secondUser(operation);
  if (second !== undefined) groups.push([second.id, [second.id, second.email]]);
  return groups;
}

/**
 * A header that is one column holding `;` or a tab: a file saved with another separator (spreadsheets do so in
 * many locales). Refused by name rather than accepted: an export writes commas, and a file read one way and
 * written another would not round-trip.
 *
 * @example
 * ```ts
 * otherSeparator(["uid;entitlement;enabled"], "users.csv")?.message;
 * // 'users.csv:1: the header looks separated by ";" (…): pod-admin reads comma-separated CSV; …'
 * ```
 */
export function otherSeparator(columns: string[], file: string): InputError | undefined {
  const only = columns.length === 1 ? (columns[0] as string) : "";
  const separator = only.includes(";") ? '";"' : only.includes("\t") ? "tabs" : undefined;
  if (separator === undefined) return undefined;
  return new InputError(
    file,
    1,
    undefined,
    "comma-separated",
    `the header looks separated by ${separator} (${quote(only, 80)}): pod-admin reads comma-separated CSV; ` +
      "save the file as CSV with commas (in a spreadsheet: CSV UTF-8, comma-delimited)",
  );
}

function checkHeader(columns: string[], operation: Operation, file: string) {
  const layout = CSV_COLUMNS[operation];
  const separated = otherSeparator(columns, file);
  if (separated) return separated;
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
  const groups = identityGroups(operation);
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
          `${USER_FIELDS[column]?.noun ?? "user"}s one way, by exactly one of ${keys.join(", ")}; keep one column`,
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

const ROW_LINES = new WeakMap<object, number>();

/**
 * The line of the row an element of a grouped item (a feature, an app) came from; undefined for JSON Lines items.
 *
 * @example
 * ```ts
 * const item = { uid: "7215545057281", features: [{ entitlement: "canCreatePublicRoom", enabled: true }] };
 * const line = rowLineOf(item.features[0] as object) ?? 2;
 * ```
 */
export function rowLineOf(element: object): number | undefined {
  return ROW_LINES.get(element);
}

/** A user's rows so far: the item they make, and the write's state of what they set (to refuse contradictions). */
interface Group {
  /** The user as the rows name them (uid, email or username), for messages. */
  uid: string;
  /** What makes rows one user's: the cell, or the email in lower case. */
  key: string;
  line: number;
  item: Record<string, unknown>;
  state: unknown;
}

/**
 * Turns rows into items by the write's row rules. `single`: each row is an item. `grouped`: consecutive rows of the
 * same user make one call (readCsv hands them over gathered by user); within them, the same element twice with
 * different values is an error naming both rows, and an identical repeat is merged with a warning.
 */
function grouper(operation: Operation, file: string) {
  const rows = rulesOf(operation).rows;
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

  // The header names the user one way; the rows all have its column.
  let userKey: UserKey | undefined;

  function* add(row: Row, line: number): Generator<SourceRecord<unknown>> {
    userKey ??= USER_KEYS.find((key) => key in row) ?? "uid";
    const user = row[userKey] ?? "";
    const cells = rowCells(row, file, line);
    if (rows.kind === "single") {
      try {
        yield { line, item: { [userKey]: cells.user(userKey), ...rows.item(cells) } };
      } catch (error) {
        yield { line, error: error as InputError };
      }
      return;
    }
    // The pod matches emails whatever their case: Ada@acme.com and ada@acme.com are one user; so are uids 07 and 7.
    const key = userKey === "email" ? user.toLowerCase() : userKey === "uid" ? (canonicalUserId(user) ?? user) : user;
    if (current && current.key !== key) yield* flush();
    if (!current) {
      current = { uid: user, key, line, item: { [userKey]: user, [rows.list]: [] }, state: rows.start() };
      try {
        cells.user(userKey);
      } catch (error) {
        invalid ??= error as InputError;
      }
    }
    if (invalid) return;
    try {
      const list = current.item[rows.list] as object[];
      const before = list.length;
      const warning = rows.add(current.state as never, current.item, cells, current.uid);
      // Each element's own row, for messages about it once the rows are one item (passes/guards.ts).
      if (list.length > before) ROW_LINES.set(list[list.length - 1] as object, line);
      if (warning) yield { line, warning: warning as InputError };
    } catch (error) {
      invalid = error as InputError;
    }
  }

  return { add, flush };
}
