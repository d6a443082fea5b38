/**
 * App entitlements: `app/entitlement/list` replaced (POST) or patched (PATCH), and read (GET). Both writes read
 * rows alike (an app per row, a product per row) and are undone by a replace with the list read before.
 * Longer than most files (~480 lines) because it holds two writes that share their row reading, their comparison
 * of apps and products by value and their journal: splitting them would put one operation's rules in two places.
 */
import { ValidationError } from "../core/errors.js";
import type { UserId } from "../core/ids.js";
import { quote } from "../core/text.js";
import type { ExportCells, RowCells, Schemas, Seen } from "./define.js";
import { compareText, writeRules } from "./define.js";
import { checkBody, mapList, toWire } from "./wire.js";

/**
 * One application entitlement of a user, as `replaceApps` sends it and `listApps` returns it.
 *
 * @example
 * ```ts
 * const app: AppEntitlement = { appId: "selerity", appName: "Selerity Context", listed: true, install: true };
 * ```
 * @useDeclaredType
 */
export type AppEntitlement = Schemas["UserAppEntitlement"];

/**
 * A product of an application (a subscription tier).
 *
 * @example
 * ```ts
 * const product: AppProduct = { appId: "selerity", name: "Premium", sku: "AcDccU53SsY", subscribed: false, type: "premium" };
 * ```
 * @useDeclaredType
 */
export type AppProduct = Schemas["Product"];

/**
 * A setting in an app patch: `"TRUE"`, `"FALSE"`, `"KEEP"` (leave as is, the default) or `"REMOVE"` (fall back
 * to the pod-level setting).
 *
 * @example
 * ```ts
 * const keep: AppEntitlementSetting = "KEEP";
 * ```
 * @useDeclaredType
 */
export type AppEntitlementSetting = NonNullable<Schemas["UserAppEntitlementPatch"]["listed"]>;

/**
 * A change to one app of a user. `listed` and `install` take the API's settings or, for convenience, a boolean
 * (`true` is sent as `"TRUE"`, `false` as `"FALSE"`). Fields left out are kept.
 *
 * @example
 * ```ts
 * const patch: AppEntitlementPatch = { appId: "djApp", install: false, listed: "REMOVE" };
 * ```
 */
export interface AppEntitlementPatch {
  /** The application to change. */
  appId: string;
  /** Whether the app is listed in the user's app store. Default `"KEEP"`. */
  listed?: AppEntitlementSetting | boolean;
  /** Whether the app is installed for the user. Default `"KEEP"`. */
  install?: AppEntitlementSetting | boolean;
  /** A product subscription to set; give all of its fields. Not `null`. */
  product?: AppProduct;
}

/**
 * One user's full app entitlement list in a bulk run.
 *
 * @example
 * ```ts
 * const item: AppReplaceItem = { uid: 7215545057281n, apps: [{ appId: "djApp", listed: true, install: true }] };
 * ```
 */
export interface AppReplaceItem {
  /** The user to update. */
  uid: UserId;
  /** All of the user's app entitlements; apps not listed are dropped. */
  apps: readonly AppEntitlement[];
}

/**
 * One user's app entitlement changes in a bulk run.
 *
 * @example
 * ```ts
 * const item: AppPatchItem = { uid: 7215545057281n, patches: [{ appId: "djApp", install: false }] };
 * ```
 */
export interface AppPatchItem {
  /** The user to update. */
  uid: UserId;
  /** The apps to change; others are kept. */
  patches: readonly AppEntitlementPatch[];
}

