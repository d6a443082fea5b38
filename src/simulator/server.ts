/**
 * The simulated pod's request pipeline: routing (routes.ts), the rate limit, faults, the session token, the uid and
 * the body, then the operation's handler (handlers/); the answers and their counters; the login endpoint. The HTTP
 * server itself, its options and its lifetime are pod.ts's.
 */
import { type IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import type { components } from "../../generated/pod-api.js";
import { checkBody } from "./body.js";
import type { PodContext } from "./context.js";
import { DEFAULT_AVAILABLE_FEATURES, DEFAULT_SIMULATOR_TOKEN } from "./defaults.js";
import type { SimulatorDirectoryEntry } from "./directory.js";
import { Fault, FaultPlan, type SimulatorFaults } from "./faults.js";
import { uidKey } from "./ids.js";
import { RateLimiter, type SimulatorRateLimit, sendJson } from "./ratelimit.js";
import { type Method, OPERATION_LIST, type Operation, POD_ROUTES, USER_PREFIX, USER_ROUTES } from "./routes.js";
import { SimulatedPodState } from "./state.js";
import { PodStore, type SimulatorAppDefaults } from "./store.js";
import { type LoginCheck, loginCheck, SessionRegistry, type SimulatorLoginOptions } from "./tokens.js";

type Schemas = components["schemas"];

const LOGIN = "/login/pubkey/authenticate";
const CERTIFICATE_LOGIN = "/sessionauth/v1/authenticate";
const STATS = "/__simulator/stats";
const TIMELINE = "/__simulator/timeline";
const JSON_TYPE = "application/json";

/**
 * What the server is built from: the options of `startSimulatedPod` (pod.ts, where each is documented) that shape
 * the requests' handling. Declared here, not imported, so the server does not depend on the module that starts it.
 *
 * @internal
 */
export interface ServerOptions {
  sessionToken?: string | undefined;
  expireTokenAfterRequests?: number | undefined;
  users?: Iterable<number | bigint | string> | undefined;
  directory?: Iterable<SimulatorDirectoryEntry> | undefined;
  availableFeatures?: readonly string[] | undefined;
  strictFeatures?: boolean | undefined;
  appDefaults?: SimulatorAppDefaults | undefined;
  faults?: SimulatorFaults | undefined;
  rateLimit?: SimulatorRateLimit | undefined;
  login?: SimulatorLoginOptions | undefined;
  maxBodyBytes?: number | undefined;
}

/**
 * The server's answers, with the operation being answered: set once a request is routed, so every answer (a fault,
 * a 401, a 400 from the handler) counts for it without passing it through every call. A class field, not a
 * property added later, so answers keep one shape and nothing is allocated for it.
 *
 * @internal
 */
export class PodResponse extends ServerResponse<IncomingMessage> {
  operation = -1;
}

/** The server's request handling; one per simulated pod. @internal */
export class PodServer implements PodContext {
  readonly store: PodStore;
  readonly state: SimulatedPodState;
  readonly tokens: SessionRegistry;
  faults: FaultPlan;
  limiter: RateLimiter | undefined;
  readonly availableFeatures: string;
  readonly knownFeatures: ReadonlySet<string> | undefined;
  readonly #login: LoginCheck;
  readonly #maxBody: number;
  // Counters as plain fields and a typed array: nothing allocated per request.
  readonly byStatus = new Uint32Array(600);
  readonly byOperation = new Uint32Array(OPERATION_LIST.length);
  requests = 0;
  writes = 0;
  logins = 0;
  rateLimited = 0;
  serverErrors = 0;
  dropped = 0;
  delayed = 0;

  constructor(options: ServerOptions) {
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
    this.availableFeatures = JSON.stringify(features);
    this.knownFeatures = options.strictFeatures ? new Set(features) : undefined;
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
        const parsed = uidKey(uid);
        if (parsed === undefined) {
          return this.error(res, 400, `uid must be a positive int64, got ${JSON.stringify(uid.slice(0, 40))}`);
        }
        if (!this.store.isUser(parsed)) return this.error(res, 404, `user ${parsed} not found`);
        key = parsed;
      }
      if (operation.write) this.readBody(req, res, (body) => this.run(operation, res, key, body, query));
      else this.run(operation, res, key, "", query);
    };
    if (delay > 0) {
      this.delayed++;
      setTimeout(proceed, delay);
    } else proceed();
  }

  run(operation: Operation, res: PodResponse, key: string, body: string, query: string) {
    try {
      operation.handler(this, res, key, body, query);
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

  /**
   * `POST /sessionauth/v1/authenticate` on the session-auth port: the handshake already required a client
   * certificate signed by the pod's CA; its common name is the service account.
   */
  certificateLogin(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? "/").split("?")[0];
    this.requests++;
    if (path !== CERTIFICATE_LOGIN) return this.notFound(res, path ?? "/");
    if (req.method !== "POST") return this.notAllowed(res, "POST");
    const socket = req.socket as TLSSocket;
    const name = socket.authorized ? socket.getPeerCertificate().subject?.CN : undefined;
    if (typeof name !== "string" || name === "") return this.error(res, 401, "a client certificate is required");
    this.readBody(req, res, () => {
      this.logins++;
      this.send(res, 200, JSON.stringify({ name: "sessionToken", token: this.tokens.issue() }));
    });
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
    const checked = checkBody(text, validator);
    if ("body" in checked) return checked.body;
    this.error(res, 400, checked.refusal);
    return undefined;
  }

  wrote(res: ServerResponse, body: string) {
    this.writes++;
    this.send(res, 200, body);
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

  stats() {
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
        OPERATION_LIST.map((operation) => [operation.name, this.byOperation[operation.index] ?? 0]),
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
