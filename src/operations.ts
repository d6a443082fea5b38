/**
 * THE operation table: every Pod API operation this package wraps, declared once, with how the facade's input maps
 * to the wire and the answer back. The facade (users.ts) runs each entry through the typed openapi-fetch client;
 * bulk helpers take their item fields and item-to-input mapping from here; the `pod-admin` commands, their plan
 * labels and CSV layouts are derived from here. A spec change that renames or drops an operation, or changes a body
 * or query this table sends, fails the typecheck on this file.
 *
 * Adding an operation is one entry (method, path, `request`, `read`, `result`) plus a facade method that calls it.
 * The one naming quirk of the wire, `entitlment`, is a declared mapping too: `RENAMED_FIELDS` in wire.ts.
 */
import type { FetchOptions } from "openapi-fetch";
import type { components } from "../generated/pod-api.js";
import type { AppPatchItem, AppReplaceItem, DelegateUpdateItem, FeatureUpdateItem } from "./bulk.js";
import type { PodPaths } from "./client.js";
import { ValidationError } from "./errors.js";
import type { AnswerDecoder } from "./http.js";
import { userIdToDecimal } from "./ids.js";
import type {
  AppEntitlement,
  AppEntitlementPatch,
  DelegateUpdate,
  FeatureEntitlement,
  PodUser,
  UserLookupQuery,
} from "./users.js";
import {
  checkBody,
  checkNoControlCharacters,
  exactIdsAnswer,
  fromWire,
  int64ListAnswer,
  jsonAnswer,
  mapList,
  type OperationKey,
  requireFields,
  toWire,
} from "./wire.js";

type Schemas = components["schemas"];

/** The product columns an app row may carry (apps replace and patch). */
const PRODUCT_COLUMNS = ["productName", "productType", "productSku", "productSubscribed", "productAppId"] as const;

/**
 * Every wrapped operation:
 * - `method`, `path`: the spec's, checked against generated/ by {@link SpecChecked};
 * - `request(input)`: the facade's input, checked (a {@link ValidationError} names the field), as the call's wire
 *   `body` and `query`; absent when the call takes only the uid;
 * - `read`: how a 2xx answer is parsed and checked (default: JSON checked against the spec's response schema);
 * - `result(wire)`: the checked answer as the facade returns it (default: as read);
 * - `dryRun`: what a write resolves to when nothing is sent;
 * - for writes: `bulk` (the item's fields and the facade input of an item) and `cli` (the `pod-admin` command: two
 *   words, a label for the plan, the CLI's name for its row layout, the CSV columns, and `rows` when a user's rows
 *   group into one item: the item's list and the column that names an element of it; absent: one row, one item).
 * @internal
 */
