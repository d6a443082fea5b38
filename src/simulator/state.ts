import type { components } from "../../generated/pod-api.js";
import { canonicalUserId, type UserId } from "../ids.js";

type Schemas = components["schemas"];
type Product = Schemas["Product"];
type AppEntitlement = Schemas["UserAppEntitlement"];
type AppPatch = Schemas["UserAppEntitlementPatch"];

/** A user's key: the client's canonical decimal form of a positive int64 (ids.ts). */
function keyOf(uid: UserId, field = "uid"): string {
  const key = canonicalUserId(uid);
  if (key === undefined) throw new TypeError(`${field} is not a positive int64 user id: ${String(uid)}`);
  return key;
}

/** One app of one user. `listed`/`install` undefined: the pod-level setting applies. */
interface AppRecord {
  appId: string;
  appName?: string | undefined;
  listed?: boolean | undefined;
  install?: boolean | undefined;
  products?: Product[] | undefined;
}

/**
 * Everything the pod holds about one user; parts are created on first write.
 *
 * @example
 * ```ts
 * const record: UserRecord = { features: new Map([["canCreatePublicRoom", true]]) };
 * ```
 * @internal
 */
export interface UserRecord {
  features?: Map<string, boolean>;
  delegates?: Set<string>;
  apps?: Map<string, AppRecord>;
}

/**
 * Pod-level app settings: what a user sees for `listed`/`install` when the user has no setting of their own (after a
 * `"REMOVE"` patch, or for an app first patched without that field).
 *
 * @example
 * ```ts
 * const pod = await startSimulatedPod({ appDefaults: { listed: true, install: false } });
 * ```
 */
export interface SimulatorAppDefaults {
  /** Default `true`. */
  listed: boolean;
  /** Default `false`. */
  install: boolean;
}

/**
 * The users' data and the operations' semantics, shared by the server and {@link SimulatedPodState}.
 *
 * @example
 * ```ts
 * const store = new PodStore(undefined, undefined);
 * store.patchApps(store.record("1"), [{ appId: "djApp", install: "TRUE" }]);
 * ```
 * @internal
 */
export class PodStore {
  readonly users = new Map<string, UserRecord>();
  /** The users of the pod when seeded; undefined: every int64 uid is a user. */
  readonly known: Set<string> | undefined;
  readonly #appDefaults: SimulatorAppDefaults;

  constructor(users: Iterable<UserId> | undefined, appDefaults: SimulatorAppDefaults | undefined) {
    this.known = users === undefined ? undefined : new Set(Array.from(users, (uid) => keyOf(uid, "users[]")));
    this.#appDefaults = { listed: appDefaults?.listed ?? true, install: appDefaults?.install ?? false };
  }

  isUser(key: string): boolean {
    return this.known === undefined || this.known.has(key);
  }

  record(key: string): UserRecord {
    let record = this.users.get(key);
    if (record === undefined) {
      record = {};
      this.users.set(key, record);
    }
    return record;
  }

  replaceApps(record: UserRecord, apps: readonly AppEntitlement[]): void {
    const map = new Map<string, AppRecord>();
    for (const app of apps) {
      map.set(app.appId, {
        appId: app.appId,
        appName: app.appName,
        listed: app.listed,
        install: app.install,
        products: app.products?.map((product) => ({ ...product })),
      });
    }
    record.apps = map;
  }

  /** PATCH semantics: TRUE/FALSE set, KEEP (or absent) keeps, REMOVE drops the user's own setting. */
  patchApps(record: UserRecord, patches: readonly AppPatch[]): void {
    record.apps ??= new Map();
    for (const patch of patches) {
      let app: AppRecord | undefined = record.apps.get(patch.appId);
      if (app === undefined) {
        app = { appId: patch.appId };
        record.apps.set(patch.appId, app);
      }
      app.listed = applySetting(app.listed, patch.listed);
      app.install = applySetting(app.install, patch.install);
      if (patch.product !== undefined) {
        // A product is identified by its name: a patch naming an existing product replaces it.
        const product = { ...patch.product };
        app.products ??= [];
        const at = app.products.findIndex((p) => p.name === product.name);
        if (at >= 0) app.products[at] = product;
        else app.products.push(product);
      }
    }
  }

  appsOf(record: UserRecord | undefined): AppEntitlement[] {
    if (record?.apps === undefined) return [];
    const out: AppEntitlement[] = [];
    for (const app of record.apps.values()) {
      // Built field by field so the answer keeps the spec's field order and has no undefined members.
      const listed = app.listed ?? this.#appDefaults.listed;
      const install = app.install ?? this.#appDefaults.install;
      const entry: AppEntitlement =
        app.appName === undefined
          ? { appId: app.appId, listed, install }
          : { appId: app.appId, appName: app.appName, listed, install };
      if (app.products !== undefined) entry.products = app.products.map((product) => ({ ...product }));
      out.push(entry);
    }
    return out;
  }
}

