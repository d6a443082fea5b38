/**
 * Reading one CSV cell: required, a boolean, one of a list, an app setting, a user (uid, email or username), each
 * failing with an {@link InputError} naming file, line, column and rule. {@link rowCells} hands them to the writes'
 * row rules, bound to the row.
 */
import { userIdToDecimal } from "../../core/ids.js";
import { escapeInvisible, quote } from "../../core/text.js";
import type { RowCells, Seen } from "../../operations/define.js";
import { type DelegateKey, InputError, looksLikeEmail, type UserKey } from "./records.js";

/** A CSV row by column. */
export type Row = Record<string, string>;

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
export function cellUser(row: Row, column: UserKey | DelegateKey, file: string, line: number): string {
  if (column === "uid" || column === "userId") return cellUid(row, column, file, line);
  const value = cell(row, column, file, line);
  const problem = userValueProblem(column, value);
  if (problem) throw new InputError(file, line, column, problem.rule, problem.detail);
  return value;
}

/** What is wrong with an email or a username (not a uid), or undefined. */
export function userValueProblem(column: string, value: string): { rule: string; detail: string } | undefined {
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

function cellSetting(row: Row, column: string, file: string, line: number): string {
  const value = cell(row, column, file, line).toLowerCase();
  if (TRUE_WORDS.has(value)) return "TRUE";
  if (FALSE_WORDS.has(value)) return "FALSE";
  return cellEnum(row, column, ["TRUE", "FALSE", "KEEP", "REMOVE"] as const, file, line);
}

/**
 * The cells of one row as the writes' row rules read them (operations/define.ts), each failure an
 * {@link InputError} naming this file and line.
 */
export function rowCells(row: Row, file: string, line: number): RowCells {
  return {
    file,
    line,
    row,
    text: (column) => cell(row, column, file, line),
    boolean: (column) => cellBoolean(row, column, file, line),
    oneOf: (column, allowed) => cellEnum(row, column, allowed, file, line),
    setting: (column) => cellSetting(row, column, file, line) as "TRUE" | "FALSE" | "KEEP" | "REMOVE",
    user: (column) => cellUser(row, column as UserKey | DelegateKey, file, line),
    error: (column, rule, detail) => new InputError(file, line, column, rule, detail),
    contradiction: (column, what, text, earlier) => contradiction(file, line, column, what, text, earlier),
    merged: (what, first) => merged(file, line, what, first),
  };
}
