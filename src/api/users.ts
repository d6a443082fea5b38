/**
 * The facade: `pod.users`, one method per operation of the table, each a line that runs it through the
 * {@link OperationCaller}, plus `lookup` (batched) and `list` (paged) over the directory reads.
 */
import { type CallOptions, checkCallOptions } from "../core/call-options.js";
import { describeValueKind, ValidationError } from "../core/errors.js";
import { type UserId, userIdToDecimal } from "../core/ids.js";
import { runPool } from "../core/scheduler.js";
import type { AppEntitlement, AppEntitlementPatch } from "../operations/apps.js";
import type { DelegateUpdate } from "../operations/delegates.js";
import type { FeatureEntitlement } from "../operations/features.js";
import type { UserStatus, UserStatusUpdate } from "../operations/status.js";
import type { PodUser, UserLookup, UserLookupQuery, UserQuery } from "../operations/users.js";
import type { OperationCaller } from "./call.js";

/**
 * Options of {@link UserAdmin.lookup}.
 *
 * @example
 * ```ts
 * const options: LookupOptions = { active: true, concurrency: 4, signal: AbortSignal.timeout(30_000) };
 * ```
 */
export interface LookupOptions extends CallOptions {
  /** Only this pod's users (`true`, the default) or also users of other pods visible to the caller (`false`). */
  local?: boolean | undefined;
  /** Only active users (`true`), only inactive ones (`false`), or both (unset, the default). */
  active?: boolean | undefined;
  /** Lookup calls (of up to 100 values each) running at once, 1 to 100. Default 10. */
  concurrency?: number | undefined;
}

/**
 * Options of {@link UserAdmin.list}.
 *
 * @example
 * ```ts
 * const options: ListUsersOptions = { pageSize: 500 };
 * ```
 */
export interface ListUsersOptions extends CallOptions {
  /** Users per call, 1 to 1,000 (the pod's limit). Default 1,000. */
  pageSize?: number | undefined;
}

/** The pod takes at most this many values per lookup call. */
const LOOKUP_BATCH = 100;

/**
 * The user-admin methods of a {@link PodClient}, one call per user: `pod.users`. Build it with
 * {@link createPodClient}. Every method validates its input before sending (a {@link ValidationError} names the
 * field), goes through the client's retries and timeouts, and takes {@link CallOptions} as its last argument.
 *
 * @example
 * ```ts
 * import { createPodClient } from "symphony-pod-admin";
 *
 * const pod = createPodClient({ baseUrl: "https://acme.symphony.com/pod", sessionToken: process.env.POD_SESSION_TOKEN ?? "" });
 * const users: UserAdmin = pod.users;
 * await users.updateFeatures(7215545057281n, [{ entitlement: "canCreatePublicRoom", enabled: true }]);
 * console.log(await users.listFeatures(7215545057281n));
 * ```
 */
export class UserAdmin {
  /** Runs the table's operations: the openapi-fetch client, the pipeline, the answer's reading. @internal */
  readonly invoke: OperationCaller["invoke"];

  /** @internal */
  constructor(caller: OperationCaller) {
    this.invoke = caller.invoke.bind(caller);
  }

  /**
   * Sets feature entitlements of a user (`POST /v1/admin/user/{uid}/features/update`). Features not listed are
   * left as they are.
   *
   * @example
   * ```ts
   * await pod.users.updateFeatures(7215545057281n, [
   *   { entitlement: "canCreatePublicRoom", enabled: true },
   *   { entitlement: "isExternalIMEnabled", enabled: false },
   * ]);
   * ```
   * @throws {@link ValidationError} before sending, for a bad uid or feature; {@link PodApiError} when the pod refuses.
   */
  async updateFeatures(uid: UserId, features: readonly FeatureEntitlement[], options?: CallOptions): Promise<void> {
    return this.invoke("updateFeatures", uid, features, options);
  }

