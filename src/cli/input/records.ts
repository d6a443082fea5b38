/**
 * What the CLI's input readers yield and share: records (an item, an error, a warning, a settled outcome), the
 * input error naming file, line and column, report bookkeeping, and the columns that name users.
 */

import type { Readable } from "node:stream";
import { quote } from "../../core/text.js";
import { type ItemOfLayout, type Layout, rulesOf, WRITE_OF_LAYOUT } from "../../operations/index.js";

/**
 * The bulk operations the CLI applies, by the name of their file layout.
 *
 * @example
 * ```ts
 * const operation: Operation = "appsPatch";
 * ```
 */
export type Operation = Layout;

/**
 * The item type each operation reads.
 *
 * @example
 * ```ts
 * const item: ItemOf["delegates"] = { uid: "7215545057281", userId: "7215545057282", action: "ADD" };
 * ```
 */
export type ItemOf = ItemOfLayout;

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
 * const record: SourceRecord<ItemOf["features"]> = {
 *   line: 2,
 *   error: new InputError("users.csv", 2, "enabled", "boolean", 'expected true or false, got "maybe"'),
 * };
 * if ("error" in record) console.error(record.error.message);
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
 * CSV column layouts. `required` columns must be in the header; `optional` may be. Where several rows make one call
 * (features, apps), a user's rows are gathered wherever they are in the file.
 *
 * @example
 * ```ts
 * console.log(CSV_COLUMNS.features.required.join(",")); // "uid,entitlement,enabled"
 * ```
 */
export const CSV_COLUMNS = Object.fromEntries(
  (Object.keys(WRITE_OF_LAYOUT) as Operation[]).map((layout) => {
    const { csv } = rulesOf(layout);
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
 * Every column (and JSON Lines field) that names a user: the row's user (`uid`, `email`, `username`) and the second
 * users the writes declare (delegates: `userId`, `delegateEmail`). `kind`: a uid as written, or a value to look up;
 * `to`: the field its uid goes in; `noun`: what the user is called in messages.
 *
 * @example
 * ```ts
 * USER_FIELDS.delegateEmail; // { kind: "emails", to: "userId", noun: "delegate" }
 * ```
 */
export const USER_FIELDS: Readonly<Record<string, { kind: "uid" | "emails" | "usernames"; to: string; noun: string }>> =
  Object.fromEntries([
    ["uid", { kind: "uid", to: "uid", noun: "user" }],
    ["email", { kind: "emails", to: "uid", noun: "user" }],
    ["username", { kind: "usernames", to: "uid", noun: "user" }],
    ...(Object.keys(WRITE_OF_LAYOUT) as Operation[]).flatMap((layout) => {
      const second = secondUser(layout);
      if (second === undefined) return [];
      return [
        [second.id, { kind: "uid", to: second.id, noun: second.noun }],
        [second.email, { kind: "emails", to: second.id, noun: second.noun }],
      ];
    }),
  ]);

/**
 * The second user a write's rows name, if any (delegates: the delegate, by `userId` or `delegateEmail`).
 *
 * @example
 * ```ts
 * secondUser("delegates"); // { id: "userId", email: "delegateEmail", noun: "delegate" }
 * ```
 */
export function secondUser(operation: Operation): { id: string; email: string; noun: string } | undefined {
  const { rows } = rulesOf(operation);
  return rows.kind === "single" ? rows.second : undefined;
}

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
