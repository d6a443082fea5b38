/**
 * Where openapi-fetch meets the pipeline. openapi-fetch builds a request and reads a response for every call; with
 * WHATWG `Request`/`Response` that costs ~40 µs a call, so facade and bulk calls get light stand-ins (~5 µs) that
 * hold just what openapi-fetch and the pipeline read. Once a middleware is registered with `pod.raw.use()`, every
 * call gets real ones instead, so ordinary openapi-fetch middleware works unchanged.
 */
import type { PodHttp } from "./http.js";
import type { RetryOptions } from "./retry.js";
import { headerValue, type WireResponse } from "./transport.js";

/** Per-call settings a facade call hands the pipeline through openapi-fetch's init; filled back with the outcome. @internal */
export interface CallContext {
  uid: string | undefined;
  retry: Required<RetryOptions>;
  timeoutMs: number;
  /** Set by the pipeline: attempts made and the request id, for errors. */
  attempts?: number;
  requestId?: string;
  /** Set by the pipeline: the path below the base URL, uid filled in, as openapi-fetch built it. */
  path?: string;
}

/** The init key openapi-fetch copies onto the request object (it copies keys the request does not have). @internal */
export const CALL_CONTEXT = "podCall";

type Carrier = { [CALL_CONTEXT]?: CallContext };

/**
 * The `Request` class given to openapi-fetch: a plain holder of url, method, headers, body and signal, or, while a
 * middleware is registered, a real `Request` (a constructor may return another object).
 * @internal
 */
export function requestClass(middlewareRegistered: () => boolean): typeof Request {
  class PodRequest {
    // openapi-fetch checks what a middleware's onRequest returns with `instanceof` this class: a real Request is fine.
    static [Symbol.hasInstance](value: unknown): boolean {
      return (
        value instanceof Request ||
        (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === PodRequest.prototype)
      );
    }
    readonly url!: string;
    readonly method!: string;
    readonly headers!: Headers;
    readonly body: string | undefined;
    readonly signal: AbortSignal | undefined;
    constructor(url: string, init: RequestInit) {
      // biome-ignore lint/correctness/noConstructorReturn: openapi-fetch calls `new Request()`; with middleware it must be a real one
      if (middlewareRegistered()) return new Request(url, init) as unknown as PodRequest;
      this.url = url;
      this.method = init.method ?? "GET";
      this.headers = init.headers as Headers;
      this.body = (init.body ?? undefined) as string | undefined;
      this.signal = init.signal ?? undefined;
    }
  }
  return PodRequest as unknown as typeof Request;
}

/** The `headers` of a {@link PodResponse}: `get` only. */
class PodResponseHeaders {
  readonly #wire: WireResponse;
  constructor(wire: WireResponse) {
    this.#wire = wire;
  }
  get(name: string): string | null {
    return headerValue(this.#wire, name.toLowerCase()) ?? null;
  }
}

/** What openapi-fetch reads of an answer: status, ok, a header, the text. @internal */
class PodResponse {
  readonly #wire: WireResponse;
  readonly headers: PodResponseHeaders;
  constructor(wire: WireResponse) {
    this.#wire = wire;
    this.headers = new PodResponseHeaders(wire);
  }
  get status(): number {
    return this.#wire.status;
  }
  get ok(): boolean {
    return this.#wire.status >= 200 && this.#wire.status < 300;
  }
  text(): Promise<string> {
    return Promise.resolve(this.#wire.body);
  }
  json(): Promise<unknown> {
    return Promise.resolve(JSON.parse(this.#wire.body));
  }
}

/**
 * The `fetch` given to openapi-fetch: runs the request through the pipeline. A facade call (it carries a
 * {@link CallContext}) gets a light answer unless a middleware is registered; a raw call always gets a `Response`,
 * which is what `pod.raw` promises its callers.
 * @internal
 */
export function pipelineFetch(
  http: PodHttp,
  baseUrl: string,
  defaults: { retry: Required<RetryOptions>; timeoutMs: number },
  middlewareRegistered: () => boolean,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const context = (request as unknown as Carrier)[CALL_CONTEXT];
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => {
      if (name !== "sessiontoken") headers[name] = value;
    });
    const body =
      typeof request.body === "string" || request.body == null
        ? ((request.body as string | null) ?? undefined)
        : await request.text();
    const url = request.url;
    const exchange = await http.exchange({
      method: request.method,
      path: url.startsWith(baseUrl) ? url.slice(baseUrl.length) : url,
      uid: context?.uid,
      headers,
      body,
      signal: request.signal ?? undefined,
      retry: context?.retry ?? defaults.retry,
      timeoutMs: context?.timeoutMs ?? defaults.timeoutMs,
    });
    if (context) {
      context.path = url.startsWith(baseUrl) ? url.slice(baseUrl.length) : url;
      context.attempts = exchange.attempts;
      context.requestId = exchange.requestId;
      if (!middlewareRegistered()) return new PodResponse(exchange.response) as unknown as Response;
    }
    return toResponse(exchange.response);
  };
}

function toResponse(wire: WireResponse): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(wire.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  const empty = wire.status === 204 || wire.status === 304 || wire.body === "";
  return new Response(empty ? null : wire.body, { status: wire.status, headers });
}
