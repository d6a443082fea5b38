import { createServer, type IncomingMessage, type Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { components } from "../../generated/pod-api.js";
import {
  validateDelegateAction,
  validateFeatureList,
  validateUserAppEntitlementList,
  validateUserAppEntitlementsPatchList,
} from "../../generated/schemas.js";
import { canonicalUserId, type UserId } from "../ids.js";
import { mayHoldUnsafeInteger, parseJsonLossless } from "../json.js";
import { type AjvError, type CompiledValidator, describeSchemaError } from "../wire.js";
import type { SimulatorDirectoryEntry, SimulatorDirectoryUser } from "./directory.js";
import { Fault, FaultPlan, type SimulatorFaults } from "./faults.js";
import { RateLimiter, sendJson } from "./ratelimit.js";
import { PodStore, SimulatedPodState, type SimulatorAppDefaults, type UserRecord } from "./state.js";
import { type LoginCheck, loginCheck, SessionRegistry, type SimulatorLoginOptions } from "./tokens.js";

type Schemas = components["schemas"];

/**
 * The feature names `GET /v1/admin/system/features/list` answers when `availableFeatures` is not given: the usual
 * Symphony user entitlements.
 *
 * @example
 * ```ts
 * const pod = await startSimulatedPod({ availableFeatures: [...DEFAULT_AVAILABLE_FEATURES, "myCustomFeature"] });
 * ```
 */
export const DEFAULT_AVAILABLE_FEATURES: readonly string[] = Object.freeze([
  "postReadEnabled",
  "postWriteEnabled",
  "delegatesEnabled",
  "isExternalIMEnabled",
  "canShareFilesExternally",
  "canCreatePublicRoom",
  "canUpdateAvatar",
  "isExternalRoomEnabled",
  "canCreatePushedSignals",
  "canUseCompactMode",
  "mustBeRecorded",
  "sendFilesEnabled",
  "canUseInternalAudio",
  "canUseInternalVideo",
  "canProjectInternalScreenShare",
  "canViewInternalScreenShare",
  "canCreateMultiLateralRoom",
  "canJoinMultiLateralRoom",
  "canUseFirehose",
  "canUseInternalAudioMobile",
  "canUseInternalVideoMobile",
  "canProjectInternalScreenShareMobile",
  "canViewInternalScreenShareMobile",
  "canManageSignalSubscription",
]);

/**
 * The session token a simulated pod accepts when none is given.
 *
 * @example
 * ```ts
 * const client = createPodClient({ baseUrl: pod.url, sessionToken: DEFAULT_SIMULATOR_TOKEN });
 * ```
 */
export const DEFAULT_SIMULATOR_TOKEN = "simulated-session-token";

/**
 * Options of {@link startSimulatedPod}. All are optional.
 *
 * @example
 * ```ts
 * const options: SimulatedPodOptions = {
 *   port: 8443,
 *   sessionToken: "dev-token",
 *   users: [7215545057281n, 7215545057282n],
 *   expireTokenAfterRequests: 10_000,
 *   faults: { rateLimit: 0.1, serverError: 0.05, dropConnection: 0.01, seed: 7 },
 * };
 * ```
 */
export interface SimulatedPodOptions {
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to listen on. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** The session token accepted at start. Default {@link DEFAULT_SIMULATOR_TOKEN}. */
  sessionToken?: string;
  /**
   * Each session token serves this many requests, then is refused with 401. A new token comes from
   * {@link SimulatedPod.currentToken}, {@link SimulatedPod.rotateToken} or the login endpoint. Default: no expiry.
   */
  expireTokenAfterRequests?: number;
  /**
   * The pod's users. When given, other uids get 404 (and 400 as a delegate). Each has the synthetic directory entry
   * (email `user.<uid>@example.com`, username `user.<uid>`, display name `User <uid>`) for `GET /v3/users` and
   * `GET /v2/admin/user/list`. Not with `directory`. Default: every int64 uid is a user.
   */
  users?: Iterable<UserId>;
  /**
   * The pod's users with their directory entries: what `GET /v3/users` finds by uid, email (ignoring case) or
   * username, and `GET /v2/admin/user/list` lists in uid order. Other uids get 404, as with `users`; giving both
   * `users` and `directory` is refused (TypeError), so each user's entry has one source. An entry with a bad field,
   * or a uid, email or username of an earlier entry, is refused at start (TypeError naming `directory[i]`).
   *
   * Without a directory, users have synthetic entries: email `user.<uid>@example.com`, username `user.<uid>`,
   * display name `User <uid>`. In the default mode (no `users` either) a lookup of such an email or username finds
   * that uid, so a demo can look users up by email without seeding any; and the user list, since every uid is a
   * user, lists the users the pod holds state for.
   *
   * @example
   * ```ts
   * const pod = await startSimulatedPod({
   *   directory: [
   *     { uid: 7215545057281n, email: "ada@example.com", username: "ada", displayName: "Ada Lovelace" },
   *     { uid: 7215545057282n, email: "bob@example.com", status: "DISABLED" },
   *   ],
   * });
   * ```
   */
  directory?: Iterable<SimulatorDirectoryEntry>;
  /**
   * The answer of `GET /v1/admin/system/features/list`. Default: the usual Symphony user entitlements
   * (`postReadEnabled`, `canCreatePublicRoom`, `isExternalIMEnabled`, `sendFilesEnabled` and 20 more).
   */
  availableFeatures?: readonly string[];
  /** Refuse (400) a `features/update` naming a feature not in `availableFeatures`. Default `false`. */
  strictFeatures?: boolean;
  /** Pod-level app settings, used where a user has none. Default `{ listed: true, install: false }`. */
  appDefaults?: SimulatorAppDefaults;
  /** Seeded fault injection on the user-admin routes. Default: none. */
  faults?: SimulatorFaults;
  /**
   * Rate limiting like a real pod's: at most `perSecond` user-admin calls a second, counted per pod (every token and
   * connection together); the calls over the limit are answered 429 with a whole-second `Retry-After` and the usual
   * Error body. It applies to the routes under `/pod` (the same ones as `faults`); the login endpoint, unknown
   * routes and `GET /__simulator/stats` are not counted, since Symphony's session-auth service is a separate host
   * with limits of its own. The limiter decides first: a refused call is answered at once, draws no fault, uses
   * none of its token's requests and changes nothing. Independent of `faults.rateLimit`, which refuses a random
   * share. Default: no limit.
   *
   * @example
   * ```ts
   * const pod = await startSimulatedPod({ rateLimit: { perSecond: 1500, windowMs: 100 } }); // 150 calls per 100 ms
   * ```
   */
  rateLimit?: {
    /** Calls admitted per second, a number > 0. */
    perSecond: number;
    /**
     * The window, in whole milliseconds. Fixed windows: each admits `perSecond × windowMs / 1000` calls, which must
     * be a whole number ≥ 1. Token bucket: the bucket holds that many calls (at least 1). Default 1000.
     */
    windowMs?: number;
    /**
     * `"fixed-window"` (the default): windows aligned to the clock (`Math.floor(now / windowMs)`); a refused call's
     * `Retry-After` is the seconds until its window ends, rounded up, at least 1. `"token-bucket"`: full at start,
     * refilled continuously at `perSecond`; a refused call's `Retry-After` is the seconds until one call's worth is
     * back, rounded up, at least 1.
     */
    algorithm?: "fixed-window" | "token-bucket";
    /**
     * Changes of the limit during a run, as Symphony's throttling adapts to load: each sets `perSecond` once
     * `afterSeconds` have passed since the first call the limiter counted (fixed windows: the new limit × `windowMs`
     * / 1000 must be whole too). Default: none, the limit stays.
     *
     * @example
     * ```ts
     * // 1,000/s, then 300/s from 10 s to 20 s into the run, then 1,000/s again.
     * const rateLimit = { perSecond: 1000, windowMs: 100, changes: [{ afterSeconds: 10, perSecond: 300 }, { afterSeconds: 20, perSecond: 1000 }] };
     * ```
     */
    changes?: readonly {
      /** Seconds after the limiter's first call, ≥ 0, each later than the one before. */
      afterSeconds: number;
      /** The new limit, in calls per second. */
      perSecond: number;
    }[];
    /** The limiter's clock, in milliseconds; tests pass their own. Default `Date.now`. */
    now?: () => number;
  };
  /** How `POST /login/pubkey/authenticate` checks JWTs. Default: any well-formed JWT is accepted. */
  login?: SimulatorLoginOptions;
  /** Largest request body accepted, in bytes; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number;
}

/**
 * Counters of a simulated pod since start (or the last {@link SimulatedPod.resetStats}).
 *
 * @example
 * ```ts
 * const { requests, byStatus, faults } = pod.stats();
 * console.log(`${requests} requests, ${byStatus[429] ?? 0} rate limited, ${faults.dropped} dropped`);
 * ```
 */
export interface SimulatorStats {
  /** Every request received, login and unknown routes included. */
  requests: number;
  /** Answers by HTTP status; dropped connections have none. */
  byStatus: Record<number, number>;
  /** Calls counted by the rate limiter (`rateLimit`); both 0 without one. Its 429s are in `byStatus` too. */
  rateLimiter: {
    /** Calls the limiter let through. */
    admitted: number;
    /** Calls the limiter answered 429. */
    refused: number;
  };
  /** Faults injected. */
  faults: {
    /** Requests answered 429 by fault injection (the random `faults.rateLimit`, not the rate limiter). */
    rateLimited: number;
    /** Requests answered 503 by fault injection. */
    serverErrors: number;
    /** Connections dropped without an answer. */
    dropped: number;
    /** Requests held back by the simulated latency (`latencyMs`). */
    delayed: number;
  };
  /** Writes applied to the state (200 answers of the four write operations). */
  writes: number;
  /**
   * Answers by operation of the Pod API, keyed `"<METHOD> <spec path>"` (`"GET /v3/users"`,
   * `"POST /v1/admin/user/{uid}/features/update"`): every operation of the spec is a key, 0 when never called.
   * Counts every answer, whatever its status (rate-limiter and fault 429s, 503s, 401s, 400s and 404s included), but
   * not dropped connections, login, 405s or unknown routes. Made for checks such as "no write was sent" or "the
   * lookups took at most ⌈users / 100⌉ calls".
   *
   * @example
   * ```ts
   * expect(pod.stats().byOperation["POST /v1/admin/user/{uid}/features/update"]).toBe(0);
   * ```
   */
  byOperation: Record<string, number>;
  /** Session tokens that ran out of requests or were expired by hand. */
  tokenExpiries: number;
  /** Successful logins. */
  logins: number;
}

/**
 * A running simulated pod. See {@link startSimulatedPod}.
 *
 * @example
 * ```ts
 * const pod: SimulatedPod = await startSimulatedPod();
 * const client = createPodClient({ baseUrl: pod.url, sessionToken: () => pod.currentToken() });
 * await client.users.addDelegate(1, 2);
 * await pod.close();
 * ```
 */
export interface SimulatedPod {
  /** The `/pod` base URL, e.g. `http://127.0.0.1:53127/pod`: the client's `baseUrl`. */
  readonly url: string;
  /** The server's origin, e.g. `http://127.0.0.1:53127`, where the login endpoint is. */
  readonly origin: string;
  /** The port listened on. */
  readonly port: number;
  /** The in-memory state, read and seeded directly (no HTTP, no token, no faults). */
  readonly state: SimulatedPodState;
  /** A snapshot of the counters; from another process, `GET /__simulator/stats` answers the same as JSON. */
  stats(): SimulatorStats;
  /** Sets every counter back to zero. */
  resetStats(): void;
  /**
   * The newest valid session token. When it has expired, a new one is issued first, as a login would: a client's
   * token provider can be `() => pod.currentToken()`.
   */
  currentToken(): string;
  /** Invalidates every token and makes `token` (or a new random one) the only valid one; returns it. */
  rotateToken(token?: string): string;
  /** Makes every valid token expire now (401 from the next request on), without issuing a new one. */
  expireTokens(): void;
  /** Replaces the fault settings (and restarts the PRNG from their seed); `undefined` switches faults off. */
  setFaults(faults: SimulatorFaults | undefined): void;
  /**
   * Replaces the rate limit with a fresh one (full budget); `undefined` switches it off. The limiter's counters in
   * {@link SimulatedPod.stats} start again from zero.
   */
  setRateLimit(rateLimit: SimulatedPodOptions["rateLimit"]): void;
  /** Stops listening and closes every connection, idle keep-alive ones included. */
  close(): Promise<void>;
}

const POD = "/pod";
const USER_PREFIX = "/pod/v1/admin/user/";
const LOGIN = "/login/pubkey/authenticate";
const STATS = "/__simulator/stats";
const TIMELINE = "/__simulator/timeline";
const SUCCESS = JSON.stringify({ format: "TEXT", message: "OK" } satisfies Schemas["SuccessResponse"]);
const JSON_TYPE = "application/json";

/** `query`: the text after `?` (empty when none), for the operations that take query parameters. */
type Handler = (pod: PodServer, res: PodResponse, key: string, body: string, query: string) => void;
type Method = "GET" | "POST" | "PATCH";

/** An operation of the spec: its handler and its slot in the per-operation counters. */
interface Operation {
  /** `"<METHOD> <spec path>"`, the key of {@link SimulatorStats.byOperation}. */
  name: string;
  index: number;
  handler: Handler;
  /** Whether it reads a request body. */
  write: boolean;
}

interface Route {
  allow: string;
  GET?: Operation;
  POST?: Operation;
  PATCH?: Operation;
}

const OPERATIONS: Operation[] = [];

/** A route of the spec's `path`: each method's operation gets its counter slot, in the order of the tables below. */
function route(path: string, handlers: Partial<Record<Method, Handler>>): Route {
  const methods = Object.keys(handlers) as Method[];
  const entry: Route = { allow: methods.join(", ") };
  for (const method of methods) {
    const operation = {
      name: `${method} ${path}`,
      index: OPERATIONS.length,
      handler: handlers[method] as Handler,
      write: method !== "GET",
    };
    OPERATIONS.push(operation);
    entry[method] = operation;
  }
  return entry;
}

/** The part of the path after `/pod/v1/admin/user/{uid}/` → its operations. */
const USER_ROUTES = new Map<string, Route>(
  (
    [
      ["features/update", { POST: (p, res, key, body) => p.updateFeatures(res, key, body) }],
      ["features", { GET: (p, res, key) => p.listFeatures(res, key) }],
      ["delegates/update", { POST: (p, res, key, body) => p.updateDelegates(res, key, body) }],
      ["delegates", { GET: (p, res, key) => p.listDelegates(res, key) }],
      [
        "app/entitlement/list",
        {
          GET: (p, res, key) => p.listApps(res, key),
          POST: (p, res, key, body) => p.replaceApps(res, key, body),
          PATCH: (p, res, key, body) => p.patchApps(res, key, body),
        },
      ],
    ] satisfies [string, Partial<Record<Method, Handler>>][]
  ).map(([tail, handlers]) => [tail, route(`/v1/admin/user/{uid}/${tail}`, handlers)]),
);

/** The operations without a uid in the path: the path after `/pod` → its operations. */
const POD_ROUTES = new Map<string, Route>(
  (
    [
      ["/v1/admin/system/features/list", { GET: (p, res) => p.listAvailableFeatures(res) }],
      ["/v3/users", { GET: (p, res, _key, _body, query) => p.lookUpUsers(res, query) }],
      ["/v2/admin/user/list", { GET: (p, res, _key, _body, query) => p.listUsers(res, query) }],
    ] satisfies [string, Partial<Record<Method, Handler>>][]
  ).map(([path, handlers]) => [POD + path, route(path, handlers)]),
);

/**
 * The server's answers, with the operation being answered: set once a request is routed, so every answer (a fault,
 * a 401, a 400 from the handler) counts for it without passing it through every call. A class field, not a
 * property added later, so answers keep one shape and nothing is allocated for it.
 */
class PodResponse extends ServerResponse<IncomingMessage> {
  operation = -1;
}

/** `GET /v3/users`: the search lists, of which a call gives exactly one. */
const LOOKUP_LISTS = ["uid", "email", "username"] as const;
const LOOKUP_MAX = 100;
const LIST_LIMIT_MAX = 1000;

/** The server's request handling; one per simulated pod. @internal */
class PodServer {
  readonly store: PodStore;
  readonly state: SimulatedPodState;
  readonly tokens: SessionRegistry;
  faults: FaultPlan;
  limiter: RateLimiter | undefined;
  readonly #features: string;
  readonly #known: Set<string> | undefined;
  readonly #login: LoginCheck;
  readonly #maxBody: number;
  // Counters as plain fields and a typed array: nothing allocated per request.
  readonly byStatus = new Uint32Array(600);
  readonly byOperation = new Uint32Array(OPERATIONS.length);
  requests = 0;
  writes = 0;
  logins = 0;
  rateLimited = 0;
  serverErrors = 0;
  dropped = 0;
  delayed = 0;

  constructor(options: SimulatedPodOptions) {
    const features = options.availableFeatures ?? DEFAULT_AVAILABLE_FEATURES;
    if (!Array.isArray(features) || features.some((name) => typeof name !== "string")) {
      throw new TypeError("availableFeatures must be an array of feature names");
    }
    const maxBody = options.maxBodyBytes ?? 1024 * 1024;
    if (!(Number.isInteger(maxBody) && maxBody > 0)) {
      throw new RangeError(`maxBodyBytes must be an integer > 0, got ${String(options.maxBodyBytes)}`);
    }
    this.store = new PodStore(options.users, options.appDefaults, options.directory);
    this.state = new SimulatedPodState(this.store);
    this.tokens = new SessionRegistry(
      options.sessionToken ?? DEFAULT_SIMULATOR_TOKEN,
      options.expireTokenAfterRequests,
    );
    this.faults = new FaultPlan(options.faults);
    this.limiter = options.rateLimit === undefined ? undefined : new RateLimiter(options.rateLimit);
    this.#features = JSON.stringify(features);
    this.#known = options.strictFeatures ? new Set(features) : undefined;
    this.#login = loginCheck(options.login);
    this.#maxBody = maxBody;
  }

  handle(req: IncomingMessage, res: PodResponse) {
    const url = req.url ?? "/";
    const mark = url.indexOf("?");
    const path = mark === -1 ? url : url.slice(0, mark);
    const query = mark === -1 ? "" : url.slice(mark + 1);
    // The simulator's own route, for benchmarks in another process: not part of the Pod API, counted nowhere.
    if (path === STATS && req.method === "GET") return this.sendStats(res);
    if (path === TIMELINE && req.method === "GET") return sendJson(res, this.limiter?.timeline.toJSON() ?? null);
    this.requests++;
    if (path.startsWith(USER_PREFIX)) {
      const slash = path.indexOf("/", USER_PREFIX.length);
      const route = slash === -1 ? undefined : USER_ROUTES.get(path.slice(slash + 1));
      if (route === undefined) return this.notFound(res, path);
      const operation = route[req.method as Method];
      if (operation === undefined) return this.notAllowed(res, route.allow);
      return this.podRequest(req, res, operation, path.slice(USER_PREFIX.length, slash), query);
    }
    const route = POD_ROUTES.get(path);
    if (route !== undefined) {
      const operation = route[req.method as Method];
      if (operation === undefined) return this.notAllowed(res, route.allow);
      return this.podRequest(req, res, operation, undefined, query);
    }
    if (path === LOGIN) {
      if (req.method !== "POST") return this.notAllowed(res, "POST");
      return this.readBody(req, res, (body) => {
        this.login(res, body).catch((error: Error) => {
          if (!res.headersSent) this.error(res, 500, `simulator error: ${error.message}`);
        });
      });
    }
    this.notFound(res, path);
  }

  /** A user-admin request: the rate limit, faults, then the session token, the uid, the body, the operation. */
  podRequest(req: IncomingMessage, res: PodResponse, operation: Operation, uid: string | undefined, query: string) {
    res.operation = operation.index;
    if (this.limiter !== undefined) {
      const retryAfter = this.limiter.take();
      if (retryAfter > 0) {
        // The body is not needed: answered at once, the connection stays usable (Node discards the unread body).
        return this.error(res, 429, "rate limit exceeded, retry later", ["retry-after", String(retryAfter)]);
      }
    }
    let fault: Fault = Fault.None;
    let delay = 0;
    if (this.faults.active) {
      // Drawn on arrival, so the sequence depends only on the seed and the order of requests.
      fault = this.faults.next();
      delay = this.faults.latency();
    }
    if (fault === Fault.Drop) {
      this.dropped++;
      req.socket.destroy();
      return;
    }
    const proceed = () => {
      if (fault === Fault.RateLimit) {
        this.rateLimited++;
        return this.error(res, 429, "rate limit exceeded, retry later", ["retry-after", this.faults.retryAfter]);
      }
      if (fault === Fault.ServerError) {
        this.serverErrors++;
        return this.error(res, 503, "service unavailable (simulated)");
      }
      const refusal = this.tokens.use(req.headers.sessiontoken as string | undefined);
      if (refusal !== undefined) {
        const why = refusal === "missing" ? "missing sessionToken header" : `invalid session token (${refusal})`;
        return this.error(res, 401, why);
      }
      let key = "";
      if (uid !== undefined) {
        const parsed = canonicalUserId(uid);
        if (parsed === undefined) {
          return this.error(res, 400, `uid must be a positive int64, got ${JSON.stringify(uid.slice(0, 40))}`);
        }
        if (!this.store.isUser(parsed)) return this.error(res, 404, `user ${parsed} not found`);
        key = parsed;
      }
      const { handler } = operation;
      if (operation.write) this.readBody(req, res, (body) => this.run(handler, res, key, body, query));
      else this.run(handler, res, key, "", query);
    };
    if (delay > 0) {
      this.delayed++;
      setTimeout(proceed, delay);
    } else proceed();
  }

  run(handler: Handler, res: PodResponse, key: string, body: string, query: string) {
    try {
      handler(this, res, key, body, query);
    } catch (error) {
      // A bug here must answer, not hang the client.
      if (!res.headersSent) this.error(res, 500, `simulator error: ${(error as Error).message}`);
    }
  }

  readBody(req: IncomingMessage, res: ServerResponse, done: (body: string) => void) {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= this.#maxBody) chunks.push(chunk);
    });
    req.on("end", () => {
      if (size > this.#maxBody) return this.error(res, 413, `request body larger than ${this.#maxBody} bytes`);
      done(chunks.length === 1 ? (chunks[0] as Buffer).toString() : Buffer.concat(chunks).toString());
    });
  }

  // --- operations ------------------------------------------------------------------------------------------------

  updateFeatures(res: ServerResponse, key: string, text: string) {
    const body = this.parse(res, text, validateFeatureList) as Schemas["FeatureList"] | undefined;
    if (body === undefined) return;
    for (let i = 0; i < body.length; i++) {
      const feature = body[i] as Schemas["Feature"];
      if (feature.entitlment === undefined || feature.enabled === undefined) {
        return this.error(res, 400, `body[${i}]: entitlment and enabled are required`);
      }
      if (this.#known !== undefined && !this.#known.has(feature.entitlment)) {
        return this.error(res, 400, `body[${i}].entitlment: unknown feature ${JSON.stringify(feature.entitlment)}`);
      }
    }
    const record = this.store.record(key);
    record.features ??= new Map();
    for (const feature of body) record.features.set(feature.entitlment as string, feature.enabled as boolean);
    this.wrote(res, SUCCESS);
  }

  listAvailableFeatures(res: ServerResponse) {
    this.send(res, 200, this.#features);
  }

  listFeatures(res: ServerResponse, key: string) {
    const features = this.store.users.get(key)?.features;
    const list: Schemas["FeatureList"] = [];
    if (features) for (const [entitlment, enabled] of features) list.push({ entitlment, enabled });
    this.send(res, 200, JSON.stringify(list));
  }

  updateDelegates(res: ServerResponse, key: string, text: string) {
    const body = this.parse(res, text, validateDelegateAction) as Schemas["DelegateAction"] | undefined;
    if (body === undefined) return;
    if (body.userId === undefined || body.action === undefined) {
      return this.error(res, 400, "body: userId and action are required");
    }
    let delegate: string | undefined;
    if (Number.isSafeInteger(body.userId)) delegate = canonicalUserId(body.userId);
    else if (mayHoldUnsafeInteger(text)) {
      delegate = canonicalUserId((parseJsonLossless(text) as { userId?: unknown }).userId);
    }
    if (delegate === undefined) return this.error(res, 400, "body.userId must be a positive int64");
    if (!this.store.isUser(delegate)) return this.error(res, 400, `body.userId: user ${delegate} not found`);
    if (delegate === key) return this.error(res, 400, "body.userId: a user cannot be their own delegate");
    const record = this.store.record(key);
    record.delegates ??= new Set();
    if (body.action === "ADD") record.delegates.add(delegate);
    else record.delegates.delete(delegate);
    this.wrote(res, SUCCESS);
  }

  listDelegates(res: ServerResponse, key: string) {
    // Ids are kept as decimal strings and written as bare JSON numbers: every digit of an int64 survives.
    const delegates = this.store.users.get(key)?.delegates;
    this.send(res, 200, delegates === undefined ? "[]" : `[${[...delegates].join(",")}]`);
  }

  replaceApps(res: ServerResponse, key: string, text: string) {
    const body = this.parse(res, text, validateUserAppEntitlementList) as Schemas["UserAppEntitlementList"] | undefined;
    if (body === undefined) return;
    const record = this.store.record(key);
    this.store.replaceApps(record, body);
    this.wroteApps(res, record);
  }

  patchApps(res: ServerResponse, key: string, text: string) {
    const validator = validateUserAppEntitlementsPatchList;
    const body = this.parse(res, text, validator) as Schemas["UserAppEntitlementsPatchList"] | undefined;
    if (body === undefined) return;
    const record = this.store.record(key);
    this.store.patchApps(record, body);
    this.wroteApps(res, record);
  }

  listApps(res: ServerResponse, key: string) {
    this.send(res, 200, JSON.stringify(this.store.appsOf(this.store.users.get(key))));
  }

  /**
   * `GET /v3/users`: the users named by one comma-separated list, in the list's order, each once; 204 without a body
   * when none is found, as real pods answer. `local` is checked but changes nothing: every user here is local.
   */
  lookUpUsers(res: ServerResponse, query: string) {
    const params = new URLSearchParams(query);
    const given = LOOKUP_LISTS.filter((name) => params.has(name));
    if (given.length !== 1) {
      const message =
        given.length === 0
          ? "one of uid, email or username is required"
          : `only one of uid, email or username per call, got ${given.join(" and ")}`;
      return this.error(res, 400, message);
    }
    const by = given[0] as (typeof LOOKUP_LISTS)[number];
    const values = params.getAll(by);
    if (values.length > 1) return this.error(res, 400, `${by} must be given once, as one comma-separated list`);
    const items = (values[0] as string).split(",").filter((item) => item !== "");
    if (items.length === 0) return this.error(res, 400, `${by} must list at least one value`);
    if (items.length > LOOKUP_MAX) {
      return this.error(res, 400, `${by} lists ${items.length} values; at most ${LOOKUP_MAX} per call`);
    }
    const active = booleanParam(params, "active");
    const local = booleanParam(params, "local");
    if (active === null || local === null) {
      const name = active === null ? "active" : "local";
      return this.error(res, 400, `${name} must be true or false, got ${JSON.stringify(params.get(name))}`);
    }
    const found = new Map<string, SimulatorDirectoryUser>();
    for (const item of items) {
      let user: SimulatorDirectoryUser | undefined;
      if (by === "uid") {
        const key = canonicalUserId(item);
        if (key === undefined) {
          return this.error(res, 400, `uid: ${JSON.stringify(item.slice(0, 40))} is not a positive int64`);
        }
        user = this.store.entry(key);
      } else user = by === "email" ? this.store.byEmail(item) : this.store.byUsername(item);
      if (user === undefined || (active !== undefined && active !== (user.status === "ENABLED"))) continue;
      found.set(user.uid, user);
    }
    if (found.size === 0) return this.noContent(res);
    // Ids are written as bare JSON numbers from their decimal strings, as listDelegates does: every digit survives.
    const users = Array.from(found.values(), (user) => {
      const fields: Schemas["UserV2"] = {
        emailAddress: user.email,
        displayName: user.displayName,
        username: user.username,
        accountType: "NORMAL",
      };
      return `{"id":${user.uid},${JSON.stringify(fields).slice(1)}`;
    });
    this.send(res, 200, `{"users":[${users.join(",")}]}`);
  }

  /** `GET /v2/admin/user/list`: a page of the pod's users in uid order, so consecutive pages neither skip nor repeat. */
  listUsers(res: ServerResponse, query: string) {
    const params = new URLSearchParams(query);
    const skip = integerParam(params, "skip", 0);
    if (skip === undefined || skip < 0) {
      return this.error(res, 400, `skip must be an integer ≥ 0, got ${JSON.stringify(params.get("skip"))}`);
    }
    const limit = integerParam(params, "limit", 100);
    if (limit === undefined || limit < 1 || limit > LIST_LIMIT_MAX) {
      const got = JSON.stringify(params.get("limit"));
      return this.error(res, 400, `limit must be an integer from 1 to ${LIST_LIMIT_MAX}, got ${got}`);
    }
    const page = this.store.listed().slice(skip, skip + limit);
    const details = page.map((key) => {
      const user = this.store.entry(key) as SimulatorDirectoryUser;
      const attributes: Schemas["V2UserAttributes"] = {
        emailAddress: user.email,
        userName: user.username,
        displayName: user.displayName,
        accountType: "NORMAL",
      };
      return `{"userAttributes":${JSON.stringify(attributes)},"userSystemInfo":{"id":${key},"status":"${user.status}"}}`;
    });
    this.send(res, 200, `[${details.join(",")}]`);
  }

  async login(res: ServerResponse, text: string): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return this.error(res, 400, "request body is not valid JSON");
    }
    const jwt = (body as { token?: unknown } | null)?.token;
    if (typeof jwt !== "string") return this.error(res, 400, "body.token: the signed JWT is required");
    const refusal = await this.#login(jwt);
    if (refusal !== undefined) return this.error(res, refusal.status, refusal.message);
    this.logins++;
    const token = this.tokens.issue();
    this.send(res, 200, JSON.stringify({ name: "sessionToken", token }));
  }

  // --- answers -------------------------------------------------------------------------------------------------------

  /** The body parsed and checked by the spec's compiled validator; undefined after answering 400. */
  parse(res: ServerResponse, text: string, validator: unknown): unknown {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      this.error(res, 400, "request body is not valid JSON");
      return undefined;
    }
    const validate = validator as CompiledValidator;
    if (validate(body)) return body;
    this.error(res, 400, describe(validate.errors?.[0]));
    return undefined;
  }

  wrote(res: ServerResponse, body: string) {
    this.writes++;
    this.send(res, 200, body);
  }

  wroteApps(res: ServerResponse, record: UserRecord) {
    this.wrote(res, JSON.stringify(this.store.appsOf(record)));
  }

  notFound(res: ServerResponse, path: string) {
    this.error(res, 404, `no such route: ${path.slice(0, 200)}`);
  }

  notAllowed(res: ServerResponse, allow: string) {
    this.error(res, 405, `method not allowed; allowed: ${allow}`, ["allow", allow]);
  }

  error(res: ServerResponse, status: number, message: string, extra?: [string, string]) {
    this.send(res, status, JSON.stringify({ code: status, message } satisfies Schemas["Error"]), extra);
  }

  send(res: ServerResponse, status: number, body: string, extra?: [string, string]) {
    this.count(res, status);
    const headers = ["content-type", JSON_TYPE, "content-length", String(Buffer.byteLength(body))];
    if (extra !== undefined) headers.push(extra[0], extra[1]);
    res.writeHead(status, headers);
    res.end(body);
  }

  /** 204: no body, so no content type either (a real pod sends none). */
  noContent(res: ServerResponse) {
    this.count(res, 204);
    res.writeHead(204);
    res.end();
  }

  count(res: ServerResponse, status: number) {
    this.byStatus[status] = (this.byStatus[status] ?? 0) + 1;
    const operation = (res as PodResponse).operation;
    if (operation >= 0) this.byOperation[operation] = (this.byOperation[operation] ?? 0) + 1;
  }

  stats(): SimulatorStats {
    const byStatus: Record<number, number> = {};
    this.byStatus.forEach((count, status) => {
      if (count > 0) byStatus[status] = count;
    });
    return {
      requests: this.requests,
      byStatus,
      rateLimiter: { admitted: this.limiter?.admitted ?? 0, refused: this.limiter?.refused ?? 0 },
      faults: {
        rateLimited: this.rateLimited,
        serverErrors: this.serverErrors,
        dropped: this.dropped,
        delayed: this.delayed,
      },
      writes: this.writes,
      byOperation: Object.fromEntries(
        OPERATIONS.map((operation) => [operation.name, this.byOperation[operation.index] ?? 0]),
      ),
      tokenExpiries: this.tokens.expiries,
      logins: this.logins,
    };
  }

  /** `GET /__simulator/stats`: {@link PodServer.stats} as JSON. Outside `byStatus`, like a request never made. */
  sendStats(res: ServerResponse) {
    const body = JSON.stringify(this.stats());
    res.writeHead(200, ["content-type", JSON_TYPE, "content-length", String(Buffer.byteLength(body))]);
    res.end(body);
  }

  resetStats() {
    this.byStatus.fill(0);
    this.byOperation.fill(0);
    this.requests = this.writes = this.logins = 0;
    this.rateLimited = this.serverErrors = this.dropped = this.delayed = 0;
    this.tokens.expiries = 0;
    if (this.limiter !== undefined) this.limiter.admitted = this.limiter.refused = 0;
  }
}

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

