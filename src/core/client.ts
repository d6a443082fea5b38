import createClient, { type Client, createQuerySerializer, defaultPathSerializer } from "openapi-fetch";
import { DEFAULT_MAX_ANSWER_BYTES } from "./answer-body.js";
import { type SessionTokenProvider, SessionTokens } from "./auth.js";
import type { CallDefaults } from "./call-options.js";
import {
  type ClientCertificate,
  CONNECTION_OPTIONS,
  type ConnectionOptions,
  checkTransportSecurity,
  resolveConnection,
  withClientCertificate,
} from "./connection.js";
import { describeValueKind } from "./errors.js";
import { pipelineFetch, requestClass } from "./fetch-adapter.js";
import { loginLane, PodHttp } from "./http.js";
import { stringifyJson } from "./json.js";
import { createPodLog, type Logger, type LogLevel, type PodLog } from "./log.js";
import type { PodPaths } from "./paths.js";
import { AdaptiveRateLimiter, type RateLimiterChange, type RateLimitOptions } from "./rate-limiter.js";
import { checkTimeoutMs, DEFAULT_RETRY, type RetryOptions, resolveRetry } from "./retry.js";
import { type FetchLike, fetchTransport, type Transport, undiciTransport } from "./transport.js";
import { checkHttpUrl } from "./urls.js";

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
export interface PodClientOptions extends ConnectionOptions {
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
   * A `fetch` to send requests with (a test double, logging). Default: undici's `request()` over a keep-alive
   * pool owned by the client, several times faster than `fetch` at bulk concurrency. It is asked not to follow
   * redirects (`redirect: "manual"`), and every 3xx answer is refused. With it, `proxy`, `ca`, `tls` and
   * `dispatcher` are refused: they configure the client's own pool (use `dispatcher` for a pool of your own).
   */
  fetch?: FetchLike;
  /**
   * The largest answer the client reads, in bytes: received, and once inflated when the pod compressed it. Reading
   * stops as soon as an answer passes it, and the call fails with a {@link PodApiError} saying so, without retries.
   * Pod admin answers are far smaller (a page of 1,000 users is ~0.5 MB). Default {@link DEFAULT_MAX_ANSWER_BYTES},
   * 8 MiB; an integer from 1,024.
   *
   * @example
   * ```ts
   * const pod = createPodClient({ baseUrl, sessionToken, maxAnswerBytes: 32 * 1024 * 1024 }); // 32 MiB
   * ```
   */
  maxAnswerBytes?: number;
  /**
   * Where the client logs its events (requests and answers, retries, 429 holds, rate changes, breakers, logins,
   * session refreshes): any object with pino's `debug/info/warn/error(fields, message)`, `console` included. Default:
   * none, the client is silent. No event holds a token, key, password, JWT, proxy credential or query string; a
   * logger that throws does not fail the call. The events and their fields: {@link POD_LOG_EVENTS}.
   *
   * @example
   * ```ts
   * const pod = createPodClient({ baseUrl, sessionToken, logger: console, logLevel: "debug" });
   * ```
   */
  logger?: Logger;
  /** The lowest level logged: `"debug"`, `"info"`, `"warn"`, `"error"` or `"off"`. Default `"info"`. */
  logLevel?: LogLevel;
}

/**
 * The client's pipeline and the one openapi-fetch client that runs every call over it (facade, bulk and raw), so
 * its middleware sees them all. Knows no operation: the facade is built on it by api/client.ts.
 * @internal
 */
export interface Pipeline {
  raw: Client<PodPaths>;
  http: PodHttp;
  defaults: CallDefaults;
  close(): Promise<void>;
}

