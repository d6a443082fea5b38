/**
 * What an item would change: a user's current state (read with the list calls), whether an item differs from it
 * following the operation's meaning, the `- old` / `+ new` lines of the difference, and the state to record before
 * a write so that it can be undone. Everything but {@link readCurrent} is pure.
 */
import type { AppPatchItem, AppReplaceItem, DelegateUpdateItem, FeatureUpdateItem } from "../api/bulk.js";
import type { AppEntitlement, AppProduct, FeatureEntitlement } from "../api/users.js";
import type { PodClient } from "../core/client.js";
import { userIdToDecimal } from "../core/ids.js";
import type { ItemOf, Operation } from "./input/readers.js";
import { quote } from "./text.js";

/**
 * A user's current state as each operation reads it: the list call of its kind.
 *
 * @example
 * ```ts
 * const current: CurrentOf["delegates"] = [7215545057282n];
 * ```
 */
export interface CurrentOf {
  features: FeatureEntitlement[];
  delegates: bigint[];
  appsReplace: AppEntitlement[];
  appsPatch: AppEntitlement[];
}

/**
 * The read each operation's `--only-changes` and `--journal` make, as the plan shows it.
 *
 * @example
 * ```ts
 * console.log(READ_CALL.features); // "GET features"
 * ```
 */
export const READ_CALL: Record<Operation, string> = {
  features: "GET features",
  delegates: "GET delegates",
  appsReplace: "GET app/entitlement/list",
  appsPatch: "GET app/entitlement/list",
};

/**
 * Reads a user's current state for `operation` through the client (its rate limit, retries and breakers).
 *
 * @example
 * ```ts
 * const apps = await readCurrent(pod, "appsReplace", "7215545057281");
 * ```
 */
