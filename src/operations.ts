/**
 * THE operation table: every Pod API operation this package wraps, declared once. The facade's methods call the
 * typed openapi-fetch client with the spec method and path declared here; bulk helpers take their item fields from
 * here; the `pod-admin` commands, their plan labels and CSV layouts are derived from here. A spec change that
 * renames or drops an operation fails the typecheck on this file.
 *
 * The one naming quirk of the wire, `entitlment`, is a declared mapping too: `RENAMED_FIELDS` in wire.ts.
 */
import type { PodPaths } from "./client.js";

/** The product columns an app row may carry (apps replace and patch). */
const PRODUCT_COLUMNS = ["productName", "productType", "productSku", "productSubscribed", "productAppId"] as const;

/**
 * Every wrapped operation: its spec method and path; for writes, the fields of a bulk item and the `pod-admin`
 * command (two words, a label for the plan, the CLI's name for its row layout, the CSV columns).
 * @internal
 */
export const OPERATIONS = {
  updateFeatures: {
    method: "post",
    path: "/v1/admin/user/{uid}/features/update",
    bulk: { fields: ["uid", "features"] },
    cli: {
      words: "features apply",
      layout: "features",
      label: "features",
      csv: { required: ["uid", "entitlement", "enabled"], optional: [] },
    },
  },
  listFeatures: { method: "get", path: "/v1/admin/user/{uid}/features" },
  updateDelegates: {
    method: "post",
    path: "/v1/admin/user/{uid}/delegates/update",
    bulk: { fields: ["uid", "userId", "action"] },
    cli: {
      words: "delegates apply",
      layout: "delegates",
      label: "delegates",
      csv: { required: ["uid", "userId", "action"], optional: [] },
    },
  },
  listDelegates: { method: "get", path: "/v1/admin/user/{uid}/delegates" },
  replaceApps: {
    method: "post",
    path: "/v1/admin/user/{uid}/app/entitlement/list",
    bulk: { fields: ["uid", "apps"] },
    cli: {
      words: "apps replace",
      layout: "appsReplace",
      label: "apps (replace)",
      csv: { required: ["uid", "appId", "listed", "install"], optional: ["appName", ...PRODUCT_COLUMNS] },
    },
  },
  patchApps: {
    method: "patch",
    path: "/v1/admin/user/{uid}/app/entitlement/list",
    bulk: { fields: ["uid", "patches"] },
    cli: {
      words: "apps patch",
      layout: "appsPatch",
      label: "apps (patch)",
      csv: { required: ["uid", "appId"], optional: ["listed", "install", ...PRODUCT_COLUMNS] },
    },
  },
  listApps: { method: "get", path: "/v1/admin/user/{uid}/app/entitlement/list" },
  listAvailableFeatures: { method: "get", path: "/v1/admin/system/features/list" },
} as const;

/** Fails the typecheck when an entry names a method its path does not have in the spec. */
type SpecChecked<T> = {
  [K in keyof T]: T[K] extends { method: infer M; path: infer P }
    ? P extends keyof PodPaths
      ? M extends keyof PodPaths[P]
        ? [NonNullable<PodPaths[P][M]>] extends [never] // openapi-typescript declares absent methods as `never`
          ? never
          : T[K]
        : never
      : never
    : never;
};
OPERATIONS satisfies SpecChecked<typeof OPERATIONS>;

/** The name of a wrapped operation, e.g. `updateFeatures`. @internal */
export type OperationName = keyof typeof OPERATIONS;

/** The operations that have a `pod-admin` command and a bulk form. @internal */
export type WriteOperation = {
  [K in OperationName]: (typeof OPERATIONS)[K] extends { cli: object } ? K : never;
}[OperationName];

/** `"<method> <path>"`, as the generated response validators are keyed. @internal */
export function operationKey<K extends OperationName>(
  name: K,
): `${(typeof OPERATIONS)[K]["method"]} ${(typeof OPERATIONS)[K]["path"]}` {
  const { method, path } = OPERATIONS[name];
  return `${method} ${path}` as `${(typeof OPERATIONS)[K]["method"]} ${(typeof OPERATIONS)[K]["path"]}`;
}

/** The write operations, in table order. @internal */
export const WRITE_OPERATIONS = (Object.keys(OPERATIONS) as OperationName[]).filter(
  (name): name is WriteOperation => "cli" in OPERATIONS[name],
);
