/**
 * User status: `status/update` (enable, disable or suspend a user: the offboarding write) and `status` (its read).
 * Added as the proof that a write is one declaration: this file, the simulator's handler and the spec.
 */
import { ValidationError } from "../core/errors.js";
import { canonicalUserId, type UserId } from "../core/ids.js";
import { quote } from "../core/text.js";
import type { ExportCells, RowCells, Schemas } from "./define.js";
import { writeRules } from "./define.js";
import { checkBody, requireFields, toWire } from "./wire.js";

/**
 * A user's account status, as `getStatus` returns it: `ENABLED` or `DISABLED`, and the suspension fields of SBE
 * 20.14 and later when the pod sends them.
 *
 * @example
 * ```ts
 * const status: UserStatus = { status: "ENABLED", suspended: true, suspendedUntil: 1601546400, suspensionReason: "Leave" };
 * ```
 * @useDeclaredType
 */
export type UserStatus = Schemas["UserStatus"];

/**
 * What `updateStatus` sets: the status, and optionally a suspension (`suspendedUntil` is a unix time in seconds).
 *
 * @example
 * ```ts
 * const offboard: UserStatusUpdate = { status: "DISABLED" };
 * ```
 */
export interface UserStatusUpdate {
  /** `ENABLED` or `DISABLED`. */
  status: "ENABLED" | "DISABLED";
  /** Whether the user is temporarily suspended (SBE 20.14 and later). */
  suspended?: boolean | undefined;
  /** Until when the suspension holds, as a unix time in seconds. */
  suspendedUntil?: number | undefined;
  /** Why the user is suspended. */
  suspensionReason?: string | undefined;
}

/**
 * One user's status change in a bulk run.
 *
 * @example
 * ```ts
 * const item: UserStatusItem = { uid: 7215545057281n, status: "DISABLED" };
 * ```
 */
export interface UserStatusItem extends UserStatusUpdate {
  /** The user whose status changes. */
  uid: UserId;
}

const SUSPENSION = ["suspended", "suspendedUntil", "suspensionReason"] as const;

/** The table entries of this group. @internal */
export const statusOperations = {
  updateStatus: {
    method: "post",
    path: "/v1/admin/user/{uid}/status/update",
    request: (update: UserStatusUpdate) => {
      if (update === null || typeof update !== "object" || Array.isArray(update)) {
        throw new ValidationError("status", "type object", "must be an object { status, suspended?, … }");
      }
      const body = toWire(update, "UserStatus", "status") as Schemas["UserStatus"];
      requireFields(body, ["status"], "status");
      const until = body.suspendedUntil;
      if (until !== undefined && !(Number.isSafeInteger(until) && until >= 0)) {
        throw new ValidationError(
          "status.suspendedUntil",
          "unix time",
          `must be a unix time in whole seconds, got ${String(until)}`,
        );
      }
      checkBody(body, "post /v1/admin/user/{uid}/status/update", "status");
      return { body };
    },
    result: (): void => undefined,
    dryRun: (): void => undefined,
    bulk: {
      fields: ["uid", "status", ...SUSPENSION],
      input: ({ uid: _uid, ...update }: UserStatusItem): UserStatusUpdate => update,
    },
  },
  getStatus: {
    method: "get",
    path: "/v1/admin/user/{uid}/status",
    result: (wire: Schemas["UserStatus"]): UserStatus => wire,
  },
} as const;

/** The undo journal's record before a status change: the status (and suspension) the pod reported. */
export interface StatusBefore extends UserStatus {
  uid: string;
}

/** A status as `- old` / `+ new` words: the fields the item sets, in one order. */
function statusWords(status: UserStatus, fields: readonly string[]): string[] {
  const record = status as Record<string, unknown>;
  return fields.map((field) => `${field}: ${record[field] === undefined ? "(not set)" : String(record[field])}`);
}

function readSuspendedUntil(cells: RowCells): number {
  const text = cells.text("suspendedUntil");
  const value = Number(text);
  if (!/^\d{1,15}$/.test(text) || !Number.isSafeInteger(value)) {
    throw cells.error("suspendedUntil", "unix time", `expected a unix time in seconds, got ${quote(text)}`);
  }
  return value;
}

/** `pod-admin status apply`: one row, one user. @internal */
export const statusWrite = writeRules<UserStatusItem, UserStatus, StatusBefore>()({
  layout: "status",
  words: "status apply",
  label: "status",
  help: {
    does: "enable, disable or suspend",
    columns: "uid|email|username,status[,suspended][,suspendedUntil][,suspensionReason]",
    exports: "their status, in the status apply layout",
  },
  csv: { required: ["uid", "status"], optional: [...SUSPENSION] },
  rows: {
    kind: "single",
    item(cells) {
      const item: Record<string, unknown> = { status: cells.oneOf("status", ["ENABLED", "DISABLED"] as const) };
      if (cells.row.suspended) item.suspended = cells.boolean("suspended");
      if (cells.row.suspendedUntil) item.suspendedUntil = readSuspendedUntil(cells);
      if (cells.row.suspensionReason) item.suspensionReason = cells.row.suspensionReason;
      return item;
    },
    perUser: { many: false },
  },
  read: "getStatus",
  // Only the fields the item sets: a pod before SBE 20.14 says nothing of suspensions.
  differences(item, current) {
    const wanted: Record<string, unknown> = { ...item };
    const now: Record<string, unknown> = { ...current };
    const fields = ["status", ...SUSPENSION].filter((field) => wanted[field] !== undefined);
    const changed = fields.filter((field) => wanted[field] !== now[field]);
    if (changed.length === 0) return [];
    return [
      ...statusWords(current, changed).map((words) => `- ${words}`),
      ...statusWords(item, changed).map((words) => `+ ${words}`),
    ];
  },
  before(uid, item, current) {
    const before: StatusBefore = { uid };
    if (current.status !== undefined) before.status = current.status;
    // A suspension the run sets is undone by setting it off, even where the pod did not mention it before.
    if (current.suspended !== undefined || item.suspended !== undefined) before.suspended = current.suspended ?? false;
    if (current.suspendedUntil !== undefined) before.suspendedUntil = current.suspendedUntil;
    if (current.suspensionReason !== undefined) before.suspensionReason = current.suspensionReason;
    return before;
  },
  journal: {
    fields: ["uid", "status", ...SUSPENSION],
    check(entry, shape) {
      if (entry.status !== "ENABLED" && entry.status !== "DISABLED")
        return `"status" must be ENABLED or DISABLED: ${shape}`;
      if (entry.suspended !== undefined && typeof entry.suspended !== "boolean")
        return `"suspended" must be true or false`;
      const until = entry.suspendedUntil;
      if (until !== undefined && !(Number.isSafeInteger(until) && (until as number) >= 0)) {
        return `"suspendedUntil" must be a unix time in seconds`;
      }
      if (entry.suspensionReason !== undefined && typeof entry.suspensionReason !== "string") {
        return `"suspensionReason" must be a string`;
      }
      return undefined;
    },
  },
  // The status read before, as it was: what the run changed is set back.
  undo: {
    layout: "status",
    item: ({ uid, ...status }) =>
      status.status === undefined || canonicalUserId(uid) === undefined ? undefined : { uid, ...status },
  },
  export: {
    words: "status export",
    as: (uid, status) => {
      const row: ExportCells = { uid, ...status };
      return { rows: [row], items: [row] };
    },
  },
});
