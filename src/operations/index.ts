/**
 * THE operation table: every Pod API operation this package wraps, gathered from the group modules (features.ts,
 * delegates.ts, apps.ts, status.ts, users.ts), where each is declared once: method and path, how the facade's input
 * maps to the wire and the answer back, and for a write its bulk item and its {@link WriteRules} (CSV columns, row to
 * item, the paired read, the difference, the state before and the undo item, the export, the journal check).
 *
 * The facade (api/users.ts) runs each entry through the typed openapi-fetch client; the bulk helpers (api/bulk.ts)
 * and the `pod-admin` commands are built from here. Two checks keep it whole: `satisfies SpecChecked` fails the
 * typecheck when an entry's method, path, body or query is not the spec's; `satisfies WritesDeclared` fails it when
 * a write (an entry with `bulk`) lacks any of its rules. See docs/regenerating.md, "Wrapping another operation".
 */
import type { FetchOptions } from "openapi-fetch";
import type { AnswerDecoder } from "../core/http.js";
import type { PodPaths } from "../core/paths.js";
import { appOperations, appPatchWrite, appReplaceWrite } from "./apps.js";
import type { TableEntry, WriteRules } from "./define.js";
import { delegateOperations, delegateWrite } from "./delegates.js";
import { featureOperations, featureWrite } from "./features.js";
import { statusOperations, statusWrite } from "./status.js";
import { userOperations } from "./users.js";
import { jsonAnswer, type OperationKey } from "./wire.js";

/** Every wrapped operation, by the facade's name for it. @internal */
export const OPERATIONS = {
  ...featureOperations,
  ...delegateOperations,
  ...appOperations,
  ...statusOperations,
  ...userOperations,
} as const satisfies Record<string, TableEntry>;

type SpecOperation<P, M> = P extends keyof PodPaths
  ? M extends keyof PodPaths[P]
    ? NonNullable<PodPaths[P][M]>
    : never
  : never;

/** What the entry's `request` may return: the spec's body and query for its method and path, as openapi-fetch types them. */
type SpecWire<P, M> = {
  body?: FetchOptions<SpecOperation<P, M>>["body"];
  query?: SpecOperation<P, M> extends { parameters: { query?: infer Q } } ? Q : never;
};

/**
 * Fails the typecheck when an entry names a method its path does not have in the spec, or when its `request` builds
 * a body or query the spec does not take.
 */
type SpecChecked<T> = {
  [K in keyof T]: T[K] extends { method: infer M; path: infer P }
    ? [SpecOperation<P, M>] extends [never] // openapi-typescript declares absent methods as `never`
      ? never
      : T[K] extends { request: (input: never) => infer W }
        ? W extends SpecWire<P, M>
          ? T[K]
          : never
        : T[K]
    : never;
};
OPERATIONS satisfies SpecChecked<typeof OPERATIONS>;

/** The name of a wrapped operation, e.g. `updateFeatures`. @internal */
export type OperationName = keyof typeof OPERATIONS;

/** The facade input of an operation that takes one (its `request`'s argument). @internal */
export type InputOf<K extends OperationName> = (typeof OPERATIONS)[K] extends { request: (input: infer I) => unknown }
  ? I
  : undefined;

/** What the facade returns for an operation. @internal */
export type ResultOf<K extends OperationName> = (typeof OPERATIONS)[K] extends { result: (wire: never) => infer R }
  ? R
  : (typeof OPERATIONS)[K] extends { read: (key: OperationKey) => AnswerDecoder<infer R> }
    ? R
    : unknown;

/** The operations that have a bulk form and a `pod-admin` command: the writes. @internal */
export type WriteOperation = {
  [K in OperationName]: (typeof OPERATIONS)[K] extends { bulk: object } ? K : never;
}[OperationName];

/** The bulk item of a write, as its table entry declares it. @internal */
export type BulkItemOf<K extends WriteOperation> = Parameters<(typeof OPERATIONS)[K]["bulk"]["input"]>[0];

/**
 * What {@link WRITES} must hold: complete rules for every write of the table, no more, no less.
 * @internal
 */
export type WritesDeclared = { [K in WriteOperation]: WriteRules<BulkItemOf<K>, never, unknown> };

/**
 * Every write's rules, by its table name. `satisfies` makes a write without rules (or rules of another item type) a
 * type error here, so nothing can fall through to another operation's code.
 * @internal
 */
export const WRITES = {
  updateFeatures: featureWrite,
  updateDelegates: delegateWrite,
  replaceApps: appReplaceWrite,
  patchApps: appPatchWrite,
  updateStatus: statusWrite,
} as const satisfies WritesDeclared;

/** The CLI's name of each write's layout: `features`, `delegates`, `appsReplace`, `appsPatch`, `status`. @internal */
export type Layout = (typeof WRITES)[WriteOperation]["layout"];

/** The write of each layout. @internal */
export type WriteOfLayout = { [K in WriteOperation as (typeof WRITES)[K]["layout"]]: K };

/** The write of each layout, at run time. @internal */
export const WRITE_OF_LAYOUT = Object.fromEntries(
  (Object.keys(WRITES) as WriteOperation[]).map((name) => [WRITES[name].layout, name]),
) as WriteOfLayout;

/** The rules of a layout's write. @internal */
export function rulesOf<L extends Layout>(
  layout: L,
): WriteRules<ItemOfLayout[L], CurrentOfLayout[L], BeforeOfLayout[L]> {
  return WRITES[WRITE_OF_LAYOUT[layout]] as never;
}

/** The bulk item of each layout. @internal */
export type ItemOfLayout = { [L in Layout]: BulkItemOf<WriteOfLayout[L]> };

/** What each layout's paired read returns. @internal */
export type CurrentOfLayout = {
  [L in Layout]: (typeof WRITES)[WriteOfLayout[L]] extends WriteRules<never, infer C, unknown> ? C : never;
};

/** The undo journal's record of each layout. @internal */
export type BeforeOfLayout = {
  [L in Layout]: (typeof WRITES)[WriteOfLayout[L]] extends { before(...args: never[]): infer B } ? B : never;
};

/** The writes, in table order. @internal */
export const WRITE_OPERATIONS = Object.keys(WRITES) as WriteOperation[];

/** `"<method> <path>"`, as the generated response validators are keyed. @internal */
export function operationKey<K extends OperationName>(
  name: K,
): `${(typeof OPERATIONS)[K]["method"]} ${(typeof OPERATIONS)[K]["path"]}` {
  const { method, path } = OPERATIONS[name];
  return `${method} ${path}` as `${(typeof OPERATIONS)[K]["method"]} ${(typeof OPERATIONS)[K]["path"]}`;
}

const answerDecoders = new Map<OperationName, AnswerDecoder<unknown>>();

/** The decoder of an operation's 2xx answers, built once. @internal */
export function answerDecoder(name: OperationName): AnswerDecoder<unknown> {
  let decoder = answerDecoders.get(name);
  if (decoder === undefined) {
    const entry: TableEntry = OPERATIONS[name];
    const key = operationKey(name) as OperationKey;
    decoder = entry.read ? entry.read(key) : jsonAnswer(key);
    answerDecoders.set(name, decoder);
  }
  return decoder;
}
