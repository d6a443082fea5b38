/**
 * The shape of an operation's declaration. Each group module (features.ts, delegates.ts, apps.ts, status.ts,
 * users.ts) declares its operations with these types; index.ts gathers them into the table, checks them against the
 * spec and requires every write to declare every rule ({@link WriteRules}), so a half-declared write fails `tsc`
 * instead of falling through to another operation's code.
 * @internal
 * @module
 */
import type { components } from "../../generated/pod-api.js";
import type { AnswerDecoder } from "../core/http.js";
import type { UserId } from "../core/ids.js";
import type { OperationKey } from "./wire.js";

/** The spec's component schemas, as openapi-typescript writes them. @internal */
export type Schemas = components["schemas"];

/**
 * One call of the table: the spec's `method` and `path`; `request` maps the facade's checked input to the wire's
 * `body` and `query`; `read` parses a 2xx answer (default: JSON checked against the spec's schema); `result` maps the
 * answer to what the facade returns; `dryRun` is what a write resolves to when nothing is sent; `bulk` makes a write
 * a bulk operation (its item's fields and the item's facade input).
 * @internal
 */
export interface TableEntry {
  method: "get" | "post" | "patch";
  path: string;
  request?: (input: never) => { body?: unknown; query?: object };
  read?: (key: OperationKey) => AnswerDecoder<unknown>;
  result?: (wire: never) => unknown;
  dryRun?: () => unknown;
  bulk?: { fields: readonly string[]; input: (item: never) => unknown };
}

/**
 * What an earlier row of the same user set, so a later row that contradicts it is refused naming both rows.
 * @internal
 */
export interface Seen {
  /** The value as compared (`true`, `TRUE`, …). */
  value: string;
  /** The cell as written, for messages. */
  cell: string;
  line: number;
  column: string;
}

/**
 * The cells of one CSV row, bound to its file and line, as the CLI reads them: each throws the CLI's input error
 * naming the file, line, column and rule. The operations declare how a row becomes (part of) an item with these, and
 * never parse cells themselves.
 * @internal
 */
export interface RowCells {
  readonly file: string;
  readonly line: number;
  /** The row as read, by column. */
  readonly row: Readonly<Record<string, string>>;
  /** A required cell's text. */
  text(column: string): string;
  /** `true`/`false` (also `yes`/`no`, `1`/`0`). */
  boolean(column: string): boolean;
  /** One of `allowed`, any case. */
  oneOf<T extends string>(column: string, allowed: readonly T[]): T;
  /** An app patch setting: `TRUE`, `FALSE`, `KEEP` or `REMOVE` (booleans accepted). */
  setting(column: string): "TRUE" | "FALSE" | "KEEP" | "REMOVE";
  /** A user (or delegate) cell: a uid, an email or a username, checked by its column. */
  user(column: string): string;
  /** The error of a cell breaking `rule`. */
  error(column: string | undefined, rule: string, detail: string): Error;
  /** `what` set differently by an earlier row of the user. */
  contradiction(column: string, what: string, cell: string, earlier: Seen): Error;
  /** The warning of a row that repeats line `first` exactly (`what` names it): merged into one. */
  merged(what: string, first: number): Error;
}

/**
 * How a write's CSV rows and JSON Lines items become items:
 * - `grouped`: a user's rows make one item, whose `list` holds an element per row (or per `key`), as `add` builds;
 * - `single`: one row, one item; `perUser: "many"` when a user may have several (delegates: one per delegate,
 *   told apart by `secondKey`, the plan's `noun` for them), `"one"` otherwise.
 * @internal
 */
