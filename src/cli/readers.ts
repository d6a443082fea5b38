/**
 * Streaming readers for the CLI's input files: CSV (a documented column layout per command) and JSON Lines
 * (one bulk item per line, the format of `--report` files). Neither reads a file whole.
 */
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { parse as parseCsv } from "csv-parse";
import type { AppPatchItem, AppReplaceItem, DelegateUpdateItem, FeatureUpdateItem } from "../bulk.js";
import { userIdToDecimal } from "../ids.js";
import { mayHoldUnsafeInteger, parseJsonLossless } from "../json.js";
import type { AppEntitlement, AppEntitlementPatch, AppProduct } from "../users.js";

/** The four bulk operations the CLI applies. */
export type Operation = "features" | "delegates" | "appsReplace" | "appsPatch";

/** The item type each operation reads. */
export interface ItemOf {
  features: FeatureUpdateItem;
  delegates: DelegateUpdateItem;
  appsReplace: AppReplaceItem;
  appsPatch: AppPatchItem;
}

/** A row that cannot become an item: where it is and which rule it breaks. */
export class InputError extends Error {
  override name = "InputError";
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: string | undefined,
    readonly rule: string,
    detail: string,
  ) {
    super(`${file}:${line}${column ? `: column "${column}"` : ""}: ${detail}`);
  }
}

/** One item read from the input, or why a row could not be read. `line` is the item's first line. */
export type SourceRecord<Item> = { item: Item; line: number } | { error: InputError; line: number };

/** Report metadata lives under this key, so a report line is an item plus one ignored field. */
export const REPORT_KEY = "_report";

/**
 * CSV column layouts. `required` columns must be in the header; `optional` may be. Rows of one user must be
 * consecutive where several rows make one call (features, apps).
 */
export const CSV_COLUMNS: Record<Operation, { required: string[]; optional: string[] }> = {
  features: { required: ["uid", "entitlement", "enabled"], optional: [] },
  delegates: { required: ["uid", "userId", "action"], optional: [] },
  appsReplace: { required: ["uid", "appId", "listed", "install"], optional: ["appName", ...productColumns()] },
  appsPatch: { required: ["uid", "appId"], optional: ["listed", "install", ...productColumns()] },
};

function productColumns() {
  return ["productName", "productType", "productSku", "productSubscribed", "productAppId"];
}

/** Picks the format from the file name; `-` and unknown extensions sniff the first character. */
export function formatFor(file: string, firstChar: string | undefined): "csv" | "jsonl" {
  if (/\.(jsonl|ndjson|json)$/i.test(file)) return "jsonl";
  if (/\.csv$/i.test(file)) return "csv";
  return firstChar === "{" ? "jsonl" : "csv";
}

/** Reads items for `operation` from `input`, one record per item, in input order. */
export function readItems<Op extends Operation>(
  operation: Op,
  input: Readable,
  file: string,
  format: "csv" | "jsonl",
): AsyncGenerator<SourceRecord<ItemOf[Op]>> {
  return (format === "jsonl" ? readJsonLines(input, file) : readCsv(operation, input, file)) as AsyncGenerator<
    SourceRecord<ItemOf[Op]>
  >;
}

// --- JSON Lines -------------------------------------------------------------------------------------------------

async function* readJsonLines(input: Readable, file: string): AsyncGenerator<SourceRecord<unknown>> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  for await (const raw of lines) {
    line++;
    const text = line === 1 ? raw.replace(/^\uFEFF/, "") : raw;
    if (text.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
      // Ids beyond 2^53 would be rounded by JSON.parse; read them again as bigints (the facade takes them).
      if (mayHoldUnsafeInteger(text)) value = parseJsonLossless(text);
    } catch (error) {
      yield {
        line,
        error: new InputError(file, line, undefined, "JSON", `not valid JSON (${(error as Error).message})`),
      };
      continue;
    }
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      yield { line, error: new InputError(file, line, undefined, "type object", "each line must be a JSON object") };
      continue;
    }
    const { [REPORT_KEY]: _metadata, ...item } = value as Record<string, unknown>;
    yield { line, item };
  }
}

// --- CSV --------------------------------------------------------------------------------------------------------

type Row = Record<string, string>;

async function* readCsv(operation: Operation, input: Readable, file: string): AsyncGenerator<SourceRecord<unknown>> {
  const parser = input.pipe(
    parseCsv({
      columns: true,
      bom: true,
      trim: true,
      skip_empty_lines: true,
      skip_records_with_empty_values: true, // spreadsheets end with rows of bare commas
      info: true,
      relax_column_count: false,
    }),
  );
  // pipe() does not pass the source's errors on: a file that fails mid-read must end the records with an error.
  input.once("error", (error) => parser.destroy(error));
  const layout = CSV_COLUMNS[operation];
  const group = grouper(operation, file);
  let checkedHeader = false;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: Row; info: { lines: number } }>) {
      if (!checkedHeader) {
        checkedHeader = true;
        const error = checkHeader(Object.keys(record), layout, file);
        if (error) {
          yield { line: 1, error };
          return;
        }
      }
      yield* group.add(record, info.lines);
    }
  } catch (error) {
    const line = (error as { lines?: number }).lines ?? 0;
    yield { line, error: new InputError(file, line, undefined, "CSV", (error as Error).message) };
    return;
  }
  yield* group.flush();
}