  /**
   * Lists the feature entitlements of a user (`GET /v1/admin/user/{uid}/features`).
   *
   * @example
   * ```ts
   * const features = await pod.users.listFeatures(7215545057281n);
   * const canCreate = features.find((f) => f.entitlement === "canCreatePublicRoom")?.enabled;
   * ```
   */
  listFeatures(uid: UserId, options?: CallOptions): Promise<FeatureEntitlement[]> {
    return this.invoke("listFeatures", uid, undefined, options);
  }

  /**
   * Makes `delegateUid` a delegate of `uid` (`delegates/update` with action `ADD`).
   *
   * @example
   * ```ts
   * await pod.users.addDelegate(7215545057281n, 7215545057282n);
   * ```
   */
  addDelegate(uid: UserId, delegateUid: UserId, options?: CallOptions): Promise<void> {
    return this.updateDelegates(uid, { userId: delegateUid, action: "ADD" }, options);
  }

  /**
   * Removes `delegateUid` from the delegates of `uid` (`delegates/update` with action `REMOVE`).
   *
   * @example
   * ```ts
   * await pod.users.removeDelegate(7215545057281n, 7215545057282n);
   * ```
   */
  removeDelegate(uid: UserId, delegateUid: UserId, options?: CallOptions): Promise<void> {
    return this.updateDelegates(uid, { userId: delegateUid, action: "REMOVE" }, options);
  }

  /**
   * Adds or removes one delegate of a user, as the endpoint documents it
   * (`POST /v1/admin/user/{uid}/delegates/update`).
   *
   * @example
   * ```ts
   * await pod.users.updateDelegates(7215545057281n, { userId: 7215545057282n, action: "ADD" });
   * ```
   */
  updateDelegates(uid: UserId, update: DelegateUpdate, options?: CallOptions): Promise<void> {
    return this.invoke("updateDelegates", uid, update, options);
  }

  /**
   * Lists the delegates of a user (`GET /v1/admin/user/{uid}/delegates`), as `bigint`s so no int64 loses a digit.
   *
   * @example
   * ```ts
   * const delegates = await pod.users.listDelegates(7215545057281n);
   * if (delegates.includes(7215545057282n)) console.log("already a delegate");
   * ```
   */
  listDelegates(uid: UserId, options?: CallOptions): Promise<bigint[]> {
    return this.invoke("listDelegates", uid, undefined, options);
  }

  /**
   * Replaces all application entitlements of a user (`POST /v1/admin/user/{uid}/app/entitlement/list`).
   * Resolves to the user's entitlements as the pod saved them.
   *
   * @example
   * ```ts
   * await pod.users.replaceApps(7215545057281n, [
   *   { appId: "djApp", appName: "Dow Jones", listed: true, install: false },
   *   {
   *     appId: "selerity",
   *     listed: true,
   *     install: true,
   *     products: [{ appId: "selerity", name: "Standard", subscribed: true, type: "default" }],
   *   },
   * ]);
   * ```
   */
  replaceApps(uid: UserId, apps: readonly AppEntitlement[], options?: CallOptions): Promise<AppEntitlement[]> {
    return this.invoke("replaceApps", uid, apps, options);
  }

  /**
   * Changes some application entitlements of a user, leaving the others
   * (`PATCH /v1/admin/user/{uid}/app/entitlement/list`). Resolves to the user's entitlements after the change.
   *
   * @example
   * ```ts
   * await pod.users.patchApps(7215545057281n, [
   *   { appId: "djApp", install: true },               // boolean → "TRUE"
   *   { appId: "selerity", listed: "REMOVE" },          // back to the pod-level setting
   * ]);
   * ```
   */
  patchApps(uid: UserId, patches: readonly AppEntitlementPatch[], options?: CallOptions): Promise<AppEntitlement[]> {
    return this.invoke("patchApps", uid, patches, options);
  }

