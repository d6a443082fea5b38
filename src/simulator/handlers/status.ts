/**
 * User status: `status/update` stores a user's status and suspension, `status` answers them. The status is the one
 * the directory lists (`GET /v2/admin/user/list`, `active` lookups of `GET /v3/users`): a user the directory marks
 * DISABLED reads as DISABLED until changed, and a change is seen by both views (PodStore.statusOf).
 */
import type { components } from "../../../generated/pod-api.js";
import { requestValidators } from "../../../generated/schemas.js";
import { type Handler, SUCCESS } from "../context.js";

type Schemas = components["schemas"];

/** `POST /v1/admin/user/{uid}/status/update`: the user's status becomes the body (fields not given are dropped). @internal */
export const updateStatus: Handler = (pod, res, key, text) => {
  const body = pod.parse(res, text, requestValidators["post /v1/admin/user/{uid}/status/update"]) as
    | Schemas["UserStatus"]
    | undefined;
  if (body === undefined) return;
  if (body.status === undefined) return pod.error(res, 400, "body.status is required");
  // int64 on the wire, but seconds: anything JSON.parse cannot hold exactly is no date.
  if (body.suspendedUntil !== undefined && !Number.isSafeInteger(body.suspendedUntil)) {
    return pod.error(res, 400, "body.suspendedUntil must be unix seconds, an integer below 2^53");
  }
  pod.store.setStatus(key, body);
  pod.wrote(res, SUCCESS);
};

/** `GET /v1/admin/user/{uid}/status`: as last stored; else `{"status":"ENABLED"}` or the directory's DISABLED. @internal */
export const getStatus: Handler = (pod, res, key) => {
  pod.send(res, 200, JSON.stringify(pod.store.statusOf(key)));
};
