/**
 * The pod's users: found by email, username or uid (`GET /v3/users`, which the CLI uses to resolve its files) and
 * listed whole (`GET /v2/admin/user/list`, for `export --all`). Both read int64 ids exactly.
 */
import type { UserId } from "../core/ids.js";
import type { Schemas } from "./define.js";
import { exactIdsAnswer, type OperationKey } from "./wire.js";

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

/** One `GET /v3/users` call: which list, its values (at most 100), and the flags. @internal */
export interface UserLookupQuery {
  by: "email" | "username" | "uid";
  values: readonly string[];
  local: boolean;
  active?: boolean;
}

/** The table entries of this group. @internal */
export const userOperations = {
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
    read: (key: OperationKey) => exactIdsAnswer<Schemas["V2UserList"]>(key, { empty: { users: [] }, ids: lookupIds }),
    result: (wire: Schemas["V2UserList"]): PodUser[] => (wire.users ?? []).map(fromUserV2),
  },
  listUsers: {
    method: "get",
    path: "/v2/admin/user/list",
    request: (page: { skip: number; limit: number }) => ({ query: page }),
    read: (key: OperationKey) => exactIdsAnswer<Schemas["V2UserDetailList"]>(key, { ids: listIds }),
    result: (wire: Schemas["V2UserDetailList"]): PodUser[] => wire.map(fromUserDetail),
  },
} as const;

/** The ids of a `GET /v3/users` answer (already checked against its schema). */
function* lookupIds(answer: unknown): Iterable<[string, unknown]> {
  const users = (answer as { users?: { id?: unknown }[] }).users ?? [];
  for (const [i, user] of users.entries()) if (user.id !== undefined) yield [`/users/${i}/id`, user.id];
}

/** The ids of a `GET /v2/admin/user/list` page (already checked against its schema). */
function* listIds(answer: unknown): Iterable<[string, unknown]> {
  for (const [i, detail] of (answer as { userSystemInfo?: { id?: unknown } }[]).entries()) {
    const id = detail.userSystemInfo?.id;
    if (id !== undefined) yield [`/${i}/userSystemInfo/id`, id];
  }
}

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
