import type { components } from "../../generated/pod-api.js";
import { canonicalUserId, type UserId } from "../core/ids.js";
import {
  compareUids,
  Directory,
  type SimulatorDirectoryEntry,
  type SimulatorDirectoryUser,
  syntheticEntry,
  syntheticUid,
} from "./directory.js";

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
  /** Read here; written only through {@link PodStore.record} and {@link PodStore.clear}, which keep the list's order. */
  readonly users = new Map<string, UserRecord>();
  /** The users of the pod when seeded (`users` or `directory`); undefined: every int64 uid is a user. */
  readonly known: ReadonlySet<string> | undefined;
  readonly directory: Directory;
  readonly #appDefaults: SimulatorAppDefaults;
  /** The listed uids in uid order, kept until a user is added or the state cleared: paging costs no sort per page. */
  #sorted: string[] | undefined;

  constructor(
    users: Iterable<UserId> | undefined,
    appDefaults: SimulatorAppDefaults | undefined,
    directory?: Iterable<SimulatorDirectoryEntry>,
  ) {
    if (users !== undefined && directory !== undefined) {
      // Merging would leave it unclear which users have which entry; one source of users is one answer.
      throw new TypeError(
        "give the pod's users as users or as directory, not both: the directory's entries are the pod's users",
      );
    }
    this.directory = new Directory(directory ?? [], (index) => `directory[${index}]`);
    if (directory !== undefined) this.known = new Set(this.directory.uids());
    else if (users !== undefined) this.known = new Set(Array.from(users, (uid) => keyOf(uid, "users[]")));
    this.#appDefaults = { listed: appDefaults?.listed ?? true, install: appDefaults?.install ?? false };
  }

  isUser(key: string): boolean {
    return this.known === undefined || this.known.has(key);
  }

  addUser(key: string): void {
    if (this.known === undefined || this.known.has(key)) return;
    (this.known as Set<string>).add(key);
    this.#sorted = undefined;
  }

  record(key: string): UserRecord {
    let record = this.users.get(key);
    if (record === undefined) {
      record = {};
      this.users.set(key, record);
      if (this.known === undefined) this.#sorted = undefined;
    }
    return record;
  }

  /** Forgets every user's state; seeded users stay users. */
  clear(): void {
    this.users.clear();
    if (this.known === undefined) this.#sorted = undefined;
  }

  /** A user's directory entry: their own, or the synthetic one; undefined when `key` is not a user. */
  entry(key: string): SimulatorDirectoryUser | undefined {
    if (!this.isUser(key)) return undefined;
    return this.directory.byUid(key) ?? syntheticEntry(key);
  }

  /** The user with this email, ignoring case: an entry's, else a synthetic one's (`user.<uid>@example.com`). */
  byEmail(email: string): SimulatorDirectoryUser | undefined {
    return this.directory.byEmail(email) ?? this.#synthetic(syntheticUid(email, "email"));
  }

  /** The user with exactly this username: an entry's, else a synthetic one's (`user.<uid>`). */
  byUsername(username: string): SimulatorDirectoryUser | undefined {
    return this.directory.byUsername(username) ?? this.#synthetic(syntheticUid(username, "username"));
  }

  /** A user without an entry of their own; a user who has one is found by what the entry says, not the uid's form. */
  #synthetic(key: string | undefined): SimulatorDirectoryUser | undefined {
    if (key === undefined || !this.isUser(key) || this.directory.byUid(key) !== undefined) return undefined;
    return syntheticEntry(key);
  }

  /**
   * The uids `GET /v2/admin/user/list` pages through, in uid order: the pod's users when seeded; in the "any uid"
   * mode, where the users are countless, the ones the store holds state for.
   */
  listed(): readonly string[] {
    if (this.#sorted === undefined) {
      const keys = [...(this.known ?? this.users.keys())];
      // Seeded ranges and sorted files come in order already: one pass instead of a sort.
      let ordered = true;
      for (let i = 1; i < keys.length && ordered; i++)
        ordered = compareUids(keys[i - 1] as string, keys[i] as string) < 0;
      this.#sorted = ordered ? keys : keys.sort(compareUids);
    }
    return this.#sorted;
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
    this.#store.addUser(keyOf(uid));
  }

  /**
   * A user's directory entry, as `GET /v3/users` answers it: the one given in `directory`, or the synthetic one of a
   * user who has none (`user.<uid>@example.com`, username `user.<uid>`, display name `User <uid>`); undefined when
   * `uid` is not a user of the pod.
   *
   * @example
   * ```ts
   * const pod = await startSimulatedPod({ users: [42] });
   * pod.state.directoryEntry(42)?.email; // "user.42@example.com"
   * ```
   */
  directoryEntry(uid: UserId): SimulatorDirectoryUser | undefined {
    return this.#store.entry(keyOf(uid));
  }

  /**
   * The user a lookup by this email finds, ignoring case, as `GET /v3/users?email=` does; undefined when none.
   *
   * @example
   * ```ts
   * const pod = await startSimulatedPod({ directory: [{ uid: 7215545057281n, email: "ada@example.com" }] });
   * pod.state.userByEmail("Ada@Example.com")?.uid; // "7215545057281"
   * ```
   */
  userByEmail(email: string): SimulatorDirectoryUser | undefined {
    return this.#store.byEmail(email);
  }

  /**
   * The user a lookup by this username finds (an exact match), as `GET /v3/users?username=` does; undefined when none.
   *
   * @example
   * ```ts
   * const pod = await startSimulatedPod({ directory: [{ uid: 5, email: "ada@example.com", username: "ada" }] });
   * pod.state.userByUsername("ada")?.uid; // "5"
   * ```
   */
  userByUsername(username: string): SimulatorDirectoryUser | undefined {
    return this.#store.byUsername(username);
  }

  /**
   * The users `GET /v2/admin/user/list` pages through, in uid order, each with its directory entry: the pod's users
   * when seeded (`directory` or `users`); with neither, every uid is a user, so the list holds the users the pod has
   * state for (written to, or seeded through these accessors).
   *
   * @example
   * ```ts
   * const emails = pod.state.directory().map((user) => user.email);
   * ```
   */
  directory(): SimulatorDirectoryUser[] {
    return this.#store.listed().map((key) => this.#store.entry(key) as SimulatorDirectoryUser);
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
    this.#store.clear();
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