export type RowRules =
  | {
      kind: "grouped";
      /** The item's list field, e.g. `features`. */
      list: string;
      /** The field that names an element of the list, e.g. `entitlement`. */
      key: string;
      /** What an element is called in messages (`feature`, `app`). */
      noun: string;
      /** A user's state while their rows are read (what earlier rows set). */
      start(): unknown;
      /** Adds a row to the user's item; returns a warning (a merged repeat), throws on a contradiction. */
      add(state: never, item: Record<string, unknown>, cells: RowCells, user: string): Error | undefined;
      /** Two JSON Lines elements of one key that may stand together (apps patch: different settings). */
      compatible?(a: unknown, b: unknown): boolean;
    }
  | {
      kind: "single";
      /** The item's fields besides the user, from one row. */
      item(cells: RowCells): Record<string, unknown>;
      perUser:
        | { many: false }
        | {
            many: true;
            /** What one item is called in the plan (`delegate change`). */
            noun: string;
            /** What tells a user's items apart (the delegate's uid), and what it is called (`delegate`). */
            secondKey(item: Record<string, unknown>): string;
            secondNoun: string;
            /** The field whose values contradict each other for one second key (`action`: ADD or REMOVE). */
            choice: { field: string; values: readonly [string, string] };
          };
      /**
       * A second user each row names (delegates: the delegate), by uid in `id` or by email in `email` (one way per
       * file), resolved like the row's user; `noun` names it in messages.
       */
      second?: { id: string; email: string; noun: string };
    };

/**
 * A CSV row or JSON Lines item of an export, keyed by the apply layout's columns and fields.
 * @internal
 */
export type ExportCells = Record<string, string | number | boolean | undefined>;

/**
 * Everything the CLI does with one write, declared beside its call. `Item` is its bulk item, `Current` what its
 * paired read returns, `Before` the undo journal's record of the state an item changes.
 * @internal
 */
export interface WriteRules<Item, Current, Before> {
  /** The CLI's name for this write's file layout and journals, e.g. `appsPatch`. */
  layout: string;
  /** The `pod-admin` command's two words, e.g. `apps patch`. */
  words: string;
  /** The write in the plan, e.g. `apps (patch)`. */
  label: string;
  /** The help text's lines: what the command does, its CSV columns, and what its export writes. */
  help: { does: string; columns: string; exports?: string };
  /** The apply layout's CSV columns (a user column — `uid`, `email` or `username` — comes first). */
  csv: { required: readonly string[]; optional: readonly string[] };
  rows: RowRules;
  /** The table's read of the state this write changes: `--only-changes`, `--journal` and `export` call it. */
  read: string;
  /** The `- old` / `+ new` lines of what `item` would change in `current`; none when the user holds it already. */
  differences: (item: Item, current: Current) => string[];
  /** What the undo journal records before `item` is written: the part of `current` the item changes. */
  before: (uid: string, item: Item, current: Current) => Before;
  /**
   * The fields of a journal line ({@link WriteRules.before}'s), and what is wrong with one (its uid checked already),
   * or undefined; `shape` says what the line should hold.
   */
  journal: { fields: readonly string[]; check: (entry: Record<string, unknown>, shape: string) => string | undefined };
  /** The write whose item undoes this one (its `layout`), and that item; undefined when nothing is to undo. */
  undo: {
    layout: string;
    item: (before: Before) => Record<string, unknown> | undefined;
    /** What the undo cannot set back (`noun` and names: features that had no value; the API cannot unset one). */
    lost?: { noun: string; names: (before: Before) => readonly string[] };
  };
  /**
   * `export`: what a user holds as rows of the apply layout (`rows`: CSV, `items`: JSON Lines); undefined when this
   * write's state is exported by another layout (apps patch: by apps replace).
   */
  export:
    | { words: string; as: (uid: string, current: Current) => { rows: ExportCells[]; items: object[] } }
    | undefined;
}

/**
 * Declares a write's rules with their types checked against its item, read and journal record. The declaration's
 * own type is kept (its `layout`, `words`, `read` and `undo.layout` as literals), so index.ts can check that the
 * read exists and returns what the rules compare, that the undo names a write, and that no two writes share a layout
 * or a command.
 * @internal
 */
export function writeRules<Item extends { uid: UserId }, Current, Before>() {
  return <const Rules extends WriteRules<Item, Current, Before>>(rules: Rules): Rules => rules;
}

/**
 * What the table requires of a write's rules, whatever its read and journal record: every rule, each taking the
 * write's item (so another write's rules do not fit).
 * @internal
 */
export type DeclaredWrite<Item> = Omit<WriteRules<Item, never, never>, "before"> & {
  before: (uid: string, item: Item, current: never) => unknown;
};

/**
 * Orders texts by UTF-16 code units, whatever the locale: what an export sorts by, so its bytes do not depend on
 * the machine.
 * @internal
 */
export function compareText(a: string | undefined, b: string | undefined): number {
  const x = a ?? "";
  const y = b ?? "";
  return x < y ? -1 : x > y ? 1 : 0;
}