/**
 * The simulated pod's in-memory state, read and written directly (no HTTP, no faults, no token): for tests to seed a
 * pod and check what requests did. Uids are `number | bigint | string`, as in the client.
 *
 * @example
 * ```ts
 * const pod = await startSimulatedPod();
 * pod.state.setFeatures(7215545057281n, { canCreatePublicRoom: true });
 * await client.users.updateFeatures(7215545057281n, [{ entitlement: "sendFilesEnabled", enabled: false }]);
 * console.log(pod.state.features(7215545057281n)); // { canCreatePublicRoom: true, sendFilesEnabled: false }
 * ```
 */
export class SimulatedPodState {
  readonly #store: PodStore;

  /** @internal */
  constructor(store: PodStore) {
    this.#store = store;
  }

  /**
   * Whether `uid` is a user of the pod: a seeded user, or any int64 when no users were seeded.
   *
   * @example
   * ```ts
   * if (!pod.state.hasUser(42)) pod.state.addUser(42);
   * ```
   */
  hasUser(uid: UserId): boolean {
    return this.#store.isUser(keyOf(uid));
  }

  /**
   * Adds a user to the seeded users (no effect when every uid is accepted).
   *
   * @example
   * ```ts
   * pod.state.addUser("9223372036854775807");
   * ```
   */
  addUser(uid: UserId): void {
    this.#store.known?.add(keyOf(uid));
  }

  /**
   * The uids holding any state, plus the seeded users, as canonical decimal strings.
   *
   * @example
   * ```ts
   * const uids = pod.state.users(); // ["7215545057281", ...]
   * ```
   */
  users(): string[] {
    const all = new Set(this.#store.known);
    for (const key of this.#store.users.keys()) all.add(key);
    return [...all];
  }

  /**
   * The feature entitlements of a user, name → enabled; `{}` when none was ever set.
   *
   * @example
   * ```ts
   * expect(pod.state.features(uid)).toEqual({ canCreatePublicRoom: true });
   * ```
   */
  features(uid: UserId): Record<string, boolean> {
    return Object.fromEntries(this.#store.users.get(keyOf(uid))?.features ?? []);
  }

  /**
   * Merges feature entitlements into a user's state, as `features/update` does.
   *
   * @example
   * ```ts
   * pod.state.setFeatures(uid, { canCreatePublicRoom: true, sendFilesEnabled: false });
   * ```
   */
  setFeatures(uid: UserId, features: Record<string, boolean>): void {
    const record = this.#store.record(keyOf(uid));
    record.features ??= new Map();
    for (const [name, enabled] of Object.entries(features)) record.features.set(name, enabled === true);
  }

  /**
   * The delegates of a user, in the order they were added, as `bigint`s (as the client's `listDelegates` gives them).
   *
   * @example
   * ```ts
   * expect(pod.state.delegates(uid)).toEqual([9007199254740993n]);
   * ```
   */
  delegates(uid: UserId): bigint[] {
    return Array.from(this.#store.users.get(keyOf(uid))?.delegates ?? [], BigInt);
  }

  /**
   * Replaces the delegates of a user.
   *
   * @example
   * ```ts
   * pod.state.setDelegates(uid, [7215545057282n, "9223372036854775807"]);
   * ```
   */
  setDelegates(uid: UserId, delegates: Iterable<UserId>): void {
    this.#store.record(keyOf(uid)).delegates = new Set(Array.from(delegates, (id) => keyOf(id, "delegate")));
  }

  /**
   * The application entitlements of a user, as `GET app/entitlement/list` answers them.
   *
   * @example
   * ```ts
   * const installed = pod.state.apps(uid).filter((app) => app.install).map((app) => app.appId);
   * ```
   */
  apps(uid: UserId): AppEntitlement[] {
    return this.#store.appsOf(this.#store.users.get(keyOf(uid)));
  }

  /**
   * Replaces the application entitlements of a user, as `POST app/entitlement/list` does.
   *
   * @example
   * ```ts
   * pod.state.setApps(uid, [{ appId: "selerity", listed: true, install: false }]);
   * ```
   */
  setApps(uid: UserId, apps: readonly AppEntitlement[]): void {
    this.#store.replaceApps(this.#store.record(keyOf(uid)), apps);
  }

  /**
   * Forgets every user's state (seeded users stay users).
   *
   * @example
   * ```ts
   * afterEach(() => pod.state.clear());
   * ```
   */
  clear(): void {
    this.#store.users.clear();
  }
}

function applySetting(current: boolean | undefined, setting: AppPatch["listed"]): boolean | undefined {
  switch (setting) {
    case "TRUE":
      return true;
    case "FALSE":
      return false;
    case "REMOVE":
      return undefined;
    default:
      return current;
  }
}
