import { createServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Server as NetServer } from "node:net";
import type { SimulatorDirectoryEntry } from "./directory.js";
import { FaultPlan, type SimulatorFaults } from "./faults.js";
import { RateLimiter } from "./ratelimit.js";
import { PodResponse, PodServer } from "./server.js";
import type { SimulatedPodState } from "./state.js";
import type { SimulatorAppDefaults } from "./store.js";
import type { SimulatorClientCertificate, SimulatorKeyPair } from "./tls.js";
import type { SimulatorLoginOptions } from "./tokens.js";

export { DEFAULT_AVAILABLE_FEATURES, DEFAULT_SIMULATOR_TOKEN } from "./defaults.js";

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
  users?: Iterable<number | bigint | string>;
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
  /**
   * Serve HTTPS, and the certificate login over mutual TLS: `true` generates a test CA and a certificate for
   * `127.0.0.1`, `localhost` and `::1`; `{ ca }` signs it with a CA you give (see {@link SimulatorTlsOptions}).
   * The pod's CA is then {@link SimulatedPod.ca}, the certificate login's host {@link SimulatedPod.sessionAuthUrl}.
   * Default: plain HTTP, no certificate login.
   *
   * @example
   * ```ts
   * const pod = await startSimulatedPod({ tls: true });
   * const bot = pod.issueClientCertificate("provisioning-bot", "changeit");
   * ```
   */
  tls?: boolean | SimulatorTlsOptions;
}

/**
 * The simulated pod's TLS, when not generated: the CA that signs the server's certificate and the client
 * certificates it trusts for the certificate login.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 *
 * const pod = await startSimulatedPod({ tls: { ca: { cert: readFileSync("ca.pem", "utf8"), key: readFileSync("ca-key.pem", "utf8") } } });
 * ```
 */
export interface SimulatorTlsOptions {
  /** The CA (certificate and its key, PEM). Default: one generated at start. */
  ca?: SimulatorKeyPair | undefined;
  /** Host names and IP addresses the server's certificate names. Default `127.0.0.1`, `localhost`, `::1`. */
  hosts?: string[] | undefined;
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
  /** Writes applied to the state (200 answers of the write operations). */
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
  /** With `tls`: the CA certificate (PEM) that signed the server's certificate, for the client's `ca`. */
  readonly ca: string | undefined;
  /**
   * With `tls`: the session-auth host of the certificate login, a second HTTPS port that requires a client
   * certificate signed by the pod's CA in the handshake (`POST <sessionAuthUrl>/sessionauth/v1/authenticate`
   * answers a session token for the certificate's common name).
   */
  readonly sessionAuthUrl: string | undefined;
  /**
   * With `tls`: issues a client certificate for `username` (its common name), signed by the pod's CA, with its
   * PKCS#12 form protected by `passphrase` (default `changeit`). Throws without `tls`.
   */
  issueClientCertificate(username: string, passphrase?: string): SimulatorClientCertificate;
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
  const pki = options.tls ? await simulatorPki(options.tls) : undefined;
  const handler = (req: IncomingMessage, res: PodResponse) => pod.handle(req, res);
  const server: Server<typeof IncomingMessage, typeof PodResponse> = pki
    ? (createHttpsServer(
        { ServerResponse: PodResponse, cert: pki.server.cert, key: pki.server.key },
        handler,
      ) as unknown as Server<typeof IncomingMessage, typeof PodResponse>)
    : createServer({ ServerResponse: PodResponse }, handler);
  // Benchmarks hold hundreds of keep-alive connections; do not let the server close them between bursts.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  await listen(server as unknown as NetServer, port, host);
  const address = server.address() as AddressInfo;
  const hostPart = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const origin = `${pki ? "https" : "http"}://${hostPart}:${address.port}`;
  // The certificate login's own host, as on a real deployment: the handshake requires a client certificate.
  const sessionAuth = pki
    ? createHttpsServer({ ...pki.server, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) =>
        pod.certificateLogin(req, res),
      )
    : undefined;
  if (sessionAuth) await listen(sessionAuth, 0, host);
  const sessionAuthUrl = sessionAuth ? `https://${hostPart}:${(sessionAuth.address() as AddressInfo).port}` : undefined;
  let closing: Promise<void> | undefined;
  return {
    ca: pki?.ca.cert,
    sessionAuthUrl,
    issueClientCertificate: (username, passphrase = "changeit") => {
      if (!pki) throw new TypeError("issueClientCertificate needs a pod started with tls");
      return pki.issueClient(username, passphrase);
    },
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
      const stop = (one: NetServer & { closeAllConnections(): void }) =>
        new Promise<void>((resolve, reject) => {
          one.close((error) => (error ? reject(error) : resolve()));
          one.closeAllConnections();
        });
      closing ??= Promise.all([
        stop(server as unknown as Parameters<typeof stop>[0]),
        sessionAuth && stop(sessionAuth),
      ]).then(() => undefined);
      return closing;
    },
  };
}

function listen(server: NetServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** The CA (generated or given) and the server's certificate; node-forge is loaded only here. */
async function simulatorPki(tls: true | SimulatorTlsOptions) {
  const { generateCa, issueCertificate, issueClientCertificate } = await import("./tls.js");
  const given = tls === true ? {} : tls;
  const ca = given.ca ?? generateCa();
  if (typeof ca?.cert !== "string" || typeof ca.key !== "string") {
    throw new TypeError("tls.ca must be { cert, key }, both PEM strings");
  }
  const hosts = given.hosts ?? ["127.0.0.1", "localhost", "::1"];
  const server = issueCertificate(ca, hosts[0] ?? "localhost", { server: hosts });
  return {
    ca,
    server,
    issueClient: (username: string, passphrase: string) => issueClientCertificate(ca, username, passphrase),
  };
}