export const OPERATIONS = {
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
      checkBody(body, "FeatureList", "features");
      return { body };
    },
    result: (): void => undefined,
    dryRun: (): void => undefined,
    bulk: { fields: ["uid", "features"], input: (item: FeatureUpdateItem) => item.features },
    cli: {
      words: "features apply",
      layout: "features",
      label: "features",
      csv: { required: ["uid", "entitlement", "enabled"], optional: [] },
      rows: { list: "features", key: "entitlement" },
    },
  },
  listFeatures: {
    method: "get",
    path: "/v1/admin/user/{uid}/features",
    result: (wire: Schemas["FeatureList"]) => wire.map((feature) => fromWire<FeatureEntitlement>(feature)),
  },
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
      checkBody(checked, "DelegateAction", "update");
      // int64: the delegate goes out as a bigint, written with every digit by the body serializer.
      return { body: { userId: delegate as unknown as number, action: checked.action } };
    },
    result: (): void => undefined,
    dryRun: (): void => undefined,
    bulk: {
      fields: ["uid", "userId", "action"],
      input: (item: DelegateUpdateItem): DelegateUpdate => ({ userId: item.userId, action: item.action }),
    },
    cli: {
      words: "delegates apply",
      layout: "delegates",
      label: "delegates",
      csv: { required: ["uid", "userId", "action"], optional: [] },
    },
  },
  listDelegates: {
    method: "get",
    path: "/v1/admin/user/{uid}/delegates",
    read: int64ListAnswer,
  },
  replaceApps: {
    method: "post",
    path: "/v1/admin/user/{uid}/app/entitlement/list",
    request: (apps: readonly AppEntitlement[]) => {
      const body = mapList(apps, "apps", (app, field) => toWire(app, "UserAppEntitlement", field));
      checkBody(body, "UserAppEntitlementList", "apps");
      return { body };
    },
    result: (wire: Schemas["UserAppEntitlementList"]): AppEntitlement[] => wire,
    dryRun: (): AppEntitlement[] => [],
    bulk: { fields: ["uid", "apps"], input: (item: AppReplaceItem) => item.apps },
    cli: {
      words: "apps replace",
      layout: "appsReplace",
      label: "apps (replace)",
      csv: { required: ["uid", "appId", "listed", "install"], optional: ["appName", ...PRODUCT_COLUMNS] },
      rows: { list: "apps", key: "appId" },
    },
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
      checkBody(body, "UserAppEntitlementsPatchList", "patches");
      return { body };
    },
    result: (wire: Schemas["UserAppEntitlementList"]): AppEntitlement[] => wire,
    dryRun: (): AppEntitlement[] => [],
    bulk: { fields: ["uid", "patches"], input: (item: AppPatchItem) => item.patches },
    cli: {
      words: "apps patch",
      layout: "appsPatch",
      label: "apps (patch)",
      csv: { required: ["uid", "appId"], optional: ["listed", "install", ...PRODUCT_COLUMNS] },
      rows: { list: "patches", key: "appId" },
    },
  },
  listApps: {
    method: "get",
    path: "/v1/admin/user/{uid}/app/entitlement/list",
    result: (wire: Schemas["UserAppEntitlementList"]): AppEntitlement[] => wire,
  },
  listAvailableFeatures: {
    method: "get",
    path: "/v1/admin/system/features/list",
    result: (wire: Schemas["StringList"]): string[] => wire,
  },
  findUsers: {
    method: "get",
    path: "/v3/users",
    request: ({ by, values, local, active }: UserLookupQuery) => ({
      query: { [by]: values.join(","), local, ...(active === undefined ? {} : { active }) } as {
        email?: string;
        username?: string;
        uid?: string;
        local: boolean;
        active?: boolean;
      },
    }),
    // 204 (no user found) has no body: an empty list, not an unreadable answer.
    read: (key: OperationKey) => exactIdsAnswer<Schemas["V2UserList"]>(key, { empty: { users: [] } }),
    result: (wire: Schemas["V2UserList"]): PodUser[] => (wire.users ?? []).map(fromUserV2),
  },
  listUsers: {
    method: "get",
    path: "/v2/admin/user/list",
    request: (page: { skip: number; limit: number }) => ({ query: page }),
    read: (key: OperationKey) => exactIdsAnswer<Schemas["V2UserDetailList"]>(key),
    result: (wire: Schemas["V2UserDetailList"]): PodUser[] => wire.map(fromUserDetail),
  },
} as const;

/** A user record of `GET /v3/users` as the facade returns it: the int64 id exact, as a bigint. */
function fromUserV2(user: Schemas["UserV2"]): PodUser {
  const { id, ...rest } = user;
  return { ...rest, id: BigInt(id ?? 0) };
}

/** A record of `GET /v2/admin/user/list` in the shape of {@link fromUserV2}'s, so lookups and lists read alike. */
function fromUserDetail(detail: Schemas["V2UserDetail"]): PodUser {
  const attributes = detail.userAttributes ?? {};
  const system = detail.userSystemInfo ?? {};
  const user: PodUser = { id: BigInt(system.id ?? 0) };
  if (attributes.emailAddress !== undefined) user.emailAddress = attributes.emailAddress;
  if (attributes.userName !== undefined) user.username = attributes.userName;
  if (attributes.displayName !== undefined) user.displayName = attributes.displayName;
  if (attributes.firstName !== undefined) user.firstName = attributes.firstName;
  if (attributes.lastName !== undefined) user.lastName = attributes.lastName;
  if (attributes.companyName !== undefined) user.company = attributes.companyName;
  if (attributes.accountType !== undefined) user.accountType = attributes.accountType;
  if (system.status !== undefined) user.status = system.status;
  return user;
}

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

const answerDecoders = new Map<OperationName, AnswerDecoder<unknown>>();

/** The decoder of an operation's 2xx answers, built once. @internal */
export function answerDecoder(name: OperationName): AnswerDecoder<unknown> {
  let decoder = answerDecoders.get(name);
  if (decoder === undefined) {
    const entry = OPERATIONS[name] as { read?: (key: OperationKey) => AnswerDecoder<unknown> };
    const key = operationKey(name) as OperationKey;
    decoder = entry.read ? entry.read(key) : jsonAnswer(key);
    answerDecoders.set(name, decoder);
  }
  return decoder;
}

/** The write operations, in table order. @internal */
export const WRITE_OPERATIONS = (Object.keys(OPERATIONS) as OperationName[]).filter(
  (name): name is WriteOperation => "cli" in OPERATIONS[name],
);
