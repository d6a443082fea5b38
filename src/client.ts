import createClient, { type Client, createQuerySerializer, defaultPathSerializer } from "openapi-fetch";
import type { paths } from "../generated/pod-api.js";
import { type SessionTokenProvider, SessionTokens } from "./auth.js";
import { BulkAdmin } from "./bulk.js";
import { pipelineFetch, requestClass } from "./fetch-adapter.js";
import { loginLane, PodHttp } from "./http.js";
import { AdaptiveRateLimiter, type FlowControlStats, type RateLimitOptions } from "./rate-limiter.js";
import { checkTimeoutMs, DEFAULT_RETRY, type RetryOptions, resolveRetry } from "./retry.js";
import { type FetchLike, fetchTransport, type Transport, undiciTransport } from "./transport.js";
import { checkHttpUrl } from "./urls.js";
import { type CallDefaults, UserAdmin } from "./users.js";
import { stringifyJson } from "./wire.js";

/**
 * Options of {@link createPodClient}.
 *
 * @example
 * ```ts
 * const options: PodClientOptions = {
 *   baseUrl: "https://acme.symphony.com/pod",
 *   sessionToken: process.env.POD_SESSION_TOKEN ?? "",
 *   retry: { maxAttempts: 5 },
 *   timeoutMs: 30_000,
 * };
 * ```
 */
export interface PodClientOptions {
  /** The pod's `/pod` base URL, e.g. `https://acme.symphony.com/pod`. Required. */
  baseUrl: string;
  /**
   * The `sessionToken` header: a token, or a provider the client asks once and again after each 401.
   * Never logged, never part of an error.
   */
  sessionToken: string | SessionTokenProvider;
  /** Retry policy for 429, 5xx, network errors and timeouts. Default {@link DEFAULT_RETRY} (5 attempts in all). */
  retry?: RetryOptions;
  /** Time limit of one attempt, in milliseconds, headers and body included. Default 30,000. */
  timeoutMs?: number;
  /**
   * Flow control shared by every call of the client (facade, bulk, raw). Default `{}`: start unlimited, learn the
   * pod's limit from its 429 answers. `perSecond` starts at a known limit (calls per second); `max` caps the rate.
   * See {@link RateLimitOptions} and docs/errors-and-retries.md.
   */
  rateLimit?: RateLimitOptions;
  /**
   * A `fetch` to send requests with (a proxy, a test double). Default: undici's `request()` over a keep-alive
   * pool owned by the client, several times faster than `fetch` at bulk concurrency.
   */
  fetch?: FetchLike;
}

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

/** @internal */
export interface PodClientInternals {
  http: PodHttp;
  defaults: CallDefaults;
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
  const { baseUrl, http, defaults, transport } = createInternals(options);
  let middlewares = 0;
  const registered = () => middlewares > 0;
  // One openapi-fetch client runs every call, facade, bulk and raw: its middleware sees them all.
  const raw = createClient<PodPaths>({
    baseUrl,
    Request: requestClass(registered),
    fetch: pipelineFetch(http, baseUrl, defaults, registered),
    // int64 values given as bigint keep every digit in bodies.
    bodySerializer: stringifyJson,
    // openapi-fetch's own serializers, built once instead of for every call, and the uid filled in without a regex.
    querySerializer: DEFAULT_QUERY_SERIALIZER,
    pathSerializer: uidPathSerializer,
  });
  const { use, eject } = raw;
  raw.use = (...added) => {
    use(...added);
    middlewares += added.filter(Boolean).length;
  };
  raw.eject = (...removed) => {
    eject(...removed);
    middlewares = Math.max(0, middlewares - removed.filter(Boolean).length);
  };
  const users = new UserAdmin(raw, http, defaults);
  // Dry runs validate and build every request exactly as real ones do, and send nothing.
  const dryRunUsers = new UserAdmin(raw, http, defaults, true);
  const close = () => transport.close();
  const flowControl = (): FlowControlStats => ({
    admitted: http.limiter?.admitted ?? 0,
    refused: http.limiter?.refused ?? 0,
    ratePerSecond: http.limiter?.ratePerSecond,
  });
  const bulk = new BulkAdmin(users, dryRunUsers, http);
  return { users, bulk, raw, close, flowControl, [Symbol.asyncDispose]: close };
}

