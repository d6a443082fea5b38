/** The simulated pod's state as tests and scripts read and seed it: {@link SimulatedPodState}. */
import type { components } from "../../generated/pod-api.js";
import type { SimulatorDirectoryUser } from "./directory.js";
import { keyOf, type PodStore } from "./store.js";

export type { SimulatorAppDefaults } from "./store.js";

type Schemas = components["schemas"];
type AppEntitlement = Schemas["UserAppEntitlement"];
type UserStatus = Schemas["UserStatus"];

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
  hasUser(uid: number | bigint | string): boolean {
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
  addUser(uid: number | bigint | string): void {
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
  directoryEntry(uid: number | bigint | string): SimulatorDirectoryUser | undefined {
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
  features(uid: number | bigint | string): Record<string, boolean> {
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
  setFeatures(uid: number | bigint | string, features: Record<string, boolean>): void {
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
  delegates(uid: number | bigint | string): bigint[] {
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
  setDelegates(uid: number | bigint | string, delegates: Iterable<number | bigint | string>): void {
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
  apps(uid: number | bigint | string): AppEntitlement[] {
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
  setApps(uid: number | bigint | string, apps: readonly AppEntitlement[]): void {
    this.#store.replaceApps(this.#store.record(keyOf(uid)), apps);
  }

  /**
   * A user's status, as `GET /v1/admin/user/{uid}/status` answers it: the one last set (by `status/update` or
   * {@link SimulatedPodState.setStatus}), with its suspension fields; else the directory's, `{ status: "DISABLED" }`
   * for a user the directory marks so and `{ status: "ENABLED" }` for the others. Undefined when `uid` is not a user
   * of the pod.
   *
   * @example
   * ```ts
   * const pod = await startSimulatedPod({ directory: [{ uid: 42, email: "ada@example.com", status: "DISABLED" }] });
   * pod.state.status(42); // { status: "DISABLED" }, as the directory says
   * pod.state.setStatus(42, { status: "ENABLED" }); // what `POST …/status/update` does
   * pod.state.directoryEntry(42)?.status; // "ENABLED": the directory says the same
   * ```
   */
  status(uid: number | bigint | string): UserStatus | undefined {
    const key = keyOf(uid);
    return this.#store.isUser(key) ? this.#store.statusOf(key) : undefined;
  }

  /**
   * Replaces a user's status and suspension fields, as `status/update` does: fields left out are dropped, and the
   * directory (`GET /v2/admin/user/list`, `active` lookups of `GET /v3/users`) lists the user with the new status.
   *
   * @example
   * ```ts
   * pod.state.setStatus(uid, { status: "ENABLED", suspended: true, suspendedUntil: 1_767_225_600 });
   * ```
   * @throws TypeError when `status.status` is not `"ENABLED"` or `"DISABLED"`.
   */
  setStatus(uid: number | bigint | string, status: UserStatus): void {
    const key = keyOf(uid);
    if (status?.status !== "ENABLED" && status?.status !== "DISABLED") {
      throw new TypeError(`status must be ENABLED or DISABLED, got ${String(status?.status)}`);
    }
    this.#store.setStatus(key, status);
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
