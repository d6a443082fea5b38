/** Delegates: `delegates/update` and `delegates`, the ids kept as decimals so every digit of an int64 survives. */
import type { components } from "../../../generated/pod-api.js";
import { requestValidators } from "../../../generated/schemas.js";
import { type Handler, SUCCESS } from "../context.js";
import { uidKey } from "../ids.js";
import { readJsonExact } from "../json.js";

type Schemas = components["schemas"];

/** `POST /v1/admin/user/{uid}/delegates/update`: adds or removes one delegate, who must be a user. @internal */
export const updateDelegates: Handler = (pod, res, key, text) => {
  const body = pod.parse(res, text, requestValidators["post /v1/admin/user/{uid}/delegates/update"]) as
    | Schemas["DelegateAction"]
    | undefined;
  if (body === undefined) return;
  if (body.userId === undefined || body.action === undefined) {
    return pod.error(res, 400, "body: userId and action are required");
  }
  // JSON.parse rounds ids beyond 2^53: those are read again, exactly.
  const delegate = Number.isSafeInteger(body.userId)
    ? uidKey(body.userId)
    : uidKey((readJsonExact(text) as { userId?: unknown }).userId);
  if (delegate === undefined) return pod.error(res, 400, "body.userId must be a positive int64");
  if (!pod.store.isUser(delegate)) return pod.error(res, 400, `body.userId: user ${delegate} not found`);
  if (delegate === key) return pod.error(res, 400, "body.userId: a user cannot be their own delegate");
  const record = pod.store.record(key);
  record.delegates ??= new Set();
  if (body.action === "ADD") record.delegates.add(delegate);
  else record.delegates.delete(delegate);
  pod.wrote(res, SUCCESS);
};

/** `GET /v1/admin/user/{uid}/delegates`: the ids as bare JSON numbers, written from their decimals. @internal */
export const listDelegates: Handler = (pod, res, key) => {
  const delegates = pod.store.users.get(key)?.delegates;
  pod.send(res, 200, delegates === undefined ? "[]" : `[${[...delegates].join(",")}]`);
};
