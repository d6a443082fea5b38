import type { Client } from "openapi-fetch";
import type { components } from "../../generated/pod-api.js";
import type { PodPaths } from "../core/client.js";
import { describeValueKind, ValidationError } from "../core/errors.js";
import { CALL_CONTEXT, type CallContext } from "../core/fetch-adapter.js";
import type { AnswerDecoder, PodHttp } from "../core/http.js";
import { type UserId, userIdToDecimal } from "../core/ids.js";
import { checkTimeoutMs, type RetryOptions, resolveRetry } from "../core/retry.js";
import { answerDecoder, type InputOf, OPERATIONS, type OperationName, type ResultOf } from "../operations/index.js";

type Schemas = components["schemas"];

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
 * A user's account status, as `getStatus` returns it: `ENABLED` or `DISABLED`, and the suspension fields of SBE
 * 20.14 and later when the pod sends them.
 *
 * @example
 * ```ts
 * const status: UserStatus = { status: "ENABLED", suspended: true, suspendedUntil: 1601546400, suspensionReason: "Leave" };
 * ```
 * @useDeclaredType
 */
export type UserStatus = Schemas["UserStatus"];

/**
 * What `updateStatus` sets: the status, and optionally a suspension (`suspendedUntil` is a unix time in seconds).
 *
 * @example
 * ```ts
 * const offboard: UserStatusUpdate = { status: "DISABLED" };
 * ```
 */
export interface UserStatusUpdate {
  /** `ENABLED` or `DISABLED`. */
  status: "ENABLED" | "DISABLED";
  /** Whether the user is temporarily suspended (SBE 20.14 and later). */
  suspended?: boolean | undefined;
  /** Until when the suspension holds, as a unix time in seconds. */
  suspendedUntil?: number | undefined;
  /** Why the user is suspended. */
  suspensionReason?: string | undefined;
}

/**
 * Per-call options, accepted as the last argument of every method.
 *
 * @example
 * ```ts
 * await pod.users.listFeatures(uid, { signal: AbortSignal.timeout(5_000), retry: { maxAttempts: 2 } });
 * ```
 */
export interface CallOptions {
  /** Aborts the call, its retries and backoff waits; the call rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Overrides the client's retry policy for this call. */
  retry?: RetryOptions | undefined;
  /** Overrides the client's per-attempt timeout for this call, in milliseconds. */
  timeoutMs?: number | undefined;
}

/**
 * A user of the pod, as {@link UserAdmin.lookup} and {@link UserAdmin.list} return it. The id is exact, as a
 * `bigint`; the other fields are the pod's, present when the pod sends them.
 *
 * @example
 * ```ts
 * const user: PodUser = { id: 7215545057281n, emailAddress: "ada@acme.com", username: "ada", displayName: "Ada L." };
 * ```
 */
export interface PodUser {
  /** The user's id. */
  id: bigint;
  /** The user's email address. */
  emailAddress?: string | undefined;
  /** The user's login name. */
  username?: string | undefined;
  /** The name other users see. */
  displayName?: string | undefined;
  /** First name. */
  firstName?: string | undefined;
  /** Last name. */
  lastName?: string | undefined;
  /** Job title. */
  title?: string | undefined;
  /** Company name. */
  company?: string | undefined;
  /** Office location. */
  location?: string | undefined;
  /** Department; the pod sends it only to callers with the extended user permission. */
  department?: string | undefined;
  /** Division; as `department`. */
  division?: string | undefined;
  /** Job function; as `department`. */
  jobFunction?: string | undefined;
  /** Work phone; as `department`. */
  workPhoneNumber?: string | undefined;
  /** Mobile phone; as `department`. */
  mobilePhoneNumber?: string | undefined;
  /** `NORMAL` for a person, `SYSTEM` for a service account, `SDL` for a distribution list. */
  accountType?: "NORMAL" | "SYSTEM" | "SDL" | undefined;
  /** Set by {@link UserAdmin.list}: `ENABLED` or `DISABLED`. */
  status?: "ENABLED" | "DISABLED" | undefined;
  /** The user's roles, e.g. `INDIVIDUAL`, `USER_PROVISIONING`. */
  roles?: string[] | undefined;
  /** Avatar images. */
  avatars?:
    | {
        /** `original` or `small`. */
        size?: string;
        /** Where the image is, relative to the pod. */
        url?: string;
      }[]
    | undefined;
}

