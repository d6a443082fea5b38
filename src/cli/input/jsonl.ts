/**
 * The JSON Lines reader: one bulk item per line (report and journal lines too, with their bookkeeping under
 * {@link REPORT_KEY}); each line checked for the identity it names and for contradictions inside it.
 */
import type { Readable } from "node:stream";
import {
  JsonTooDeepError,
  MAX_JSON_DEPTH,
  mayHoldUnsafeInteger,
  nestedDeeperThan,
  parseJsonLossless,
} from "../../core/json.js";
import { printable, quote } from "../../core/text.js";
import { rulesOf } from "../../operations/index.js";
import { userValueProblem } from "./cells.js";
import { looseIdField, OverlongLine, readLines } from "./lines.js";
import {
  InputError,
  MAX_ROW_BYTES,
  type Operation,
  REPORT_KEY,
  type ReportMeta,
  SETTLED_WITHOUT_ITEM,
  type SourceRecord,
  secondUser,
  USER_FIELDS,
  USER_KEYS,
} from "./records.js";

/**
 * The objects of a JSON Lines input, one per non-blank line, each read exactly (ids beyond 2^53 as bigints), or the
 * line's error: longer than {@link MAX_ROW_BYTES}, not JSON, nested too deep, not an object, or a user id written
 * as `1e3` or `3.0`. Every reader of JSON Lines input (apply's items, export's users) reads through it.
 *
 * @example
 * ```ts
 * import { Readable } from "node:stream";
 *
 * for await (const record of jsonObjects(Readable.from(['{"uid":"7215545057281"}\n']), "users.jsonl")) {
 *   if ("error" in record) console.error(record.error.message);
 *   else console.log(record.line, record.value.uid);
 * }
 * ```
 */
export async function* jsonObjects(
  input: Readable,
  file: string,
): AsyncGenerator<{ line: number; value: Record<string, unknown> } | { line: number; error: InputError }> {
  let line = 0;
  for await (const raw of readLines(input, MAX_ROW_BYTES)) {
    line++;
    if (raw instanceof OverlongLine) {
      yield { line, error: new InputError(file, line, undefined, "line length", raw.detail) };
      continue;
    }
    const text = line === 1 ? raw.replace(/^\uFEFF/, "") : raw;
    if (text.trim() === "") continue;
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
    yield { line, value: value as Record<string, unknown> };
  }
}

export async function* readJsonLines(
  operation: Operation,
  input: Readable,
  file: string,
): AsyncGenerator<SourceRecord<unknown>> {
  let any = false;
  const keysSeen: KeysSeen = new Map();
  for await (const record of jsonObjects(input, file)) {
    any = true;
    if ("error" in record) {
      yield record;
      continue;
    }
    const { line, value } = record;
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
  const second = secondUser(operation);
  for (const keys of second === undefined ? [USER_KEYS] : [USER_KEYS, [second.id, second.email]]) {
    const present = keys.filter((key) => item[key] !== undefined);
    const key = present[0];
    if (key === undefined) continue;
    const what = USER_FIELDS[key]?.noun ?? "user";
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
    if (USER_FIELDS[key]?.kind !== "uid") {
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
  const { rows } = rulesOf(operation);
  if (rows.kind !== "grouped") return { warnings };
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
    const what = `${rows.noun} ${quote(key as string)}`;
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
    if (rows.compatible?.(list[first], entry)) {
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

function bigintSafe(_key: string, value: unknown) {
  return typeof value === "bigint" ? value.toString() : value;
}