const DEFAULT_QUERY_SERIALIZER = createQuerySerializer();
const DECIMAL = /^\d+$/;
const UID = "{uid}";

/**
 * openapi-fetch's `defaultPathSerializer`, with a shortcut for the facade's paths: one `{uid}` given as a decimal
 * string, which that serializer would write unchanged (`encodeURIComponent` leaves digits as they are).
 */
function uidPathSerializer(url: string, params: Record<string, unknown>): string {
  const at = url.indexOf(UID);
  const uid = params.uid;
  if (at >= 0 && typeof uid === "string" && DECIMAL.test(uid) && url.indexOf("{", at + UID.length) < 0) {
    if (url.lastIndexOf("{", at - 1) < 0) return url.slice(0, at) + uid + url.slice(at + UID.length);
  }
  return defaultPathSerializer(url, params);
}

function createInternals(options: PodClientOptions) {
  if (options === null || typeof options !== "object") throw new TypeError("createPodClient needs an options object");
  const known = ["baseUrl", "sessionToken", "retry", "timeoutMs", "rateLimit", "fetch"];
  for (const key of Object.keys(options)) {
    if (!known.includes(key))
      throw new TypeError(`${key} is not an option of createPodClient; expected one of: ${known.join(", ")}`);
  }
  const baseUrl = checkBaseUrl(options.baseUrl);
  if (options.timeoutMs !== undefined && typeof options.timeoutMs !== "number") {
    throw new TypeError(`timeoutMs must be a number of milliseconds, got a ${typeof options.timeoutMs}`);
  }
  const timeoutMs = checkTimeoutMs(options.timeoutMs ?? 30_000, "timeoutMs");
  if (options.fetch !== undefined && typeof options.fetch !== "function")
    throw new TypeError("fetch must be a function");
  const transport: Transport = options.fetch ? fetchTransport(options.fetch) : undiciTransport();
  const defaults: CallDefaults = { retry: resolveRetry(DEFAULT_RETRY, options.retry, "retry"), timeoutMs };
  const tokens = new SessionTokens(options.sessionToken, Date.now, loginLane(transport, defaults));
  const limiter = new AdaptiveRateLimiter(checkRateLimit(options.rateLimit));
  return { baseUrl, http: new PodHttp(baseUrl, tokens, transport, limiter), defaults, transport };
}

function checkRateLimit(value: unknown): RateLimitOptions {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError("rateLimit must be an object such as { perSecond: 1000 }");
  }
  const options = value as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    if (key !== "perSecond" && key !== "max") {
      throw new TypeError(`rateLimit.${key} is not an option; expected perSecond or max`);
    }
    const rate = options[key];
    if (rate !== undefined && !(typeof rate === "number" && rate > 0 && Number.isFinite(rate))) {
      throw new RangeError(`rateLimit.${key} must be a number of calls per second > 0, got ${String(rate)}`);
    }
  }
  const { perSecond, max } = options as RateLimitOptions;
  if (perSecond !== undefined && max !== undefined && perSecond > max) {
    throw new RangeError(`rateLimit.perSecond (${perSecond}) must not exceed rateLimit.max (${max})`);
  }
  return { perSecond, max };
}

function checkBaseUrl(baseUrl: unknown): string {
  if (typeof baseUrl !== "string") throw new TypeError("baseUrl is required, e.g. https://acme.symphony.com/pod");
  const url = checkHttpUrl(baseUrl, "baseUrl");
  // The normalised form (default port, dot segments), so facade and raw calls agree on every path.
  return url.href.replace(/\/+$/, "");
}