/** An Ajv error as the Error body's message, in the client's words but the wire's names: `body[0].entitlment …`. */
function describe(error: AjvError | undefined): string {
  if (error === undefined) return "request body does not match the schema";
  const { field, message } = describeSchemaError(error, "body", (name) => name);
  return `${field} ${message}`;
}

/**
 * Starts a simulated Symphony pod: a real HTTP server on loopback implementing every operation of the Pod API spec
 * under `/pod` (plus the RSA login endpoint), with in-memory state, request validation by the spec's compiled
 * schemas, session tokens that can expire, seeded fault injection and an optional rate limit.
 *
 * One route is the simulator's own, not the Pod API's: `GET /__simulator/stats` answers {@link SimulatedPod.stats}
 * as JSON, so a benchmark or script in another process can read the counters. It needs no token, and is itself
 * counted nowhere. With a `rateLimit`, `GET /__simulator/timeline` answers what its limiter admitted and refused,
 * and the limit it applied, in 100 ms steps since its first call (`null` without a limit), for pictures of a run.
 *
 * @example
 * ```ts
 * import { createPodClient } from "symphony-pod-admin";
 * import { startSimulatedPod } from "symphony-pod-admin/simulator";
 *
 * const pod = await startSimulatedPod({ faults: { rateLimit: 0.1, seed: 1 } });
 * const client = createPodClient({ baseUrl: pod.url, sessionToken: pod.currentToken() });
 * await client.users.updateFeatures(7215545057281n, [{ entitlement: "canCreatePublicRoom", enabled: true }]);
 * console.log(pod.state.features(7215545057281n)); // { canCreatePublicRoom: true }
 * await pod.close();
 * ```
 * @throws TypeError or RangeError for invalid options; the listen error (e.g. `EADDRINUSE`) when the port is taken.
 */
export async function startSimulatedPod(options: SimulatedPodOptions = {}): Promise<SimulatedPod> {
  const pod = new PodServer(options);
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${String(options.port)}`);
  }
  const server: Server<typeof IncomingMessage, typeof PodResponse> = createServer(
    { ServerResponse: PodResponse },
    (req, res) => pod.handle(req, res),
  );
  // Benchmarks hold hundreds of keep-alive connections; do not let the server close them between bursts.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const origin = `http://${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
  let closing: Promise<void> | undefined;
  return {
    url: `${origin}/pod`,
    origin,
    port: address.port,
    state: pod.state,
    stats: () => pod.stats(),
    resetStats: () => pod.resetStats(),
    currentToken: () => pod.tokens.current(),
    rotateToken: (token) => pod.tokens.rotate(token),
    expireTokens: () => pod.tokens.expireAll(),
    setFaults: (faults) => {
      pod.faults = new FaultPlan(faults);
    },
    setRateLimit: (rateLimit) => {
      pod.limiter = rateLimit === undefined ? undefined : new RateLimiter(rateLimit);
    },
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