  /**
   * Lists the application entitlements of a user (`GET /v1/admin/user/{uid}/app/entitlement/list`).
   *
   * @example
   * ```ts
   * const apps = await pod.users.listApps(7215545057281n);
   * const installed = apps.filter((app) => app.install).map((app) => app.appId);
   * ```
   */
  listApps(uid: UserId, options?: CallOptions): Promise<AppEntitlement[]> {
    return this.invoke("listApps", uid, undefined, options);
  }

  /**
   * Lists every feature entitlement name this pod knows (`GET /v1/admin/system/features/list`).
   *
   * @example
   * ```ts
   * const known = new Set(await pod.users.listAvailableFeatures());
   * if (!known.has("canCreatePublicRoom")) throw new Error("unknown feature");
   * ```
   */
  listAvailableFeatures(options?: CallOptions): Promise<string[]> {
    return this.invoke("listAvailableFeatures", undefined, undefined, options);
  }

  /**
   * Enables, disables or suspends a user (`POST /v1/admin/user/{uid}/status/update`): offboarding is
   * `{ status: "DISABLED" }`. A suspension (SBE 20.14 and later) gives `suspended`, and optionally `suspendedUntil`
   * (a unix time in seconds) and `suspensionReason`.
   *
   * @example
   * ```ts
   * await pod.users.updateStatus(7215545057281n, { status: "DISABLED" });
   * await pod.users.updateStatus(7215545057282n, { status: "ENABLED", suspended: true, suspendedUntil: 1801546400 });
   * ```
   */
  updateStatus(uid: UserId, update: UserStatusUpdate, options?: CallOptions): Promise<void> {
    return this.invoke("updateStatus", uid, update, options);
  }

  /**
   * Reads a user's status (`GET /v1/admin/user/{uid}/status`): `ENABLED` or `DISABLED`, and the suspension fields
   * when the pod sends them.
   *
   * @example
   * ```ts
   * const { status } = await pod.users.getStatus(7215545057281n);
   * if (status === "DISABLED") console.log("offboarded");
   * ```
   */
  getStatus(uid: UserId, options?: CallOptions): Promise<UserStatus> {
    return this.invoke("getStatus", uid, undefined, options);
  }

  /**
   * Finds users by email address, username or uid (`GET /v3/users`, `local=true`: this pod's users only). Any number
   * of values: they are de-duplicated (emails case-insensitively, as the pod matches them) and sent at most 100 per
   * call, `concurrency` calls at a time, through the client's flow control. Resolves to the users found, with exact
   * int64 ids, and the values no user matched.
   *
   * @example
   * ```ts
   * const { users, notFound } = await pod.users.lookup({ emails: ["ada@acme.com", "grace@acme.com"] });
   * for (const user of users) console.log(user.emailAddress, user.id); // ada@acme.com 7215545057281n
   * if (notFound.length > 0) console.error(`no such users: ${notFound.join(", ")}`);
   * ```
   * @throws {@link ValidationError} before sending, for an empty value, a value holding a comma, or a bad uid.
   */
  async lookup(query: UserQuery, options?: LookupOptions): Promise<UserLookup> {
    const { by, values, keyOf, matchKeys } = checkUserQuery(query);
    const { local = true, active, concurrency = 10, ...callOptions } = checkLookupOptions(options);
    const batches: string[][] = [];
    for (let i = 0; i < values.length; i += LOOKUP_BATCH) batches.push(values.slice(i, i + LOOKUP_BATCH));
    const found = new Map<string, PodUser>();
    await runPool(batches, concurrency, async (batch) => {
      const query: UserLookupQuery = { by, values: batch, local, ...(active === undefined ? {} : { active }) };
      for (const user of await this.invoke("findUsers", undefined, query, callOptions)) {
        for (const key of matchKeys(user)) if (!found.has(key)) found.set(key, user);
      }
    });
    const users: PodUser[] = [];
    const seen = new Set<bigint>();
    const notFound: string[] = [];
    for (const value of values) {
      const user = found.get(keyOf(value));
      if (user === undefined) notFound.push(value);
      else if (!seen.has(user.id)) {
        seen.add(user.id);
        users.push(user);
      }
    }
    return { users, notFound };
  }