/** Checks the options and builds the {@link Pipeline}. @internal */
export function createPipeline(options: PodClientOptions): Pipeline {
  const { baseUrl, http, defaults, close } = createInternals(options);
  let middlewares = 0;
  const registered = () => middlewares > 0;
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
  return { raw, http, defaults, close };
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
  const known = [
    "baseUrl",
    "sessionToken",
    "retry",
    "timeoutMs",
    "rateLimit",
    "fetch",
    "maxAnswerBytes",
    "logger",
    "logLevel",
    ...CONNECTION_OPTIONS,
  ];
  for (const key of Object.keys(options)) {
    if (!known.includes(key))
      throw new TypeError(`${key} is not an option of createPodClient; expected one of: ${known.join(", ")}`);
  }
  const baseUrl = checkBaseUrl(options.baseUrl, options.insecureHttp === true);
  if (options.timeoutMs !== undefined && typeof options.timeoutMs !== "number") {
    throw new TypeError(`timeoutMs must be a number of milliseconds, got a ${typeof options.timeoutMs}`);
  }
  const timeoutMs = checkTimeoutMs(options.timeoutMs ?? 30_000, "timeoutMs");
  if (options.fetch !== undefined && typeof options.fetch !== "function")
    throw new TypeError("fetch must be a function");
  if (options.fetch) {
    for (const key of ["proxy", "ca", "tls", "dispatcher"] as const) {
      if (options[key] !== undefined) {
        throw new TypeError(`${key} cannot be used with fetch: it configures the client's own connections`);
      }
    }
  }
  const connection = resolveConnection(options);
  const transport: Transport = options.fetch ? fetchTransport(options.fetch) : undiciTransport(connection);
  const defaults: CallDefaults = { retry: resolveRetry(DEFAULT_RETRY, options.retry, "retry"), timeoutMs };
  // A certificate login gets connections of its own (the same proxy and CAs, plus its certificate), made on demand.
  const withCertificate = new Map<ClientCertificate, Transport>();
  const certificateTransport =
    options.fetch || connection.dispatcher
      ? undefined
      : (certificate: ClientCertificate) => {
          let lane = withCertificate.get(certificate);
          if (lane === undefined) {
            lane = undiciTransport(withClientCertificate(connection, certificate));
            withCertificate.set(certificate, lane);
          }
          return lane;
        };
  const maxAnswerBytes = checkMaxAnswerBytes(options.maxAnswerBytes);
  const log = createPodLog(options.logger, options.logLevel);
  const tokens = new SessionTokens(
    options.sessionToken,
    Date.now,
    loginLane(transport, defaults, certificateTransport, maxAnswerBytes, log),
  );
  const limiter = new AdaptiveRateLimiter(checkRateLimit(options.rateLimit));
  if (log !== undefined) limiter.onChange = logRateChange(log);
  const close = async () => {
    await Promise.all([transport.close(), ...[...withCertificate.values()].map((lane) => lane.close())]);
  };
  const http = new PodHttp(baseUrl, tokens, transport, limiter, { maxAnswerBytes, log });
  return { baseUrl, http, defaults, close };
}

/** The limiter's cuts and holds as log events; rates rounded, Infinity (the unlimited start) as null. */
function logRateChange(log: PodLog): (change: RateLimiterChange) => void {
  const rate = (value: number) => (Number.isFinite(value) ? Math.round(value) : null);
  return (change) => {
    if (change.kind === "resumed") {
      const ms = Math.round(change.heldMs);
      log.emit("rate.hold", { ms, why: "429" }, `sending held ${ms} ms after the pod answered 429`);
      return;
    }
    const from = rate(change.from);
    const to = rate(change.to);
    const text = `rate ${from === null ? "unlimited" : `${from}/s`} -> ${to}/s (the pod answered 429)`;
    log.emit("rate.change", { from, to, why: "429" }, text);
  };
}

function checkMaxAnswerBytes(value: unknown): number {
  if (value === undefined) return DEFAULT_MAX_ANSWER_BYTES;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1024) {
    const got = typeof value === "number" ? String(value) : describeValueKind(value);
    throw new RangeError(`maxAnswerBytes must be an integer number of bytes from 1024, got ${got}`);
  }
  return value;
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

function checkBaseUrl(baseUrl: unknown, insecureHttp: boolean): string {
  if (typeof baseUrl !== "string") throw new TypeError("baseUrl is required, e.g. https://acme.symphony.com/pod");
  const url = checkHttpUrl(baseUrl, "baseUrl");
  checkTransportSecurity(url, "baseUrl", insecureHttp);
  // The normalised form (default port, dot segments), so facade and raw calls agree on every path.
  return url.href.replace(/\/+$/, "");
}
