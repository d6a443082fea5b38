import type { Dispatcher } from "undici";
import { DEFAULT_MAX_ANSWER_BYTES, LargeAnswerTurns, readFetchBody, readUndiciBody } from "./answer-body.js";
import { type Connection, connectionDispatcher } from "./connection.js";
import { CLOSED_WITHOUT_CLIENT_CERTIFICATE } from "./connection-failure.js";

/** One HTTP exchange as the pipeline sees it: small JSON in, small JSON out. */
export interface WireRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AttemptSignal | undefined;
  /** The largest answer to read, in bytes, received or inflated; default {@link DEFAULT_MAX_ANSWER_BYTES}. */
  maxBytes?: number | undefined;
}

type AbortListener = () => void;

/**
 * Aborts one attempt (its timeout, or the caller's signal). An `AbortController` per attempt costs an `EventTarget`
 * and its listener bookkeeping on every call; this is the small EventEmitter subset (`aborted`, `reason`,
 * `once`/`on`, `removeListener`) that undici's `request()` accepts as `signal`.
 */
export class AttemptSignal {
  aborted = false;
  reason: unknown = undefined;
  #listeners: AbortListener[] | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (listeners) for (const listener of listeners) listener();
  }

  once(_event: "abort", listener: AbortListener): this {
    if (this.#listeners) this.#listeners.push(listener);
    else this.#listeners = [listener];
    return this;
  }

  on(event: "abort", listener: AbortListener): this {
    return this.once(event, listener);
  }

  removeListener(_event: "abort", listener: AbortListener): this {
    const index = this.#listeners?.indexOf(listener) ?? -1;
    if (index >= 0) this.#listeners?.splice(index, 1);
    return this;
  }

  off(event: "abort", listener: AbortListener): this {
    return this.removeListener(event, listener);
  }
}

/** The answer, body read in full up to the request's `maxBytes` (Pod admin answers are small). */
export interface WireResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Set when a `fetch` followed a redirect although asked not to: where it ended. The pipeline refuses it. */
  redirected?: string | undefined;
}

