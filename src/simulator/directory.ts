import { uidKey } from "./ids.js";

/**
 * One user of a simulated pod's directory: what `GET /v3/users` finds and `GET /v2/admin/user/list` lists. Only
 * `uid` and `email` are required; a missing `username` is the email, a missing `displayName` is the part of the email
 * before `@`, a missing `status` is `"ENABLED"`.
 *
 * @example
 * ```ts
 * const directory: SimulatorDirectoryEntry[] = [
 *   { uid: 7215545057281n, email: "ada@example.com", username: "ada", displayName: "Ada Lovelace" },
 *   { uid: "9223372036854775807", email: "bob@example.com", status: "DISABLED" },
 * ];
 * const pod = await startSimulatedPod({ directory });
 * ```
 */
export interface SimulatorDirectoryEntry {
  /** The user id, a positive int64. */
  uid: number | bigint | string;
  /** The email address; lookups match it case-insensitively. */
  email: string;
  /** The username; lookups match it exactly. Default: the email. */
  username?: string;
  /** Default: the part of the email before `@`. */
  displayName?: string;
  /**
   * `"DISABLED"` users are found by `active=false` lookups, listed as such, and `GET …/status` answers
   * `{ "status": "DISABLED" }` for them; a `POST …/status/update` changes what all three say. Default `"ENABLED"`.
   */
  status?: "ENABLED" | "DISABLED";
}

/**
 * A directory entry as the simulated pod answers it: every field filled in, the uid as its canonical decimal string
 * (every digit of an int64, no leading zeros).
 *
 * @example
 * ```ts
 * const user: SimulatorDirectoryUser | undefined = pod.state.userByEmail("ADA@example.com");
 * console.log(user?.uid, user?.username); // "7215545057281" "ada"
 * ```
 */
export interface SimulatorDirectoryUser {
  /** Canonical decimal form of the int64 id. */
  uid: string;
  /** As given (lookups ignore its case). */
  email: string;
  /** As given, or the email when none was. */
  username: string;
  /** As given, or the part of the email before `@` when none was. */
  displayName: string;
  /** `"ENABLED"` unless given as `"DISABLED"`, or as last set by `POST …/status/update`. */
  status: "ENABLED" | "DISABLED";
}

const STATUSES: ReadonlySet<string> = new Set(["ENABLED", "DISABLED"]);
// Not the full RFC 5322: enough to refuse what could never be looked up (a comma splits the query's list).
const EMAIL = /^[^\s,@]+@[^\s,@]+$/;
const SYNTHETIC_EMAIL = /^user\.([1-9][0-9]{0,18})@example\.com$/i;
const SYNTHETIC_USERNAME = /^user\.([1-9][0-9]{0,18})$/;

/**
 * The entry of a user the pod has no directory entry for (seeded with `users`, added with `addUser`, or any uid in
 * the default mode): derived from the uid, so a demo can look users up by email without seeding a directory.
 *
 * @example
 * ```ts
 * syntheticEntry("42"); // { uid: "42", email: "user.42@example.com", username: "user.42", displayName: "User 42", … }
 * ```
 * @internal
 */
export function syntheticEntry(key: string): SimulatorDirectoryUser {
  return {
    uid: key,
    email: `user.${key}@example.com`,
    username: `user.${key}`,
    displayName: `User ${key}`,
    status: "ENABLED",
  };
}

/**
 * The uid a synthetic email or username names (`user.<uid>@example.com`, any case; `user.<uid>`, exactly), as its
 * canonical decimal; undefined for any other text, a non-canonical uid (`user.007`) included, since no synthetic
 * entry has that form.
 *
 * @example
 * ```ts
 * syntheticUid("User.42@Example.COM", "email"); // "42"
 * ```
 * @internal
 */
export function syntheticUid(text: string, by: "email" | "username"): string | undefined {
  const match = (by === "email" ? SYNTHETIC_EMAIL : SYNTHETIC_USERNAME).exec(text);
  const digits = match?.[1];
  return digits === undefined ? undefined : uidKey(digits) === digits ? digits : undefined;
}