/** The table entries of this group. @internal */
export const appOperations = {
  replaceApps: {
    method: "post",
    path: "/v1/admin/user/{uid}/app/entitlement/list",
    request: (apps: readonly AppEntitlement[]) => {
      const body = mapList(apps, "apps", (app, field) => toWire(app, "UserAppEntitlement", field));
      checkBody(body, "post /v1/admin/user/{uid}/app/entitlement/list", "apps");
      return { body };
    },
    result: (wire: Schemas["UserAppEntitlementList"]): AppEntitlement[] => wire,
    dryRun: (): AppEntitlement[] => [],
    bulk: { fields: ["uid", "apps"], input: (item: AppReplaceItem) => item.apps },
  },
  patchApps: {
    method: "patch",
    path: "/v1/admin/user/{uid}/app/entitlement/list",
    request: (patches: readonly AppEntitlementPatch[]) => {
      const body = mapList(patches, "patches", (patch, field) => {
        const wire = toWire(patch, "UserAppEntitlementPatch", field) as Record<string, unknown>;
        if (Object.hasOwn(wire, "product") && wire.product === null) {
          throw new ValidationError(
            `${field}.product`,
            "not null",
            "must not be null; leave it out to keep the product",
          );
        }
        // Booleans are the facade's convenience; the wire takes the API's settings.
        for (const setting of ["listed", "install"]) {
          if (typeof wire[setting] === "boolean") wire[setting] = wire[setting] ? "TRUE" : "FALSE";
        }
        return wire;
      });
      checkBody(body, "patch /v1/admin/user/{uid}/app/entitlement/list", "patches");
      return { body };
    },
    result: (wire: Schemas["UserAppEntitlementList"]): AppEntitlement[] => wire,
    dryRun: (): AppEntitlement[] => [],
    bulk: { fields: ["uid", "patches"], input: (item: AppPatchItem) => item.patches },
  },
  listApps: {
    method: "get",
    path: "/v1/admin/user/{uid}/app/entitlement/list",
    result: (wire: Schemas["UserAppEntitlementList"]): AppEntitlement[] => wire,
  },
} as const;

/** The undo journal's record before an apps write: the whole list. */
export interface AppsBefore {
  uid: string;
  apps: AppEntitlement[];
}

/** The product columns an app row may carry (apps replace and patch). */
const PRODUCT_COLUMNS = ["productName", "productType", "productSku", "productSubscribed", "productAppId"] as const;

/** One app of a user's rows: its entry, the settings its rows gave, its products by name, its rows. @internal */
export interface AppSeen {
  entry: Record<string, unknown>;
  settings: Map<string, Seen>;
  products: Map<string, { text: string; line: number }>;
  rows: Map<string, number>;
}

/**
 * Adds an `apps replace` or `apps patch` row. Rows of one app, anywhere among the user's rows, must agree on its
 * settings (`listed`, `install`, `appName`) and on each product of one name; `apps replace` makes one entry per app
 * (each row may add a product), `apps patch` one patch per row.
 */
function addAppRow(
  replace: boolean,
  apps: Map<string, AppSeen>,
  item: Record<string, unknown>,
  cells: RowCells,
  user: string,
): Error | undefined {
  const { row, file, line } = cells;
  const appId = cells.text("appId");
  const product = cellProduct(cells);
  const what = `user ${user}, app ${quote(appId)},`;
  const settings: Seen[] = [];
  if (replace) {
    for (const column of ["listed", "install"]) {
      settings.push({ value: String(cells.boolean(column)), cell: row[column] as string, line, column });
    }
    if (row.appName) settings.push({ value: row.appName, cell: row.appName, line, column: "appName" });
  } else {
    for (const column of ["listed", "install"] as const) {
      if (row[column]) settings.push({ value: cells.setting(column), cell: row[column], line, column });
    }
  }
  let app = apps.get(appId);
  const rowText = JSON.stringify(row);
  if (app) {
    const same = app.rows.get(rowText);
    if (same !== undefined) return cells.merged(`user ${user}, app ${quote(appId)}`, same);
    for (const setting of settings) {
      const earlier = app.settings.get(setting.column);
      if (earlier && earlier.value !== setting.value) {
        throw cells.contradiction(setting.column, what, setting.cell, earlier);
      }
    }
  } else {
    app = { entry: { appId }, settings: new Map(), products: new Map(), rows: new Map() };
    apps.set(appId, app);
    if (replace) (item.apps as unknown[]).push(app.entry);
  }
  let newProduct = product;
  if (product) {
    const text = JSON.stringify(product);
    const earlier = app.products.get(product.name);
    if (earlier && earlier.text !== text) {
      throw cells.error(
        "productName",
        "no contradiction",
        `${what} product ${quote(product.name)} differs from the one at ${file}:${earlier.line}; keep one of the two rows`,
      );
    }
    if (earlier) newProduct = undefined;
    else app.products.set(product.name, { text, line });
  }
  app.rows.set(rowText, line);
  for (const setting of settings) if (!app.settings.has(setting.column)) app.settings.set(setting.column, setting);

  if (replace) {
    const entry = app.entry as unknown as AppEntitlement;
    entry.listed = app.settings.get("listed")?.value === "true";
    entry.install = app.settings.get("install")?.value === "true";
    const name = app.settings.get("appName")?.value;
    if (name !== undefined) entry.appName = name;
    if (newProduct) entry.products = [...(entry.products ?? []), newProduct];
    return undefined;
  }
  const patch: AppEntitlementPatch = { appId };
  for (const setting of settings) patch[setting.column as "listed" | "install"] = setting.value as "TRUE";
  if (newProduct) patch.product = newProduct;
  (item.patches as unknown[]).push(patch);
  return undefined;
}