/**
 * What {@link UserAdmin.lookup} searches by: exactly one of `emails`, `usernames` or `uids`.
 *
 * @example
 * ```ts
 * const query: UserQuery = { emails: ["ada@acme.com"] };
 * ```
 */
export type UserQuery =
  | {
      /** Email addresses; the pod matches them whatever their case. */
      emails: readonly string[];
      /** Not with `emails`. */
      usernames?: never;
      /** Not with `emails`. */
      uids?: never;
    }
  | {
      /** Usernames, matched exactly. */
      usernames: readonly string[];
      /** Not with `usernames`. */
      emails?: never;
      /** Not with `usernames`. */
      uids?: never;
    }
  | {
      /** User ids. */
      uids: readonly UserId[];
      /** Not with `uids`. */
      emails?: never;
      /** Not with `uids`. */
      usernames?: never;
    };

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
 * The answer of {@link UserAdmin.lookup}.
 *
 * @example
 * ```ts
 * const { users, notFound }: UserLookup = await pod.users.lookup({ usernames: ["ada", "nobody"] });
 * ```
 */
export interface UserLookup {
  /** The users found, once each, in the order of the values that found them. */
  users: PodUser[];
  /** The values no user matched, as given (the first spelling of a repeated email), in input order. */
  notFound: string[];
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

/** One `GET /v3/users` call: which list, its values (at most 100), and the flags. @internal */
export interface UserLookupQuery {
  by: "email" | "username" | "uid";
  values: readonly string[];
  local: boolean;
  active?: boolean;
}

/** The pod takes at most this many values per lookup call. */
const LOOKUP_BATCH = 100;

/** An entry of the operation table, as the facade runs it. */
interface TableEntry {
  method: "get" | "post" | "patch";
  path: string;
  request?: (input: never) => { body?: unknown; query?: object };
  result?: (wire: never) => unknown;
  dryRun?: () => unknown;
}

/** Settings every call inherits from the client. @internal */
export interface CallDefaults {
  retry: Required<RetryOptions>;
  timeoutMs: number;
}

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
  readonly #client: Client<PodPaths>;
  readonly #http: PodHttp;
  readonly #defaults: CallDefaults;
  readonly #dryRun: boolean;