function checkHeader(columns: string[], layout: { required: string[]; optional: string[] }, file: string) {
  const missing = layout.required.filter((c) => !columns.includes(c));
  if (missing.length > 0) {
    return new InputError(
      file,
      1,
      missing[0],
      "required column",
      `missing; the header needs ${layout.required.join(",")}`,
    );
  }
  const known = [...layout.required, ...layout.optional];
  const unknown = columns.find((c) => !known.includes(c));
  if (unknown !== undefined) {
    return new InputError(file, 1, unknown, "known column", `unknown column; expected some of ${known.join(",")}`);
  }
  return undefined;
}

/**
 * Turns rows into items. Consecutive rows of the same user make one call; for `apps replace`, a user whose rows
 * are split would have the later call erase the earlier one, so that is an error.
 */
function grouper(operation: Operation, file: string) {
  let current: { uid: string; line: number; item: Record<string, unknown> } | undefined;
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

  function* add(row: Row, line: number): Generator<SourceRecord<unknown>> {
    const uid = row.uid ?? "";
    if (operation === "delegates") {
      try {
        yield {
          line,
          item: {
            uid: cellUid(row, "uid", file, line),
            userId: cellUid(row, "userId", file, line),
            action: cellEnum(row, "action", ["ADD", "REMOVE"], file, line),
          },
        };
      } catch (error) {
        yield { line, error: error as InputError };
      }
      return;
    }
    if (current && current.uid !== uid) yield* flush();
    if (!current) {
      current = { uid, line, item: newItem(operation, uid) };
      try {
        cellUid(row, "uid", file, line);
      } catch (error) {
        invalid ??= error as InputError;
      }
    }
    if (invalid) return;
    try {
      addRow(operation, current.item, row, file, line);
    } catch (error) {
      invalid = error as InputError;
    }
  }

  return { add, flush };
}

function newItem(operation: Operation, uid: string): Record<string, unknown> {
  if (operation === "features") return { uid, features: [] };
  if (operation === "appsReplace") return { uid, apps: [] };
  return { uid, patches: [] };
}

function addRow(operation: Operation, item: Record<string, unknown>, row: Row, file: string, line: number) {
  if (operation === "features") {
    (item.features as unknown[]).push({
      entitlement: cell(row, "entitlement", file, line),
      enabled: cellBoolean(row, "enabled", file, line),
    });
    return;
  }
  const product = cellProduct(row, file, line);
  const list = (operation === "appsReplace" ? item.apps : item.patches) as Array<Record<string, unknown>>;
  const appId = cell(row, "appId", file, line);
  const last = list.at(-1);
  if (operation === "appsReplace") {
    // Several rows of one app add its products; they must agree on the app's own settings.
    if (last && last.appId === appId) {
      for (const setting of ["listed", "install"] as const) {
        if (cellBoolean(row, setting, file, line) !== last[setting]) {
          throw new InputError(
            file,
            line,
            setting,
            "same app",
            `differs from the earlier row of app ${appId} for this user`,
          );
        }
      }
      if (product) {
        const app = last as AppEntitlement;
        app.products = [...(app.products ?? []), product];
      }
      return;
    }
    const app: AppEntitlement = {
      appId,
      listed: cellBoolean(row, "listed", file, line),
      install: cellBoolean(row, "install", file, line),
    };
    if (row.appName) app.appName = row.appName;
    if (product) app.products = [product];
    list.push(app as unknown as Record<string, unknown>);
    return;
  }
  const patch: AppEntitlementPatch = { appId };
  for (const setting of ["listed", "install"] as const) {
    if (row[setting]) patch[setting] = cellSetting(row, setting, file, line);
  }
  if (product) patch.product = product;
  list.push(patch as unknown as Record<string, unknown>);
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
      `expected a positive int64 user id, got ${JSON.stringify(value)}`,
    );
  }
  return value; // as written: the report gives back the row's own text
}

const TRUE_WORDS = new Set(["true", "1", "yes", "y"]);
const FALSE_WORDS = new Set(["false", "0", "no", "n"]);

function cellBoolean(row: Row, column: string, file: string, line: number): boolean {
  const value = cell(row, column, file, line).toLowerCase();
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  throw new InputError(file, line, column, "boolean", `expected true or false, got ${JSON.stringify(row[column])}`);
}

function cellEnum<T extends string>(row: Row, column: string, allowed: readonly T[], file: string, line: number): T {
  const value = cell(row, column, file, line).toUpperCase();
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new InputError(
    file,
    line,
    column,
    `enum ${allowed.join("|")}`,
    `expected one of ${allowed.join(", ")}, got ${JSON.stringify(row[column])}`,
  );
}

function cellSetting(row: Row, column: "listed" | "install", file: string, line: number) {
  const value = cell(row, column, file, line).toLowerCase();
  if (value === "true" || value === "false") return value.toUpperCase() as "TRUE" | "FALSE";
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