function cellProduct(cells: RowCells): AppProduct | undefined {
  const { row } = cells;
  if (!row.productName && !row.productType && !row.productSku && !row.productSubscribed) return undefined;
  const product: AppProduct = {
    name: cells.text("productName"),
    type: cells.text("productType"),
    subscribed: cells.boolean("productSubscribed"),
  };
  if (row.productSku) product.sku = row.productSku;
  if (row.productAppId) product.appId = row.productAppId;
  return product;
}

/** Two patches of one app contradict when they set a setting (or a product of one name) differently. */
function compatiblePatches(a: unknown, b: unknown): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  for (const setting of ["listed", "install"]) {
    if (x[setting] !== undefined && y[setting] !== undefined && String(x[setting]) !== String(y[setting])) return false;
  }
  const px = x.product as Record<string, unknown> | undefined;
  const py = y.product as Record<string, unknown> | undefined;
  return !(
    px !== undefined &&
    py !== undefined &&
    px.name === py.name &&
    JSON.stringify(px, bigintSafe) !== JSON.stringify(py, bigintSafe)
  );
}

function bigintSafe(_key: string, value: unknown) {
  return typeof value === "bigint" ? value.toString() : value;
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

// The whole list, in any order, products compared by value; see asGiven for fields the file leaves out.
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

/**
 * An app the user does not have is added by any patch; a `KEEP` (or absent) setting changes nothing, `TRUE`/`FALSE`
 * change a different value, `REMOVE` always counts (the list shows the value the user sees, not whether it is their
 * own setting or the pod's); a product changes unless one equal by value is there (its `sku` and `appId` compared
 * only when the patch gives them).
 */
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
function settingOf(value: AppEntitlementPatch["listed"]): boolean | "KEEP" | "REMOVE" {
  if (value === true || value === "TRUE") return true;
  if (value === false || value === "FALSE") return false;
  return value === "REMOVE" ? "REMOVE" : "KEEP";
}

function patchText(patch: AppEntitlementPatch): string {
  const parts: string[] = [];
  for (const setting of ["listed", "install"] as const) {
    if (patch[setting] !== undefined) parts.push(`${setting}=${String(patch[setting])}`);
  }
  if (patch.product !== undefined) parts.push(`product ${productText(patch.product)}`);
  return parts.length === 0 ? "added" : parts.join(" ");
}

/** What both apps writes record, check and undo alike: the whole list before, restored by a replace. */
const appsJournal = {
  fields: ["uid", "apps"],
  check(entry: Record<string, unknown>, shape: string) {
    if (!Array.isArray(entry.apps)) return `"apps" must be a list: ${shape}`;
    for (const app of entry.apps as unknown[]) {
      const a = app as Record<string, unknown> | null;
      if (typeof a?.appId !== "string" || typeof a.listed !== "boolean" || typeof a.install !== "boolean") {
        return `"apps" must hold { appId, listed, install, … } objects`;
      }
    }
    return undefined;
  },
} as const;
const appsUndo = { layout: "appsReplace", item: ({ uid, apps }: AppsBefore) => ({ uid, apps }) } as const;
const appsBefore = (uid: string, _item: unknown, apps: AppEntitlement[]): AppsBefore => ({ uid, apps });

/** Apps by appId, each one's products by name and type: two exports of one pod are byte-identical. */
function sortedApps(apps: AppEntitlement[]): AppEntitlement[] {
  const products = (app: AppEntitlement) =>
    [...(app.products ?? [])].sort((a, b) => compareText(a.name, b.name) || compareText(a.type, b.type));
  return [...apps]
    .sort((a, b) => compareText(a.appId, b.appId))
    .map((app) => (app.products === undefined ? app : { ...app, products: products(app) }));
}

/** The apps as rows of the `apps replace` layout: one per app, or one per product of an app that has products. */
function appRows(uid: string, apps: AppEntitlement[]): ExportCells[] {
  const rows: ExportCells[] = [];
  for (const app of apps) {
    const cells = { uid, appId: app.appId, listed: app.listed, install: app.install, appName: app.appName };
    const products = app.products ?? [];
    if (products.length === 0) rows.push(cells);
    for (const p of products) {
      rows.push({
        ...cells,
        productName: p.name,
        productType: p.type,
        productSubscribed: p.subscribed,
        productSku: p.sku,
        productAppId: p.appId,
      });
    }
  }
  return rows;
}

/** `pod-admin apps replace`: a user's rows make one item, an app per row (a product per row). @internal */
export const appReplaceWrite = writeRules<AppReplaceItem, AppEntitlement[], AppsBefore>()({
  layout: "appsReplace",
  words: "apps replace",
  label: "apps (replace)",
  help: {
    does: "replace all apps of each user",
    columns: "uid|email|username,appId,listed,install[,appName][,product*]",
    exports: "their apps, in the apps replace layout (products included)",
  },
  csv: { required: ["uid", "appId", "listed", "install"], optional: ["appName", ...PRODUCT_COLUMNS] },
  rows: {
    kind: "grouped",
    list: "apps",
    key: "appId",
    noun: "app",
    start: () => new Map<string, AppSeen>(),
    add: (apps: Map<string, AppSeen>, item, cells, user) => addAppRow(true, apps, item, cells, user),
  },
  read: "listApps",
  differences: replaceDifferences,
  before: appsBefore,
  journal: appsJournal,
  undo: appsUndo,
  // JSON Lines gives a user without apps `{"apps":[]}` (applying it removes every app, as the pod holds it).
  export: {
    words: "apps export",
    as: (uid, answered) => {
      const apps = sortedApps(answered);
      return { rows: appRows(uid, apps), items: [{ uid, apps }] };
    },
  },
});

/** `pod-admin apps patch`: a user's rows make one item, a patch per row. @internal */
export const appPatchWrite = writeRules<AppPatchItem, AppEntitlement[], AppsBefore>()({
  layout: "appsPatch",
  words: "apps patch",
  label: "apps (patch)",
  help: { does: "change some apps of each user", columns: "uid|email|username,appId[,listed][,install][,product*]" },
  csv: { required: ["uid", "appId"], optional: ["listed", "install", ...PRODUCT_COLUMNS] },
  rows: {
    kind: "grouped",
    list: "patches",
    key: "appId",
    noun: "app",
    start: () => new Map<string, AppSeen>(),
    add: (apps: Map<string, AppSeen>, item, cells, user) => addAppRow(false, apps, item, cells, user),
    compatible: compatiblePatches,
  },
  read: "listApps",
  differences: patchDifferences,
  before: appsBefore,
  journal: appsJournal,
  undo: appsUndo,
  export: undefined, // exported in the apps replace layout, which says the whole state
});
