import type { Client } from "openapi-fetch";
import type { components } from "../generated/pod-api.js";
import type { PodPaths } from "./client.js";
import { ValidationError } from "./errors.js";
import { CALL_CONTEXT, type CallContext } from "./fetch-adapter.js";
import type { AnswerDecoder, PodHttp } from "./http.js";
import { type UserId, userIdToDecimal } from "./ids.js";
import { OPERATIONS, operationKey } from "./operations.js";
import { checkTimeoutMs, type RetryOptions, resolveRetry } from "./retry.js";
import { checkBody, fromWire, int64ListAnswer, jsonAnswer, requireFields, toWire } from "./wire.js";

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
    const userId = userIdToDecimal(uid, "uid");
    const body = mapList(features, "features", (feature, field) => {
      const wire = toWire(feature, "Feature", field);
      requireFields(fromWire(wire), ["entitlement", "enabled"], field);
      return wire;
    });
    checkBody(body, "FeatureList", "features");
    if (this.#dryRun) return;
    const { context, init } = this.#init(userId, options);
    const result = await this.#client.POST(OPERATIONS.updateFeatures.path, { ...init, body });
    this.#read(context, "POST", result, jsonAnswer(operationKey("updateFeatures")));
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
  async listFeatures(uid: UserId, options?: CallOptions): Promise<FeatureEntitlement[]> {
    const userId = userIdToDecimal(uid, "uid");
    const { context, init } = this.#init(userId, options);
    const result = await this.#client.GET(OPERATIONS.listFeatures.path, init);
    const wire = this.#read(context, "GET", result, jsonAnswer<Schemas["FeatureList"]>(operationKey("listFeatures")));
    return wire.map((feature) => fromWire<FeatureEntitlement>(feature));
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
  async updateDelegates(uid: UserId, update: DelegateUpdate, options?: CallOptions): Promise<void> {
    const userId = userIdToDecimal(uid, "uid");
    if (update === null || typeof update !== "object") {
      throw new ValidationError("update", "type object", "must be an object { userId, action }");
    }
    // Checks and body read the same copy, so what was checked is what is sent.
    const wire = toWire(update, "DelegateAction", "update") as { userId?: unknown; action?: unknown };
    requireFields(wire, ["userId", "action"], "update");
    const delegate = BigInt(userIdToDecimal(wire.userId, "update.userId"));
    const checked = { action: wire.action };
    checkBody(checked, "DelegateAction", "update");
    if (this.#dryRun) return;
    // int64: the delegate goes out as a bigint, written with every digit by the body serializer.
    const body = { userId: delegate as unknown as number, action: checked.action };
    const { context, init } = this.#init(userId, options);
    const result = await this.#client.POST(OPERATIONS.updateDelegates.path, { ...init, body });
    this.#read(context, "POST", result, jsonAnswer(operationKey("updateDelegates")));
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
  async listDelegates(uid: UserId, options?: CallOptions): Promise<bigint[]> {
    const userId = userIdToDecimal(uid, "uid");
    const { context, init } = this.#init(userId, options);
    const result = await this.#client.GET(OPERATIONS.listDelegates.path, init);
    return this.#read(context, "GET", result, int64ListAnswer(operationKey("listDelegates")));
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
  async replaceApps(uid: UserId, apps: readonly AppEntitlement[], options?: CallOptions): Promise<AppEntitlement[]> {
    const userId = userIdToDecimal(uid, "uid");
    const body = mapList(apps, "apps", (app, field) => toWire(app, "UserAppEntitlement", field));
    checkBody(body, "UserAppEntitlementList", "apps");
    if (this.#dryRun) return [];
    const { context, init } = this.#init(userId, options);
    const result = await this.#client.POST(OPERATIONS.replaceApps.path, { ...init, body });
    return this.#read(context, "POST", result, jsonAnswer(operationKey("replaceApps")));
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
  async patchApps(
    uid: UserId,
    patches: readonly AppEntitlementPatch[],
    options?: CallOptions,
  ): Promise<AppEntitlement[]> {
    const userId = userIdToDecimal(uid, "uid");
    const body = mapList(patches, "patches", (patch, field) => {
      const wire = toWire(patch, "UserAppEntitlementPatch", field) as Record<string, unknown>;
      if (wire === null || typeof wire !== "object") return wire;
      if (Object.hasOwn(wire, "product") && wire.product === null) {
        throw new ValidationError(`${field}.product`, "not null", "must not be null; leave it out to keep the product");
      }
      for (const setting of ["listed", "install"]) {
        if (typeof wire[setting] === "boolean") wire[setting] = wire[setting] ? "TRUE" : "FALSE";
      }
      return wire;
    });
    checkBody(body, "UserAppEntitlementsPatchList", "patches");
    if (this.#dryRun) return [];
    const { context, init } = this.#init(userId, options);
    const result = await this.#client.PATCH(OPERATIONS.patchApps.path, { ...init, body });
    return this.#read(context, "PATCH", result, jsonAnswer(operationKey("patchApps")));
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
  async listApps(uid: UserId, options?: CallOptions): Promise<AppEntitlement[]> {
    const userId = userIdToDecimal(uid, "uid");
    const { context, init } = this.#init(userId, options);
    const result = await this.#client.GET(OPERATIONS.listApps.path, init);
    return this.#read(context, "GET", result, jsonAnswer(operationKey("listApps")));
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
  async listAvailableFeatures(options?: CallOptions): Promise<string[]> {
    const { context, init } = this.#init(undefined, options);
    const result = await this.#client.GET(OPERATIONS.listAvailableFeatures.path, { ...init, params: {} });
    return this.#read(context, "GET", result, jsonAnswer<string[]>(operationKey("listAvailableFeatures")));
  }

  /**
   * The init every call hands openapi-fetch: the uid as its path parameter, the answer read as text (so int64 ids
   * are parsed exactly and the spec's schema checks it), the signal, and the per-call settings for the pipeline.
   */
  #init(uid: string | undefined, options: CallOptions | undefined) {
    const settings = this.#settings(options);
    const context: CallContext = { uid, retry: settings.retry, timeoutMs: settings.timeoutMs };
    // int64: openapi-typescript types uids as `number`; the facade keeps them as decimal strings, every digit intact.
    const path = (uid === undefined ? {} : { uid }) as unknown as { uid: number };
    const init = {
      params: { path },
      parseAs: "text" as const,
      signal: "signal" in settings ? settings.signal : undefined,
    };
    return { context, init: { ...init, [CALL_CONTEXT]: context } };
  }

  /** openapi-fetch's result, as the pipeline's errors and the operation's decoder read it. */
  #read<T>(
    context: CallContext,
    method: string,
    result: { data?: string; error?: unknown; response: Response },
    decode: AnswerDecoder<T>,
  ): T {
    const { response } = result;
    const body = response.ok
      ? (result.data ?? "")
      : typeof result.error === "string"
        ? result.error
        : JSON.stringify(result.error ?? "");
    const answer = { status: response.status, header: (name: string) => response.headers.get(name) ?? undefined, body };
    const requestId = context.requestId ?? answer.header("x-trace-id");
    const meta = { method, path: context.path ?? "", uid: context.uid, attempts: context.attempts ?? 1, requestId };
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

/** What a value is, for a TypeError: never the value itself (it may be a secret). @internal */
export function describeValueKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "no prototype"})`;
  return `a ${typeof value}`;
}

function mapList<T>(items: readonly T[], field: string, map: (item: T, field: string) => unknown): unknown[] {
  if (!Array.isArray(items)) throw new ValidationError(field, "type array", `must be an array, got ${typeof items}`);
  return items.map((item, i) => {
    const itemField = `${field}[${i}]`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new ValidationError(
        itemField,
        "type object",
        `must be an object, got ${item === null ? "null" : Array.isArray(item) ? "an array" : typeof item}`,
      );
    }
    return map(item, itemField);
  });
}