  /**
   * Lists every user of the pod (`GET /v2/admin/user/list`), page by page as the loop asks for them.
   *
   * @example
   * ```ts
   * for await (const user of pod.users.list({ pageSize: 500 })) {
   *   if (user.status === "ENABLED") console.log(user.id, user.emailAddress);
   * }
   * ```
   */
  async *list(options?: ListUsersOptions): AsyncGenerator<PodUser, void, undefined> {
    const { pageSize = 1000, ...callOptions } = checkListOptions(options);
    for (let skip = 0; ; ) {
      const page = await this.invoke("listUsers", undefined, { skip, limit: pageSize }, callOptions);
      yield* page;
      if (page.length < pageSize) return;
      skip += page.length;
    }
  }
}

/** The query of a lookup, checked, its values de-duplicated, and how a user found matches a value. */
function checkUserQuery(query: UserQuery) {
  if (query === null || typeof query !== "object" || Array.isArray(query)) {
    throw new ValidationError("query", "type object", "must be an object { emails } or { usernames } or { uids }");
  }
  const given = (["emails", "usernames", "uids"] as const).filter((key) => query[key] !== undefined);
  if (given.length !== 1) {
    throw new ValidationError(
      "query",
      "exactly one of emails, usernames, uids",
      given.length === 0 ? "must name emails, usernames or uids" : `names ${given.join(" and ")}; give exactly one`,
    );
  }
  const key = given[0] as "emails" | "usernames" | "uids";
  const list: unknown = query[key];
  if (!Array.isArray(list)) throw new ValidationError(`query.${key}`, "type array", "must be an array");
  const by = key === "emails" ? "email" : key === "usernames" ? "username" : "uid";
  // The pod matches emails whatever their case; usernames and uids exactly.
  const keyOf = by === "email" ? (value: string) => value.toLowerCase() : (value: string) => value;
  const values: string[] = [];
  const seen = new Set<string>();
  list.forEach((raw, i) => {
    const field = `query.${key}[${i}]`;
    let value: string;
    if (by === "uid") value = userIdToDecimal(raw, field);
    else if (typeof raw !== "string")
      throw new ValidationError(field, "type string", `must be a string, got ${describeValueKind(raw)}`);
    else if (raw.trim() === "") throw new ValidationError(field, "not empty", "must not be empty");
    else if (raw.includes(",")) {
      throw new ValidationError(field, "no comma", "must not hold a comma: the pod reads the list comma-separated");
    } else value = raw;
    if (!seen.has(keyOf(value))) {
      seen.add(keyOf(value));
      values.push(value);
    }
  });
  const matchKeys = (user: PodUser): string[] => {
    const field = by === "email" ? user.emailAddress : by === "username" ? user.username : String(user.id);
    return field === undefined ? [] : [keyOf(field)];
  };
  return { by, values, keyOf, matchKeys } as const;
}

function checkLookupOptions(options: LookupOptions | undefined): LookupOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object") checkCallOptions(options);
  const { local, active, concurrency, ...callOptions } = options;
  checkCallOptions(callOptions);
  for (const [name, value] of [
    ["local", local],
    ["active", active],
  ] as const) {
    if (value !== undefined && typeof value !== "boolean") {
      throw new TypeError(`options.${name} must be a boolean, got ${describeValueKind(value)}`);
    }
  }
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 100)) {
    throw new TypeError(`options.concurrency must be an integer from 1 to 100, got ${String(concurrency)}`);
  }
  return options;
}

function checkListOptions(options: ListUsersOptions | undefined): ListUsersOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object") checkCallOptions(options);
  const { pageSize, ...callOptions } = options;
  checkCallOptions(callOptions);
  if (pageSize !== undefined && !(Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= 1000)) {
    throw new TypeError(`options.pageSize must be an integer from 1 to 1000, got ${String(pageSize)}`);
  }
  return options;
}
