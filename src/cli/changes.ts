/**
 * What an item would change, by its write's declared rules (operations/*.ts): a user's current state (read with the
 * write's paired read), the `- old` / `+ new` lines of the difference, and the state to record before a write so
 * that it can be undone. Everything but {@link readCurrent} is pure.
 */
import type { PodClient } from "../api/client.js";
import { userIdToDecimal } from "../core/ids.js";
import {
  type BeforeOfLayout,
  type CurrentOfLayout,
  type ItemOfLayout,
  type Layout,
  OPERATIONS,
  type OperationName,
  rulesOf,
  WRITE_OF_LAYOUT,
} from "../operations/index.js";

/**
 * A user's current state as each operation reads it: its write's paired read.
 *
 * @example
 * ```ts
 * const current: CurrentOf["delegates"] = [7215545057282n];
 * ```
 */
export type CurrentOf = CurrentOfLayout;

/**
 * A line of the undo journal for each operation: the item's user and what it held before.
 *
 * @example
 * ```ts
 * const before: BeforeOf["features"] = { uid: "1", features: [{ entitlement: "canCreatePublicRoom", enabled: false }] };
 * ```
 */
export type BeforeOf = BeforeOfLayout;

/**
 * The read each operation's `--only-changes` and `--journal` make, as the plan shows it: its method and the path
 * after the user's.
 *
 * @example
 * ```ts
 * console.log(READ_CALL.features); // "GET features"
 * ```
 */
export const READ_CALL = Object.fromEntries(
  (Object.keys(WRITE_OF_LAYOUT) as Layout[]).map((layout) => {
    const { method, path } = OPERATIONS[rulesOf(layout).read as OperationName];
    return [layout, `${method.toUpperCase()} ${path.replace("/v1/admin/user/{uid}/", "")}`];
  }),
) as Record<Layout, string>;

/**
 * Reads a user's current state for `operation` through the client (its rate limit, retries and breakers).
 *
 * @example
 * ```ts
 * const apps = await readCurrent(pod, "appsReplace", "7215545057281");
 * ```
 */
export async function readCurrent<Op extends Layout>(
  pod: PodClient,
  operation: Op,
  uid: string,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<CurrentOf[Op]> {
  const read = rulesOf(operation).read as OperationName;
  return (await pod.users.invoke(read, uid, undefined as never, { signal: options.signal })) as CurrentOf[Op];
}

/**
 * The `- old` / `+ new` lines of what `item` would change in `current`; none when the user already holds it. What
 * counts as a change is each write's own rule (operations/*.ts, `differences`).
 *
 * @example
 * ```ts
 * const lines = differences("features", { uid: "1", features: [{ entitlement: "canCreatePublicRoom", enabled: true }] }, [
 *   { entitlement: "canCreatePublicRoom", enabled: false },
 * ]);
 * // ["- canCreatePublicRoom: false", "+ canCreatePublicRoom: true"]
 * ```
 */
export function differences<Op extends Layout>(
  operation: Op,
  item: ItemOfLayout[Op],
  current: CurrentOf[Op],
): string[] {
  return rulesOf(operation).differences(item, current);
}

/**
 * What the undo journal records for one item before it is written: the part of the state the item touches.
 *
 * @example
 * ```ts
 * const entry = beforeEntry("delegates", { uid: "1", userId: "2", action: "ADD" }, []);
 * // { uid: "1", userId: "2", action: "ADD", held: false }
 * ```
 */
export function beforeEntry<Op extends Layout>(
  operation: Op,
  item: ItemOfLayout[Op],
  current: CurrentOf[Op],
): BeforeOf[Op] {
  return rulesOf(operation).before(userIdToDecimal(item.uid, "uid"), item, current);
}

/**
 * The item that undoes a write from what was recorded before it, in the layout of {@link UNDO_OPERATION};
 * `undefined` when there is nothing to undo.
 *
 * @example
 * ```ts
 * undoItem("delegates", { uid: "1", userId: "2", action: "ADD", held: false });
 * // { uid: "1", userId: "2", action: "REMOVE" }
 * ```
 */
export function undoItem<Op extends Layout>(
  operation: Op,
  before: BeforeOf[Op],
): ItemOfLayout[(typeof UNDO_OPERATION)[Op]] | undefined {
  return rulesOf(operation).undo.item(before) as ItemOfLayout[(typeof UNDO_OPERATION)[Op]] | undefined;
}

/**
 * The operation whose items undo `operation`'s: apps, replaced or patched, are restored by a replace.
 *
 * @example
 * ```ts
 * UNDO_OPERATION.appsPatch; // "appsReplace"
 * ```
 */
export const UNDO_OPERATION = Object.fromEntries(
  (Object.keys(WRITE_OF_LAYOUT) as Layout[]).map((layout) => [layout, rulesOf(layout).undo.layout as Layout]),
) as Record<Layout, Layout>;
