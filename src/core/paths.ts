import type { paths } from "../../generated/pod-api.js";

/**
 * The route table of {@link PodClient.raw}: every operation of the spec (`generated/pod-api.ts`, the `paths` type
 * openapi-typescript writes), with the `sessionToken` header taken out because the client adds it to every call.
 * Use it to type your own helpers over the raw client.
 *
 * @example
 * ```ts
 * import type { Client } from "openapi-fetch";
 * import type { PodPaths } from "symphony-pod-admin";
 *
 * async function featureNames(raw: Client<PodPaths>): Promise<string[]> {
 *   const { data } = await raw.GET("/v1/admin/system/features/list");
 *   return data ?? [];
 * }
 * console.log(await featureNames(pod.raw));
 * ```
 */
export type PodPaths = {
  [Path in keyof paths]: { [K in keyof paths[Path]]: WithoutSessionToken<paths[Path][K]> };
};
type WithoutSessionToken<O> = O extends { parameters: infer Params extends { header?: unknown } }
  ? Omit<O, "parameters"> & {
      parameters: Omit<Params, "header"> & { header?: Omit<NonNullable<Params["header"]>, "sessionToken"> };
    }
  : O;