  /** @internal */
  constructor(client: Client<PodPaths>, http: PodHttp, defaults: CallDefaults, dryRun = false) {
    this.#client = client;
    this.#http = http;
    this.#defaults = defaults;
    this.#dryRun = dryRun;
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
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        const batch = batches[next++] as string[];
        const query: UserLookupQuery = { by, values: batch, local, ...(active === undefined ? {} : { active }) };
        for (const user of await this.invoke("findUsers", undefined, query, callOptions)) {
          for (const key of matchKeys(user)) if (!found.has(key)) found.set(key, user);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
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

  /**
   * Runs one operation of the table (operations.ts): maps the input to the wire, calls the typed openapi-fetch
   * client with the entry's spec method and path, reads the answer as the entry declares.
   * @internal
   */
  async invoke<K extends OperationName>(
    name: K,
    uid: UserId | undefined,
    input: InputOf<K>,
    options: CallOptions | undefined,
  ): Promise<ResultOf<K>> {
    const entry: TableEntry = OPERATIONS[name];
    const userId = entry.path.includes("{uid}") ? userIdToDecimal(uid, "uid") : undefined;
    const wire = entry.request?.(input as never);
    if (this.#dryRun && entry.dryRun) return entry.dryRun() as ResultOf<K>;
    const { context, init } = this.#init(userId, wire, options);
    const result = await this.#client.request(entry.method, entry.path as never, init as never);
    const answer = this.#read(context, entry.method, result, answerDecoder(name));
    return (entry.result ? entry.result(answer as never) : answer) as ResultOf<K>;
  }

  /**
   * The init every call hands openapi-fetch: the uid as its path parameter, the query and body the table built, the
   * answer read as text (so int64 ids are parsed exactly and the spec's schema checks it), the signal, and the
   * per-call settings for the pipeline.
   */
  #init(
    uid: string | undefined,
    wire: { body?: unknown; query?: object } | undefined,
    options: CallOptions | undefined,
  ) {
    const settings = this.#settings(options);
    const context: CallContext = { uid, retry: settings.retry, timeoutMs: settings.timeoutMs };
    // int64: openapi-typescript types uids as `number`; the facade keeps them as decimal strings, every digit intact.
    const params = uid === undefined ? { query: wire?.query } : { path: { uid }, query: wire?.query };
    return {
      context,
      init: {
        params,
        body: wire?.body,
        parseAs: "text" as const,
        signal: "signal" in settings ? settings.signal : undefined,
        [CALL_CONTEXT]: context,
      },
    };
  }

  /** openapi-fetch's result, as the pipeline's errors and the operation's decoder read it. */
  #read<T>(
    context: CallContext,
    method: string,
    result: { data?: unknown; error?: unknown; response: Response },
    decode: AnswerDecoder<T>,
  ): T {
    const { response } = result;
    const body = response.ok
      ? ((result.data as string | undefined) ?? "")
      : typeof result.error === "string"
        ? result.error
        : JSON.stringify(result.error ?? "");
    const answer = { status: response.status, header: (name: string) => response.headers.get(name) ?? undefined, body };
    const requestId = context.requestId ?? answer.header("x-trace-id");
    const meta = {
      method: method.toUpperCase(),
      path: context.path ?? "",
      uid: context.uid,
      attempts: context.attempts ?? 1,
      requestId,
    };
    return this.#http.readAnswer(meta, answer, decode);
  }

  #settings(options: CallOptions | undefined) {
    return settingsFor(this.#defaults, options);
  }
}

/** Resolves per-call options over the client's defaults. @internal */
export function settingsFor(defaults: CallDefaults, options: CallOptions | undefined) {
  if (options === undefined) return defaults;
  checkCallOptions(options);
  const timeoutMs =
    options.timeoutMs === undefined ? defaults.timeoutMs : checkTimeoutMs(options.timeoutMs, "timeoutMs");
  return {
    retry: options.retry ? resolveRetry(defaults.retry, options.retry, "retry") : defaults.retry,
    timeoutMs,
    signal: options.signal,
  };
}

/**
 * The last argument of every method, checked at the boundary: a mistyped option fails with a TypeError naming it,
 * instead of a TypeError from deep inside the client or, worse, being ignored.
 * @internal
 */
export function checkCallOptions(options: unknown, what = "options"): asserts options is CallOptions {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(
      `${what} must be an object such as { signal, retry, timeoutMs }, got ${describeValueKind(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (key !== "signal" && key !== "retry" && key !== "timeoutMs") {
      throw new TypeError(`${what}.${key} is not an option; expected signal, retry or timeoutMs`);
    }
  }
  const { signal, retry } = options as CallOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${what}.signal must be an AbortSignal (e.g. AbortSignal.timeout(5000)), got ${describeValueKind(signal)}`,
    );
  }
  if (retry !== undefined && (retry === null || typeof retry !== "object" || Array.isArray(retry))) {
    throw new TypeError(`${what}.retry must be an object such as { maxAttempts: 3 }, got ${describeValueKind(retry)}`);
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
