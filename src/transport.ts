import type { Dispatcher } from "undici";

/** One HTTP exchange as the pipeline sees it: small JSON in, small JSON out. */
export interface WireRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AttemptSignal | undefined;
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

/** The answer, body read in full (Pod admin answers are small). */
export interface WireResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
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
 * The default transport: undici's `request()` over a keep-alive agent owned by the client. It skips the WHATWG
 * `Request`/`Response` objects that make `fetch` several times slower per call at bulk concurrency.
 */
export function undiciTransport(): Transport {
  // undici is loaded on the first call: a client given its own fetch (tests, proxies) never pays its ~20 MB.
  type Send = (request: WireRequest) => Promise<WireResponse>;
  let send: Send | undefined;
  let agent: Dispatcher | undefined;
  let loading: Promise<Send> | undefined;
  let closed = false;
  const transport = (wire: WireRequest) => {
    if (send) return send(wire);
    if (closed) return Promise.reject(new Error("the client was closed"));
    loading ??= import("undici").then(({ Agent, request }) => {
      agent = new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });
      send = undiciSender(agent, request);
      return send;
    });
    return loading.then((loaded) => loaded(wire));
  };
  transport.close = async () => {
    closed = true;
    await loading;
    await agent?.close();
  };
  return transport;
}

function undiciSender(
  dispatcher: Dispatcher,
  request: typeof import("undici").request,
): (request: WireRequest) => Promise<WireResponse> {
  return async ({ url, method, headers, body, signal }) => {
    const res = await request(url, {
      method: method as "GET",
      headers,
      body,
      // undici takes an EventEmitter-like signal as well as an AbortSignal.
      signal: signal as unknown as AbortSignal | undefined,
      dispatcher,
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
}

/** Adapts a user-supplied `fetch` (a proxy, a test double, msw's patched global) to the pipeline. */
export function fetchTransport(fetchFn: FetchLike): Transport {
  const transport = async ({ url, method, headers, body, signal }: WireRequest): Promise<WireResponse> => {
    // A user's fetch expects a real AbortSignal: link one to the attempt's.
    let fetchSignal: AbortSignal | null = null;
    if (signal) {
      const controller = new AbortController();
      if (signal.aborted) controller.abort(signal.reason);
      else signal.once("abort", () => controller.abort(signal.reason));
      fetchSignal = controller.signal;
    }
    const res = await fetchFn(url, { method, headers, body: body ?? null, signal: fetchSignal });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  };
  // A fetch you gave owns its connections: closing the client leaves them to you.
  return Object.assign(transport, { close: async () => {} });
}