export async function readCurrent<Op extends Operation>(
  pod: PodClient,
  operation: Op,
  uid: string,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<CurrentOf[Op]> {
  const call = { signal: options.signal };
  if (operation === "features") return (await pod.users.listFeatures(uid, call)) as CurrentOf[Op];
  if (operation === "delegates") return (await pod.users.listDelegates(uid, call)) as CurrentOf[Op];
  return (await pod.users.listApps(uid, call)) as CurrentOf[Op];
}

/**
 * The `- old` / `+ new` lines of what `item` would change in `current`; none when the user already holds it.
 * - features: only the features the item names (a feature not set is `(not set)`);
 * - delegates: an `ADD` of a delegate the user has, or a `REMOVE` of one they do not have, changes nothing;
 * - apps replace: the whole list, in any order, products compared by value; an optional field the file leaves out
 *   (`appName`, a product's `sku` or `appId`) is not compared, since the pod may fill it in itself;
 * - apps patch: an app the user does not have is added by any patch; a `KEEP` (or absent) setting changes
 *   nothing, `TRUE`/`FALSE` change a different value, `REMOVE` always counts (the list shows the value the user
 *   sees, not whether it is their own setting or the pod's); a product changes unless one equal by value is there
 *   (its `sku` and `appId` compared only when the patch gives them).
 *
 * @example
 * ```ts
 * const lines = differences("features", { uid: "1", features: [{ entitlement: "canCreatePublicRoom", enabled: true }] }, [
 *   { entitlement: "canCreatePublicRoom", enabled: false },
 * ]);
 * // ["- canCreatePublicRoom: false", "+ canCreatePublicRoom: true"]
 * ```
 */
export function differences<Op extends Operation>(operation: Op, item: ItemOf[Op], current: CurrentOf[Op]): string[] {
  switch (operation) {
    case "features":
      return featureDifferences(item as FeatureUpdateItem, current as FeatureEntitlement[]);
    case "delegates":
      return delegateDifferences(item as DelegateUpdateItem, current as bigint[]);
    case "appsReplace":
      return replaceDifferences(item as AppReplaceItem, current as AppEntitlement[]);
    default:
      return patchDifferences(item as AppPatchItem, current as AppEntitlement[]);
  }
}

function featureDifferences(item: FeatureUpdateItem, current: FeatureEntitlement[]): string[] {
  const now = new Map(current.map((feature) => [feature.entitlement, feature.enabled]));
  const lines: string[] = [];
  for (const { entitlement, enabled } of item.features) {
    const before = now.get(entitlement);
    if (before === enabled) continue;
    lines.push(`- ${entitlement}: ${before === undefined ? "(not set)" : before}`, `+ ${entitlement}: ${enabled}`);
  }
  return lines;
}

function delegateDifferences(item: DelegateUpdateItem, current: bigint[]): string[] {
  const delegate = userIdToDecimal(item.userId, "userId");
  const held = current.some((id) => id.toString() === delegate);
  if (item.action === "ADD") return held ? [] : [`+ delegate ${delegate}`];
  return held ? [`- delegate ${delegate}`] : [];
}

/** An app as one line: its id, settings, name and products (sorted, so the order of either list is no change). */
function appText(app: AppEntitlement): string {
  const products = (app.products ?? []).map(productText).sort();
  return (
    `app ${quote(app.appId)} listed=${app.listed} install=${app.install}` +
    (app.appName === undefined ? "" : ` appName=${quote(app.appName)}`) +
    (products.length === 0 ? "" : ` products=[${products.join(", ")}]`)
  );
}

/** A product by value: every field, absent ones left out, in one order. */
function productText(product: AppProduct): string {
  const fields = [`name=${quote(product.name)}`, `type=${quote(product.type)}`, `subscribed=${product.subscribed}`];
  if (product.sku !== undefined) fields.push(`sku=${quote(product.sku)}`);
  if (product.appId !== undefined) fields.push(`appId=${quote(product.appId)}`);
  return `{${fields.join(" ")}}`;
}

/**
 * The pod's app as far as the file gives it: an optional field the file leaves out (`appName`, a product's `sku`
 * or `appId`) may be filled in by the pod itself (from its catalogue), so it is no difference and is left out.
 */
function asGiven(current: AppEntitlement, given: AppEntitlement): AppEntitlement {
  const { appName, products, ...app } = current;
  const named = new Map((given.products ?? []).map((product) => [product.name, product]));
  return {
    ...app,
    ...(appName !== undefined && given.appName !== undefined && { appName }),
    ...(products !== undefined && {
      products: products.map((product) => {
        const wanted = named.get(product.name);
        return wanted === undefined ? product : productAsGiven(product, wanted);
      }),
    }),
  };
}

/** The pod's product as far as the file's product of the same name gives it (`sku`, `appId` only when given). */
function productAsGiven(current: AppProduct, given: AppProduct): AppProduct {
  const { sku, appId, ...product } = current;
  return {
    ...product,
    ...(sku !== undefined && given.sku !== undefined && { sku }),
    ...(appId !== undefined && given.appId !== undefined && { appId }),
  };
}

function replaceDifferences(item: AppReplaceItem, current: AppEntitlement[]): string[] {
  const given = new Map(item.apps.map((app) => [app.appId, app]));
  const before = new Map(
    current.map((app) => {
      const wanted = given.get(app.appId);
      return [app.appId, appText(wanted === undefined ? app : asGiven(app, wanted))];
    }),
  );
  const after = new Map(item.apps.map((app) => [app.appId, appText(app)]));
  const lines: string[] = [];
  for (const [appId, text] of before) {
    if (after.get(appId) !== text) lines.push(`- ${text}`);
  }
  for (const [appId, text] of after) {
    if (before.get(appId) !== text) lines.push(`+ ${text}`);
  }
  return lines;
}

function patchDifferences(item: AppPatchItem, current: AppEntitlement[]): string[] {
  const apps = new Map(current.map((app) => [app.appId, app]));
  const lines: string[] = [];
  for (const patch of item.patches) {
    const app = apps.get(patch.appId);
    const name = quote(patch.appId);
    if (app === undefined) {
      lines.push(`- app ${name}: (none)`, `+ app ${name}: ${patchText(patch)}`);
      continue;
    }
    for (const setting of ["listed", "install"] as const) {
      const wanted = settingOf(patch[setting]);
      if (wanted === "KEEP" || (typeof wanted === "boolean" && wanted === app[setting])) continue;
      const shown = wanted === "REMOVE" ? "REMOVE (the pod's setting)" : String(wanted);
      lines.push(`- app ${name} ${setting}: ${app[setting]}`, `+ app ${name} ${setting}: ${shown}`);
    }
    if (patch.product !== undefined) {
      const wanted = productText(patch.product);
      const found = (app.products ?? []).find((product) => product.name === patch.product?.name);
      // An optional field the patch leaves out (sku, appId) is the pod's to fill in: no difference.
      const same = found && productAsGiven(found, patch.product);
      if (same === undefined || productText(same) !== wanted) {
        lines.push(
          `- app ${name} product ${quote(patch.product.name)}: ${same ? productText(same) : "(none)"}`,
          `+ app ${name} product ${quote(patch.product.name)}: ${wanted}`,
        );
      }
    }
  }
  return lines;
}

/** A patch setting as a boolean to set, `KEEP` or `REMOVE`. */
function settingOf(value: AppPatchItem["patches"][number]["listed"]): boolean | "KEEP" | "REMOVE" {
  if (value === true || value === "TRUE") return true;
  if (value === false || value === "FALSE") return false;
  return value === "REMOVE" ? "REMOVE" : "KEEP";
}

function patchText(patch: AppPatchItem["patches"][number]): string {
  const parts: string[] = [];
  for (const setting of ["listed", "install"] as const) {
    if (patch[setting] !== undefined) parts.push(`${setting}=${String(patch[setting])}`);
  }
  if (patch.product !== undefined) parts.push(`product ${productText(patch.product)}`);
  return parts.length === 0 ? "added" : parts.join(" ");
}

/**
 * What the undo journal records for one item before it is written: the part of the state the item touches.
 * - features: the values the named features had (`unset`: the ones that had none);
 * - delegates: whether the user held the delegate;
 * - apps (replace and patch): the whole app list.
 *
 * @example
 * ```ts
 * const entry = beforeEntry("delegates", { uid: "1", userId: "2", action: "ADD" }, []);
 * // { uid: "1", userId: "2", action: "ADD", held: false }
 * ```
 */
export function beforeEntry<Op extends Operation>(
  operation: Op,
  item: ItemOf[Op],
  current: CurrentOf[Op],
): BeforeOf[Op] {
  const uid = userIdToDecimal(item.uid, "uid");
  if (operation === "features") {
    const now = new Map((current as FeatureEntitlement[]).map((feature) => [feature.entitlement, feature.enabled]));
    const features: FeatureEntitlement[] = [];
    const unset: string[] = [];
    for (const { entitlement } of (item as FeatureUpdateItem).features) {
      const enabled = now.get(entitlement);
      if (enabled === undefined) unset.push(entitlement);
      else features.push({ entitlement, enabled });
    }
    return (unset.length > 0 ? { uid, features, unset } : { uid, features }) as BeforeOf[Op];
  }
  if (operation === "delegates") {
    const { userId, action } = item as DelegateUpdateItem;
    const delegate = userIdToDecimal(userId, "userId");
    const held = (current as bigint[]).some((id) => id.toString() === delegate);
    return { uid, userId: delegate, action, held } as BeforeOf[Op];
  }
  return { uid, apps: current as AppEntitlement[] } as BeforeOf[Op];
}

/**
 * A line of the undo journal for each operation: the item's user and what it held before.
 *
 * @example
 * ```ts
 * const before: BeforeOf["features"] = { uid: "1", features: [{ entitlement: "canCreatePublicRoom", enabled: false }] };
 * ```
 */
export interface BeforeOf {
  features: { uid: string; features: FeatureEntitlement[]; unset?: string[] };
  delegates: { uid: string; userId: string; action: "ADD" | "REMOVE"; held: boolean };
  appsReplace: { uid: string; apps: AppEntitlement[] };
  appsPatch: { uid: string; apps: AppEntitlement[] };
}

/**
 * The item that undoes a write from what was recorded before it: the prior values of the features written; the
 * reverse of a delegate change that changed something; the prior app list, as an `apps replace` item. `undefined`
 * when there is nothing to undo (a delegate change that changed nothing, features that all had no value).
 *
 * @example
 * ```ts
 * undoItem("delegates", { uid: "1", userId: "2", action: "ADD", held: false });
 * // { uid: "1", userId: "2", action: "REMOVE" }
 * ```
 */
export function undoItem<Op extends Operation>(
  operation: Op,
  before: BeforeOf[Op],
): ItemOf[Op extends "appsPatch" ? "appsReplace" : Op] | undefined {
  type Result = ItemOf[Op extends "appsPatch" ? "appsReplace" : Op];
  if (operation === "features") {
    const { uid, features } = before as BeforeOf["features"];
    return (features.length === 0 ? undefined : { uid, features }) as Result | undefined;
  }
  if (operation === "delegates") {
    const { uid, userId, action, held } = before as BeforeOf["delegates"];
    if (action === "ADD" && !held) return { uid, userId, action: "REMOVE" } as Result;
    if (action === "REMOVE" && held) return { uid, userId, action: "ADD" } as Result;
    return undefined;
  }
  const { uid, apps } = before as BeforeOf["appsReplace"];
  return { uid, apps } as unknown as Result;
}

/**
 * The operation whose items undo `operation`'s: apps, replaced or patched, are restored by a replace.
 *
 * @example
 * ```ts
 * UNDO_OPERATION.appsPatch; // "appsReplace"
 * ```
 */
export const UNDO_OPERATION: Record<Operation, Operation> = {
  features: "features",
  delegates: "delegates",
  appsReplace: "appsReplace",
  appsPatch: "appsReplace",
};
