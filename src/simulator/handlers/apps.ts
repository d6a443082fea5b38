/** App entitlements: replace (POST), patch (PATCH) and list (GET) of `app/entitlement/list`. */
import type { components } from "../../../generated/pod-api.js";
import { requestValidators } from "../../../generated/schemas.js";
import type { Handler, PodContext } from "../context.js";

type Schemas = components["schemas"];

/** `POST /v1/admin/user/{uid}/app/entitlement/list`: the user's apps become the list given. @internal */
export const replaceApps: Handler = (pod, res, key, text) => {
  const body = pod.parse(res, text, requestValidators["post /v1/admin/user/{uid}/app/entitlement/list"]) as
    | Schemas["UserAppEntitlementList"]
    | undefined;
  if (body === undefined) return;
  const record = pod.store.record(key);
  pod.store.replaceApps(record, body);
  pod.wrote(res, appsOf(pod, key));
};

/** `PATCH /v1/admin/user/{uid}/app/entitlement/list`: each app's settings changed as the patch says. @internal */
export const patchApps: Handler = (pod, res, key, text) => {
  const body = pod.parse(res, text, requestValidators["patch /v1/admin/user/{uid}/app/entitlement/list"]) as
    | Schemas["UserAppEntitlementsPatchList"]
    | undefined;
  if (body === undefined) return;
  pod.store.patchApps(pod.store.record(key), body);
  pod.wrote(res, appsOf(pod, key));
};

/** `GET /v1/admin/user/{uid}/app/entitlement/list`. @internal */
export const listApps: Handler = (pod, res, key) => {
  pod.send(res, 200, appsOf(pod, key));
};

function appsOf(pod: PodContext, key: string): string {
  return JSON.stringify(pod.store.appsOf(pod.store.users.get(key)));
}
