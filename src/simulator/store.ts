/**
 * What the simulated pod holds: each user's features, delegates, apps and status, the directory, and the
 * operations' semantics on them. The server's handlers and `SimulatedPodState` (state.ts) both work on it.
 */
import type { components } from "../../generated/pod-api.js";
import {
  compareUids,
  Directory,
  type SimulatorDirectoryEntry,
  type SimulatorDirectoryUser,
  syntheticEntry,
  syntheticUid,
} from "./directory.js";
import { uidKey } from "./ids.js";

type Schemas = components["schemas"];
type Product = Schemas["Product"];
type AppEntitlement = Schemas["UserAppEntitlement"];
type AppPatch = Schemas["UserAppEntitlementPatch"];
type UserStatus = Schemas["UserStatus"];

/**
 * A user's key: the canonical decimal form of a positive int64 (ids.ts).
 *
 * @throws TypeError naming `field` for anything else.
 * @internal
 */
export function keyOf(uid: number | bigint | string, field = "uid"): string {
  const key = uidKey(uid);
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
  /** Set by `status/update`: the status the directory then shows too. */
  status?: UserStatus;
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
 * The users' data and the operations' semantics, shared by the server and `SimulatedPodState`.
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
    users: Iterable<number | bigint | string> | undefined,
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

  /**
   * A user's directory entry: their own, or the synthetic one, with the status last set (`status/update`) if any;
   * undefined when `key` is not a user.
   */
  entry(key: string): SimulatorDirectoryUser | undefined {
    if (!this.isUser(key)) return undefined;
    return this.#withStatus(this.directory.byUid(key) ?? syntheticEntry(key));
  }

  /** The user with this email, ignoring case: an entry's, else a synthetic one's (`user.<uid>@example.com`). */
  byEmail(email: string): SimulatorDirectoryUser | undefined {
    return this.#withStatus(this.directory.byEmail(email) ?? this.#synthetic(syntheticUid(email, "email")));
  }

  /** The user with exactly this username: an entry's, else a synthetic one's (`user.<uid>`). */
  byUsername(username: string): SimulatorDirectoryUser | undefined {
    return this.#withStatus(this.directory.byUsername(username) ?? this.#synthetic(syntheticUid(username, "username")));
  }

  /**
   * A user's status as `GET …/status` answers it, a new object: the one last set, else the directory's status
   * (`ENABLED` for a user without an entry).
   */
  statusOf(key: string): UserStatus {
    const set = this.users.get(key)?.status;
    return set === undefined ? { status: this.directory.byUid(key)?.status ?? "ENABLED" } : { ...set };
  }

  /** Replaces a user's status and suspension, as `status/update` does; kept in the spec's field order. */
  setStatus(key: string, status: UserStatus): void {
    const { status: value, suspended, suspendedUntil, suspensionReason } = status;
    const kept: UserStatus = { status: value };
    if (suspended !== undefined) kept.suspended = suspended;
    if (suspendedUntil !== undefined) kept.suspendedUntil = suspendedUntil;
    if (suspensionReason !== undefined) kept.suspensionReason = suspensionReason;
    this.record(key).status = kept;
  }

  /** The entry as the directory shows it now: its status changed by `status/update`, if it was. */
  #withStatus(user: SimulatorDirectoryUser | undefined): SimulatorDirectoryUser | undefined {
    if (user === undefined) return undefined;
    const status = this.users.get(user.uid)?.status?.status;
    return status === undefined || status === user.status ? user : { ...user, status };
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
