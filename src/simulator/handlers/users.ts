/**
 * The directory's queries: `GET /v3/users` (find users by uid, email or username) and `GET /v2/admin/user/list` (page
 * through the pod's users). Ids are written as bare JSON numbers from their decimals, so every digit survives.
 */
import type { components } from "../../../generated/pod-api.js";
import type { Handler } from "../context.js";
import type { SimulatorDirectoryUser } from "../directory.js";
import { uidKey } from "../ids.js";

type Schemas = components["schemas"];

/** `GET /v3/users`: the search lists, of which a call gives exactly one. */
const LOOKUP_LISTS = ["uid", "email", "username"] as const;
const LOOKUP_MAX = 100;
const LIST_LIMIT_MAX = 1000;

/**
 * `GET /v3/users`: the users named by one comma-separated list, in the list's order, each once; 204 without a body
 * when none is found, as real pods answer. `local` is checked but changes nothing: every user here is local.
 * @internal
 */
export const findUsers: Handler = (pod, res, _key, _body, query) => {
  const params = new URLSearchParams(query);
  const given = LOOKUP_LISTS.filter((name) => params.has(name));
  if (given.length !== 1) {
    const message =
      given.length === 0
        ? "one of uid, email or username is required"
        : `only one of uid, email or username per call, got ${given.join(" and ")}`;
    return pod.error(res, 400, message);
  }
  const by = given[0] as (typeof LOOKUP_LISTS)[number];
  const values = params.getAll(by);
  if (values.length > 1) return pod.error(res, 400, `${by} must be given once, as one comma-separated list`);
  const items = (values[0] as string).split(",").filter((item) => item !== "");
  if (items.length === 0) return pod.error(res, 400, `${by} must list at least one value`);
  if (items.length > LOOKUP_MAX) {
    return pod.error(res, 400, `${by} lists ${items.length} values; at most ${LOOKUP_MAX} per call`);
  }
  const active = booleanParam(params, "active");
  const local = booleanParam(params, "local");
  if (active === null || local === null) {
    const name = active === null ? "active" : "local";
    return pod.error(res, 400, `${name} must be true or false, got ${JSON.stringify(params.get(name))}`);
  }
  const { store } = pod;
  const found = new Map<string, SimulatorDirectoryUser>();
  for (const item of items) {
    let user: SimulatorDirectoryUser | undefined;
    if (by === "uid") {
      const key = uidKey(item);
      if (key === undefined) {
        return pod.error(res, 400, `uid: ${JSON.stringify(item.slice(0, 40))} is not a positive int64`);
      }
      user = store.entry(key);
    } else user = by === "email" ? store.byEmail(item) : store.byUsername(item);
    if (user === undefined || (active !== undefined && active !== (user.status === "ENABLED"))) continue;
    found.set(user.uid, user);
  }
  if (found.size === 0) return pod.noContent(res);
  const users = Array.from(found.values(), (user) => {
    const fields: Schemas["UserV2"] = {
      emailAddress: user.email,
      displayName: user.displayName,
      username: user.username,
      accountType: "NORMAL",
    };
    return `{"id":${user.uid},${JSON.stringify(fields).slice(1)}`;
  });
  pod.send(res, 200, `{"users":[${users.join(",")}]}`);
};

/**
 * `GET /v2/admin/user/list`: a page of the pod's users in uid order, so consecutive pages neither skip nor repeat.
 * @internal
 */
export const listUsers: Handler = (pod, res, _key, _body, query) => {
  const params = new URLSearchParams(query);
  const skip = integerParam(params, "skip", 0);
  if (skip === undefined || skip < 0) {
    return pod.error(res, 400, `skip must be an integer ≥ 0, got ${JSON.stringify(params.get("skip"))}`);
  }
  const limit = integerParam(params, "limit", 100);
  if (limit === undefined || limit < 1 || limit > LIST_LIMIT_MAX) {
    const got = JSON.stringify(params.get("limit"));
    return pod.error(res, 400, `limit must be an integer from 1 to ${LIST_LIMIT_MAX}, got ${got}`);
  }
  const { store } = pod;
  const details = store
    .listed()
    .slice(skip, skip + limit)
    .map((key) => {
      const user = store.entry(key) as SimulatorDirectoryUser;
      const attributes: Schemas["V2UserAttributes"] = {
        emailAddress: user.email,
        userName: user.username,
        displayName: user.displayName,
        accountType: "NORMAL",
      };
      return `{"userAttributes":${JSON.stringify(attributes)},"userSystemInfo":{"id":${key},"status":"${user.status}"}}`;
    });
  pod.send(res, 200, `[${details.join(",")}]`);
};

/** A boolean query parameter: undefined when absent, null when neither `true` nor `false`. */
function booleanParam(params: URLSearchParams, name: string): boolean | undefined | null {
  const value = params.get(name);
  if (value === null) return undefined;
  return value === "true" ? true : value === "false" ? false : null;
}

/** A whole-number query parameter, `fallback` when absent; undefined when not a decimal integer. */
function integerParam(params: URLSearchParams, name: string, fallback: number): number | undefined {
  const value = params.get(name);
  if (value === null) return fallback;
  return /^-?\d{1,15}$/.test(value) ? Number(value) : undefined;
}
