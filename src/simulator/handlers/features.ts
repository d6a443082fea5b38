/** Feature entitlements: `features/update`, `features` and the pod's list of feature names. */
import type { components } from "../../../generated/pod-api.js";
import { requestValidators } from "../../../generated/schemas.js";
import { type Handler, SUCCESS } from "../context.js";

type Schemas = components["schemas"];

/** `POST /v1/admin/user/{uid}/features/update`: merges the features given into the user's. @internal */
export const updateFeatures: Handler = (pod, res, key, text) => {
  const body = pod.parse(res, text, requestValidators["post /v1/admin/user/{uid}/features/update"]) as
    | Schemas["FeatureList"]
    | undefined;
  if (body === undefined) return;
  const known = pod.knownFeatures;
  for (let i = 0; i < body.length; i++) {
    const feature = body[i] as Schemas["Feature"];
    if (feature.entitlment === undefined || feature.enabled === undefined) {
      return pod.error(res, 400, `body[${i}]: entitlment and enabled are required`);
    }
    if (known !== undefined && !known.has(feature.entitlment)) {
      return pod.error(res, 400, `body[${i}].entitlment: unknown feature ${JSON.stringify(feature.entitlment)}`);
    }
  }
  const record = pod.store.record(key);
  record.features ??= new Map();
  for (const feature of body) record.features.set(feature.entitlment as string, feature.enabled as boolean);
  pod.wrote(res, SUCCESS);
};

/** `GET /v1/admin/user/{uid}/features`: the features ever set, in the order first set. @internal */
export const listFeatures: Handler = (pod, res, key) => {
  const features = pod.store.users.get(key)?.features;
  const list: Schemas["FeatureList"] = [];
  if (features) for (const [entitlment, enabled] of features) list.push({ entitlment, enabled });
  pod.send(res, 200, JSON.stringify(list));
};

/** `GET /v1/admin/system/features/list`: the pod's feature names (`availableFeatures`). @internal */
export const listAvailableFeatures: Handler = (pod, res) => {
  pod.send(res, 200, pod.availableFeatures);
};
