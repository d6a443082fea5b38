/**
 * `createPodClient`: the pipeline of core/client.ts, with the facade (`users`) and the bulk helpers (`bulk`) built
 * from the operation table on top of it.
 */
import type { Client } from "openapi-fetch";
import { createPipeline, type PodClientOptions } from "../core/client.js";
import type { PodPaths } from "../core/paths.js";
import type { FlowControlStats } from "../core/rate-limiter.js";
import { BulkAdmin } from "./bulk.js";
import { OperationCaller } from "./call.js";
import { UserAdmin } from "./users.js";

/**
 * A client for one pod. `users` holds the friendly per-user methods; `raw` is the typed openapi-fetch client over
 * the same pipeline (token, retries, timeouts), for any operation in the spec.
 *
 * @example
 * ```ts
 * const pod: PodClient = createPodClient({ baseUrl: "https://acme.symphony.com/pod", sessionToken: token });
 * await pod.users.addDelegate(7215545057281n, 7215545057282n);
 * await pod.bulk.updateFeatures(uids.map((uid) => ({ uid, features: [{ entitlement: "sendFilesEnabled", enabled: true }] })));
 * const { data } = await pod.raw.GET("/v1/admin/system/features/list");
 * ```
 */
export interface PodClient {
  /** Per-user methods: features, delegates, app entitlements. */
  readonly users: UserAdmin;
  /** The same operations over many users: bounded concurrency, streamed input, one outcome per item. */
  readonly bulk: BulkAdmin;
  /**
   * The typed openapi-fetch client that runs every call of this client, `users` and `bulk` included; the
   * `sessionToken` is added for you. Answers are returned, not thrown. Middleware registered with `raw.use()` sees
   * every call, under its spec path (see docs/errors-and-retries.md, "Middleware").
   */
  readonly raw: Client<PodPaths>;
  /**
   * Closes the client's connection pool once calls in flight finish; later calls fail. Also `await using pod = …`.
   *
   * @example
   * ```ts
   * const pod = createPodClient({ baseUrl, sessionToken });
   * try {
   *   await pod.users.listFeatures(7215545057281n);
   * } finally {
   *   await pod.close();
   * }
   * ```
   */
  close(): Promise<void>;
  /**
   * A snapshot of the client's flow control: answers admitted and answered 429 since the client was made, and the
   * send rate now (see {@link FlowControlStats}). The differences between two snapshots describe what came between.
   *
   * @example
   * ```ts
   * const { admitted, refused, ratePerSecond } = pod.flowControl();
   * console.log(`429: ${refused} of ${admitted + refused}; pace ${ratePerSecond ?? "unlimited"}`);
   * ```
   */
  flowControl(): FlowControlStats;
  /** The same as {@link PodClient.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates a client for one pod. Nothing is sent until a method is called.
 *
 * @example
 * ```ts
 * import { createPodClient } from "symphony-pod-admin";
 *
 * const pod = createPodClient({
 *   baseUrl: "https://acme.symphony.com/pod",
 *   sessionToken: process.env.POD_SESSION_TOKEN ?? "",
 * });
 * await pod.users.updateFeatures(7215545057281n, [{ entitlement: "canCreatePublicRoom", enabled: true }]);
 * ```
 * @throws TypeError or RangeError for invalid options, naming the option.
 */
export function createPodClient(options: PodClientOptions): PodClient {
  const { raw, http, defaults, close } = createPipeline(options);
  const users = new UserAdmin(new OperationCaller(raw, http, defaults));
  // Dry runs validate and build every request exactly as real ones do, and send nothing.
  const dryRunUsers = new UserAdmin(new OperationCaller(raw, http, defaults, true));
  const flowControl = (): FlowControlStats => ({
    admitted: http.limiter?.admitted ?? 0,
    refused: http.limiter?.refused ?? 0,
    ratePerSecond: http.limiter?.ratePerSecond,
  });
  const bulk = new BulkAdmin(users, dryRunUsers, http);
  return { users, bulk, raw, close, flowControl, [Symbol.asyncDispose]: close };
}
