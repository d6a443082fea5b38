/**
 * Delegates: `delegates/update` (add or remove one delegate, the write) and `delegates` (its read, int64 ids read
 * exactly). One row, one call: a user may have several rows, one per delegate.
 */
import { ValidationError } from "../core/errors.js";
import { canonicalUserId, type UserId, userIdToDecimal } from "../core/ids.js";
import type { Schemas } from "./define.js";
import { writeRules } from "./define.js";
import { checkBody, int64ListAnswer, requireFields, toWire } from "./wire.js";

/**
 * What `delegates/update` does with `userId`.
 *
 * @example
 * ```ts
 * const action: DelegateAction = "ADD";
 * ```
 * @useDeclaredType
 */
export type DelegateAction = NonNullable<Schemas["DelegateAction"]["action"]>;

/**
 * The body of `delegates/update`: add or remove one delegate.
 *
 * @example
 * ```ts
 * const update: DelegateUpdate = { userId: 7215545057282n, action: "REMOVE" };
 * ```
 */
export interface DelegateUpdate {
  /** The delegate's user id. */
  userId: UserId;
  /** `ADD` or `REMOVE`. */
  action: DelegateAction;
}

/**
 * One delegate change in a bulk run.
 *
 * @example
 * ```ts
 * const item: DelegateUpdateItem = { uid: 7215545057281n, userId: 7215545057282n, action: "ADD" };
 * ```
 */
export interface DelegateUpdateItem {
  /** The user whose delegates change. */
  uid: UserId;
  /** The delegate to add or remove. */
  userId: UserId;
  /** `ADD` or `REMOVE`. */
  action: DelegateAction;
}

/** The table entries of this group. @internal */
export const delegateOperations = {
  updateDelegates: {
    method: "post",
    path: "/v1/admin/user/{uid}/delegates/update",
    request: (update: DelegateUpdate) => {
      if (update === null || typeof update !== "object") {
        throw new ValidationError("update", "type object", "must be an object { userId, action }");
      }
      // Checks and body read the same copy, so what was checked is what is sent.
      const wire = toWire(update, "DelegateAction", "update") as { userId?: unknown; action?: unknown };
      requireFields(wire, ["userId", "action"], "update");
      const delegate = BigInt(userIdToDecimal(wire.userId, "update.userId"));
      const checked = { action: wire.action };
      checkBody(checked, "post /v1/admin/user/{uid}/delegates/update", "update");
      // int64: the delegate goes out as a bigint, written with every digit by the body serializer.
      return { body: { userId: delegate as unknown as number, action: checked.action } };
    },
    result: (): void => undefined,
    dryRun: (): void => undefined,
    bulk: {
      fields: ["uid", "userId", "action"],
      input: (item: DelegateUpdateItem): DelegateUpdate => ({ userId: item.userId, action: item.action }),
    },
  },
  listDelegates: {
    method: "get",
    path: "/v1/admin/user/{uid}/delegates",
    read: int64ListAnswer,
  },
} as const;

/** The undo journal's record before a delegate change: whether the user held the delegate. */
export interface DelegatesBefore {
  uid: string;
  userId: string;
  action: "ADD" | "REMOVE";
  held: boolean;
}

/** `pod-admin delegates apply`: one row, one call; a user may have a row per delegate. @internal */
export const delegateWrite = writeRules<DelegateUpdateItem, bigint[], DelegatesBefore>()({
  layout: "delegates",
  words: "delegates apply",
  label: "delegates",
  help: {
    does: "add or remove delegates",
    columns: "uid|email|username,userId|delegateEmail,action",
    exports: "their delegates, in the delegates apply layout (action ADD)",
  },
  csv: { required: ["uid", "userId", "action"], optional: [] },
  rows: {
    kind: "single",
    second: { id: "userId", email: "delegateEmail", noun: "delegate" },
    item: (cells) => {
      const delegate = "delegateEmail" in cells.row ? "delegateEmail" : "userId";
      return { [delegate]: cells.user(delegate), action: cells.oneOf("action", ["ADD", "REMOVE"] as const) };
    },
    perUser: {
      many: true,
      noun: "delegate change",
      secondKey: (item) => userIdToDecimal(item.userId, "userId"),
      secondNoun: "delegate",
      choice: { field: "action", values: ["ADD", "REMOVE"] },
    },
  },
  read: "listDelegates",
  // An ADD of a delegate the user has, or a REMOVE of one they do not have, changes nothing.
  differences(item, current) {
    const delegate = userIdToDecimal(item.userId, "userId");
    const held = current.some((id) => id.toString() === delegate);
    if (item.action === "ADD") return held ? [] : [`+ delegate ${delegate}`];
    return held ? [`- delegate ${delegate}`] : [];
  },
  before(uid, { userId, action }, current) {
    const delegate = userIdToDecimal(userId, "userId");
    return { uid, userId: delegate, action, held: current.some((id) => id.toString() === delegate) };
  },
  journal: {
    fields: ["uid", "userId", "action", "held"],
    check(entry, shape) {
      if (typeof entry.userId !== "string" || canonicalUserId(entry.userId) === undefined) {
        return `"userId" must be a positive int64 user id as a string: ${shape}`;
      }
      if (entry.action !== "ADD" && entry.action !== "REMOVE") return `"action" must be ADD or REMOVE`;
      if (typeof entry.held !== "boolean") return `"held" must be true or false: ${shape}`;
      return undefined;
    },
  },
  // The reverse of a change that changed something.
  undo: {
    layout: "delegates",
    item({ uid, userId, action, held }) {
      if (action === "ADD" && !held) return { uid, userId, action: "REMOVE" };
      if (action === "REMOVE" && held) return { uid, userId, action: "ADD" };
      return undefined;
    },
  },
  export: {
    words: "delegates export",
    as: (uid, answered) => {
      // By uid: two exports of one pod are byte-identical.
      const delegates = [...answered].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const rows = delegates.map((d) => ({ uid, userId: d.toString(), action: "ADD" }));
      return { rows, items: rows };
    },
  },
});
