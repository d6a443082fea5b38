/**
 * Feature entitlements: `features/update` (the write), `features` (its read) and the pod's feature list. The wire
 * spells the field `entitlment`; the facade's `entitlement` is translated by wire.ts's one renaming table.
 */
import type { UserId } from "../core/ids.js";
import { quote } from "../core/text.js";
import type { Schemas, Seen } from "./define.js";
import { compareText, writeRules } from "./define.js";
import { checkBody, checkNoControlCharacters, fromWire, mapList, requireFields, toWire } from "./wire.js";

/**
 * One feature entitlement of a user. The Pod API spells the field `entitlment`; this package spells it
 * `entitlement` and translates on the wire.
 *
 * @example
 * ```ts
 * const feature: FeatureEntitlement = { entitlement: "canCreatePublicRoom", enabled: true };
 * ```
 */
export interface FeatureEntitlement {
  /** Feature name, e.g. `canCreatePublicRoom`, `isExternalIMEnabled`, `delegatesEnabled`. */
  entitlement: string;
  /** Whether the feature is enabled for the user. */
  enabled: boolean;
}

/**
 * One user's feature update in a bulk run.
 *
 * @example
 * ```ts
 * const item: FeatureUpdateItem = { uid: 7215545057281n, features: [{ entitlement: "sendFilesEnabled", enabled: true }] };
 * ```
 */
export interface FeatureUpdateItem {
  /** The user to update. */
  uid: UserId;
  /** The features to set; others are left as they are. */
  features: readonly FeatureEntitlement[];
}

/** The table entries of this group. @internal */
export const featureOperations = {
  updateFeatures: {
    method: "post",
    path: "/v1/admin/user/{uid}/features/update",
    request: (features: readonly FeatureEntitlement[]) => {
      const body = mapList(features, "features", (feature, field) => {
        const wire = toWire(feature, "Feature", field);
        requireFields(fromWire(wire), ["entitlement", "enabled"], field);
        checkNoControlCharacters((wire as { entitlment?: unknown }).entitlment, `${field}.entitlement`);
        return wire;
      });
      checkBody(body, "post /v1/admin/user/{uid}/features/update", "features");
      return { body };
    },
    result: (): void => undefined,
    dryRun: (): void => undefined,
    bulk: { fields: ["uid", "features"], input: (item: FeatureUpdateItem) => item.features },
  },
  listFeatures: {
    method: "get",
    path: "/v1/admin/user/{uid}/features",
    result: (wire: Schemas["FeatureList"]) => wire.map((feature) => fromWire<FeatureEntitlement>(feature)),
  },
  listAvailableFeatures: {
    method: "get",
    path: "/v1/admin/system/features/list",
    result: (wire: Schemas["StringList"]): string[] => wire,
  },
} as const;

/** The undo journal's record before a feature update: the values the named features had, and those that had none. */
export interface FeaturesBefore {
  uid: string;
  features: FeatureEntitlement[];
  unset?: string[];
}

/** `pod-admin features apply`: a user's rows make one item, one feature per row. @internal */
export const featureWrite = writeRules<FeatureUpdateItem, FeatureEntitlement[], FeaturesBefore>()({
  layout: "features",
  words: "features apply",
  label: "features",
  help: {
    does: "set feature entitlements",
    columns: "uid|email|username,entitlement,enabled",
    exports: "what users hold, in the features apply layout",
  },
  csv: { required: ["uid", "entitlement", "enabled"], optional: [] },
  rows: {
    kind: "grouped",
    list: "features",
    key: "entitlement",
    noun: "feature",
    start: () => new Map<string, Seen>(),
    add(seen: Map<string, Seen>, item, cells, user) {
      const entitlement = cells.text("entitlement");
      const enabled = cells.boolean("enabled");
      const cell = cells.row.enabled as string;
      const earlier = seen.get(entitlement);
      if (earlier) {
        const what = `user ${user}, feature ${quote(entitlement)}`;
        if (earlier.value !== String(enabled)) throw cells.contradiction("enabled", `${what},`, cell, earlier);
        return cells.merged(what, earlier.line);
      }
      seen.set(entitlement, { value: String(enabled), cell, line: cells.line, column: "enabled" });
      (item.features as FeatureEntitlement[]).push({ entitlement, enabled });
      return undefined;
    },
  },
  read: "listFeatures",
  // Only the features the item names; a feature not set is `(not set)`.
  differences(item, current) {
    const now = new Map(current.map((feature) => [feature.entitlement, feature.enabled]));
    const lines: string[] = [];
    for (const { entitlement, enabled } of item.features) {
      const before = now.get(entitlement);
      if (before === enabled) continue;
      lines.push(`- ${entitlement}: ${before === undefined ? "(not set)" : before}`, `+ ${entitlement}: ${enabled}`);
    }
    return lines;
  },
  before(uid, item, current) {
    const now = new Map(current.map((feature) => [feature.entitlement, feature.enabled]));
    const features: FeatureEntitlement[] = [];
    const unset: string[] = [];
    for (const { entitlement } of item.features) {
      const enabled = now.get(entitlement);
      if (enabled === undefined) unset.push(entitlement);
      else features.push({ entitlement, enabled });
    }
    return unset.length > 0 ? { uid, features, unset } : { uid, features };
  },
  journal: {
    fields: ["uid", "features", "unset"],
    check(entry, shape) {
      if (!Array.isArray(entry.features)) return `"features" must be a list: ${shape}`;
      for (const feature of entry.features as unknown[]) {
        const f = feature as Record<string, unknown> | null;
        if (typeof f?.entitlement !== "string" || typeof f.enabled !== "boolean") {
          return `"features" must hold { entitlement, enabled } objects`;
        }
      }
      const { unset } = entry;
      if (unset !== undefined && !(Array.isArray(unset) && unset.every((u) => typeof u === "string"))) {
        return `"unset" must be a list of feature names`;
      }
      return undefined;
    },
  },
  // The prior values of the features written; a feature that had none cannot be set back to "none".
  undo: {
    layout: "features",
    item: ({ uid, features }) => (features.length === 0 ? undefined : { uid, features }),
    lost: { noun: "feature", names: (before) => before.unset ?? [] },
  },
  export: {
    words: "features export",
    // By name (code units, not the locale's collation): two exports of one pod are byte-identical.
    as: (uid, answered) => {
      const features = [...answered].sort((a, b) => compareText(a.entitlement, b.entitlement));
      return {
        rows: features.map((f) => ({ uid, entitlement: f.entitlement, enabled: f.enabled })),
        items: features.length === 0 ? [] : [{ uid, features }],
      };
    },
  },
});