/** A header of an answer (lower-case name), several values joined as one. @internal */
export function headerValue(response: WireResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** Sends one request; rejects only when there is no HTTP answer. `close` releases its connections. */
export type Transport = ((request: WireRequest) => Promise<WireResponse>) & { close(): Promise<void> };

/**
 * A `fetch`-compatible function, as `createPodClient({ fetch })` and `rsaAuthentication({ fetch })` take it: the
 * global `fetch`, undici's, or a wrapper (a proxy, logging, a test double).
 *
 * @example
 * ```ts
 * const loggingFetch: FetchLike = async (input, init) => {
 *   const response = await fetch(input, init);
 *   console.log(init.method, input, response.status);
 *   return response;
 * };
 * const pod = createPodClient({ baseUrl, sessionToken, fetch: loggingFetch });
 * ```
 */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * The default transport: undici's `request()` over keep-alive connections owned by the client. It skips the WHATWG
 * `Request`/`Response` objects that make `fetch` several times slower per call at bulk concurrency.
 */
export function undiciTransport(connection?: Connection): Transport {
  // undici is loaded on the first call: a client given its own fetch (tests, proxies) never pays its ~20 MB.
  type Send = (request: WireRequest) => Promise<WireResponse>;
  let send: Send | undefined;
  let sender: UndiciSender | undefined;
  let loading: Promise<Send> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;
  const transport = (wire: WireRequest) => {
    // Checked first: a call made right after close() must not slip out on the loaded sender.
    if (closed) return Promise.reject(new Error("the client was closed"));
    if (send) return send(wire);
    loading ??= import("undici").then((undici) => {
      sender = new UndiciSender(undici, connection);
      send = (wire) => (sender as UndiciSender).send(wire);
      return send;
    });
    return loading.then((loaded) => loaded(wire));
  };
  // Idempotent: `await using` and an explicit close() both close the client, and undici rejects a second close.
  transport.close = () => {
    closed = true;
    closing ??= (async () => {
      await loading;
      await sender?.close();
    })();
    return closing;
  };
  return transport;
}

const KEEP_ALIVE = { keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 } as const;

/**
 * Connections per lane. undici reuses a connection only one event-loop turn after its answer (so a server closing
 * it can be noticed), and an uncapped pool opens a new one for a call sent within that turn: at 300 calls in flight
 * it holds ~600 connections, and each call costs ~15 % more CPU than over a pool capped at the calls in flight.
 * Calls of one origin therefore go to lanes, pools of at most this many connections: a call takes the first lane
 * with fewer calls in flight than this, and a new lane opens when all are full. The connections then follow the
 * calls in flight (rounded up to a lane) whatever the concurrency, with no cap on it.
 */
const LANE_CONNECTIONS = 32;

interface Lane {
  pool: Dispatcher;
  inFlight: number;
}

/**
 * A request target (path and query) that `new URL()` would leave exactly as it is: no character it would
 * percent-encode, no fragment, no empty query, no dot segment. Such a URL goes to its origin's lanes as origin +
 * target, without undici's `request(url)` parsing it again (a URL object and its origin per call).
 */
const PLAIN_TARGET = /^\/[\w\-.~!$&'()*+,;=:@%/]*(?:\?[\w\-.~!$&()*+,;=:@%/?]+)?$/;
const DOT_SEGMENT = /\/(?:\.|%2e){1,2}(?:[/?]|$)/i;
/** Origins given lanes at most; calls to others go through a plain agent. */
const MAX_ORIGINS = 8;

class UndiciSender {
  readonly #undici: typeof import("undici");
  /** For URLs that are not plain. */
  readonly #agent: Dispatcher;
  /** Lanes by origin (the pod's, the login host's), the origin as `new URL()` spells it. */
  readonly #origins: { origin: string; lanes: Lane[] }[] = [];
  /** Proxy, CAs, client certificate; or the caller's own dispatcher, which every lane then shares. */
  readonly #connection: Connection | undefined;
  /** Answers over 64 KiB are read a few at a time, so hostile ones cannot take memory by the hundred. */
  readonly #turns = new LargeAnswerTurns();
  #closed = false;

  constructor(undici: typeof import("undici"), connection: Connection | undefined) {
    this.#undici = undici;
    this.#connection = connection;
    this.#agent =
      connection?.dispatcher ??
      (connection ? connectionDispatcher(undici, connection, KEEP_ALIVE) : new undici.Agent(KEEP_ALIVE));
  }

  async send(wire: WireRequest): Promise<WireResponse> {
    try {
      return await this.#send(wire);
    } catch (error) {
      throw this.#explained(error, wire.url);
    }
  }

  /**
   * An https server that closed the connection before sending a byte, to a client offering no certificate, most
   * likely wants one (TLS 1.3 servers refuse it after the handshake, and undici says only "other side closed").
   */
  #explained(error: unknown, url: string): unknown {
    const code = (error as { code?: unknown } | null)?.code;
    const socket = (error as { socket?: { bytesRead?: unknown } } | null)?.socket;
    if (
      code === "UND_ERR_SOCKET" &&
      socket?.bytesRead === 0 &&
      url.startsWith("https:") &&
      this.#connection?.connect?.cert === undefined &&
      this.#connection?.connect?.pfx === undefined &&
      this.#connection?.dispatcher === undefined
    ) {
      return Object.assign(new Error((error as Error).message, { cause: error }), {
        code: CLOSED_WITHOUT_CLIENT_CERTIFICATE,
      });
    }
    return error;
  }

  async #send({ url, method, headers, body, signal, maxBytes }: WireRequest): Promise<WireResponse> {
    const limit = maxBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    const lanes = this.#closed ? undefined : this.#lanesFor(url);
    if (lanes === undefined) {
      const res = await this.#undici.request(url, {
        method: method as "GET",
        headers,
        body,
        // undici takes an EventEmitter-like signal as well as an AbortSignal.
        signal: signal as unknown as AbortSignal | undefined,
        dispatcher: this.#agent,
      });
      return {
        status: res.statusCode,
        headers: res.headers,
        body: await readUndiciBody(res, limit, this.#turns, signal),
      };
    }
    let lane: Lane | undefined;
    for (const candidate of lanes.list) {
      if (candidate.inFlight < LANE_CONNECTIONS) {
        lane = candidate;
        break;
      }
    }
    if (lane === undefined) {
      lane = { pool: this.#lanePool(lanes.origin), inFlight: 0 };
      lanes.list.push(lane);
    }
    lane.inFlight++;
    try {
      // What undici's request(url, options) does once it has parsed the URL.
      const res = await lane.pool.request({
        origin: lanes.origin,
        path: lanes.path,
        method: method as "GET",
        headers,
        body,
        signal: signal as unknown as AbortSignal | undefined,
      });
      return {
        status: res.statusCode,
        headers: res.headers,
        body: await readUndiciBody(res, limit, this.#turns, signal),
      };
    } finally {
      lane.inFlight--;
    }
  }

  /** A lane's pool: the plain pool of the fast path, the same behind a proxy or with TLS options, or the caller's. */
  #lanePool(origin: string): Dispatcher {
    const pool = { ...KEEP_ALIVE, connections: LANE_CONNECTIONS };
    const connection = this.#connection;
    if (connection === undefined) return new this.#undici.Pool(origin, pool);
    return connection.dispatcher ?? connectionDispatcher(this.#undici, connection, pool, origin);
  }

  /** The lanes of a URL's origin and its target, or undefined when the URL is not plain (see PLAIN_TARGET). */
  #lanesFor(url: string): { origin: string; list: Lane[]; path: string } | undefined {
    for (let learned = false; ; learned = true) {
      for (const { origin, lanes } of this.#origins) {
        if (!(url.startsWith(origin) && url.charCodeAt(origin.length) === 47)) continue; // 47: "/"
        const path = url.slice(origin.length);
        return PLAIN_TARGET.test(path) && !DOT_SEGMENT.test(path) ? { origin, list: lanes, path } : undefined;
      }
      if (learned || !this.#learn(url)) return undefined;
    }
  }

  /** Gives a new origin its lanes; false when the URL does not start with its origin as `new URL()` spells it. */
  #learn(url: string): boolean {
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      return false; // undici's request() rejects it with its own error
    }
    if (this.#origins.length >= MAX_ORIGINS || !url.startsWith(`${origin}/`)) return false;
    this.#origins.push({ origin, lanes: [] });
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    // A dispatcher the caller gave stays theirs to close.
    if (this.#connection?.dispatcher) return;
    const pools = this.#origins.flatMap(({ lanes }) => lanes.map((lane) => lane.pool));
    await Promise.all([this.#agent.close(), ...pools.map((pool) => pool.close())]);
  }
}

/** Adapts a user-supplied `fetch` (a proxy, a test double, msw's patched global) to the pipeline. */
export function fetchTransport(fetchFn: FetchLike): Transport {
  const turns = new LargeAnswerTurns();
  const transport = async ({ url, method, headers, body, signal, maxBytes }: WireRequest): Promise<WireResponse> => {
    // A user's fetch expects a real AbortSignal: link one to the attempt's.
    let fetchSignal: AbortSignal | null = null;
    if (signal) {
      const controller = new AbortController();
      if (signal.aborted) controller.abort(signal.reason);
      else signal.once("abort", () => controller.abort(signal.reason));
      fetchSignal = controller.signal;
    }
    // Never followed: the pipeline refuses every redirect (src/core/redirects.ts), whichever fetch sends.
    const res = await fetchFn(url, { method, headers, body: body ?? null, signal: fetchSignal, redirect: "manual" });
    const answer: WireResponse = { status: res.status, headers: Object.fromEntries(res.headers), body: "" };
    if (res.redirected) {
      answer.redirected = res.url;
      await res.body?.cancel();
      return answer;
    }
    answer.body = await readFetchBody(res, maxBytes ?? DEFAULT_MAX_ANSWER_BYTES, turns, signal);
    return answer;
  };
  // A fetch you gave owns its connections: closing the client leaves them to you.
  return Object.assign(transport, { close: async () => {} });
}