/**
 * The directory a pod was started with, indexed for lookups. Entries are checked when it is built: a bad field or a
 * uid, email (ignoring case) or username given twice throws a TypeError naming the entry by `label(index)` (the
 * command line makes it `file:line`) and, for a duplicate, the uid that had it first.
 *
 * @example
 * ```ts
 * const directory = new Directory([{ uid: 1, email: "a@example.com" }], (i) => `directory[${i}]`);
 * directory.byEmail("A@EXAMPLE.COM")?.uid; // "1"
 * ```
 * @internal
 */
export class Directory {
  readonly #byUid = new Map<string, SimulatorDirectoryUser>();
  readonly #byEmail = new Map<string, SimulatorDirectoryUser>();
  readonly #byUsername = new Map<string, SimulatorDirectoryUser>();

  constructor(entries: Iterable<SimulatorDirectoryEntry>, label: (index: number) => string) {
    let index = 0;
    for (const entry of entries) {
      const where = label(index++);
      const user = checkEntry(entry, where);
      if (this.#byUid.has(user.uid)) throw new TypeError(`${where}: uid ${user.uid} is given twice`);
      const email = user.email.toLowerCase();
      const sameEmail = this.#byEmail.get(email);
      if (sameEmail !== undefined) {
        throw new TypeError(`${where}: email ${JSON.stringify(user.email)} is already user ${sameEmail.uid}'s`);
      }
      const sameUsername = this.#byUsername.get(user.username);
      if (sameUsername !== undefined) {
        throw new TypeError(
          `${where}: username ${JSON.stringify(user.username)} is already user ${sameUsername.uid}'s`,
        );
      }
      this.#byUid.set(user.uid, user);
      this.#byEmail.set(email, user);
      this.#byUsername.set(user.username, user);
    }
  }

  get size(): number {
    return this.#byUid.size;
  }

  uids(): IterableIterator<string> {
    return this.#byUid.keys();
  }

  byUid(key: string): SimulatorDirectoryUser | undefined {
    return this.#byUid.get(key);
  }

  byEmail(email: string): SimulatorDirectoryUser | undefined {
    return this.#byEmail.get(email.toLowerCase());
  }

  byUsername(username: string): SimulatorDirectoryUser | undefined {
    return this.#byUsername.get(username);
  }
}

function checkEntry(entry: SimulatorDirectoryEntry, where: string): SimulatorDirectoryUser {
  if (entry === null || typeof entry !== "object") throw new TypeError(`${where}: expected an object`);
  const uid = uidKey(entry.uid);
  if (uid === undefined) {
    throw new TypeError(`${where}: uid must be a positive int64, got ${JSON.stringify(String(entry.uid))}`);
  }
  const { email, username, displayName, status } = entry;
  if (typeof email !== "string" || !EMAIL.test(email)) {
    throw new TypeError(`${where}: email must be an address (name@domain, no spaces or commas), got ${show(email)}`);
  }
  if (username !== undefined && (typeof username !== "string" || username === "" || username.includes(","))) {
    throw new TypeError(`${where}: username must be a non-empty text without commas, got ${show(username)}`);
  }
  if (displayName !== undefined && typeof displayName !== "string") {
    throw new TypeError(`${where}: displayName must be a text, got ${show(displayName)}`);
  }
  if (status !== undefined && !STATUSES.has(status)) {
    throw new TypeError(`${where}: status must be ENABLED or DISABLED, got ${show(status)}`);
  }
  return {
    uid,
    email,
    username: username ?? email,
    displayName: displayName ?? email.slice(0, email.indexOf("@")),
    status: status ?? "ENABLED",
  };
}

function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : String(value);
}

/**
 * Numeric order of canonical decimals (no leading zeros): shorter is smaller, equal lengths compare as text, so no
 * BigInt is made per comparison.
 *
 * @example
 * ```ts
 * ["10", "9", "100"].sort(compareUids); // ["9", "10", "100"]
 * ```
 * @internal
 */
export function compareUids(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
