import { Agent, request } from "undici";

/** One HTTP exchange as the pipeline sees it: small JSON in, small JSON out. */
export interface WireRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** The answer, body read in full (Pod admin answers are small). */
export interface WireResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends one request; rejects only when there is no HTTP answer. */
export type Transport = (request: WireRequest) => Promise<WireResponse>;

/** A `fetch`-compatible function, as `createPodClient({ fetch })` takes it. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/**
 * The default transport: undici's `request()` over a keep-alive agent owned by the client. It skips the WHATWG
 * `Request`/`Response` objects that make `fetch` several times slower per call at bulk concurrency.
 */
export function undiciTransport(): Transport {
  const dispatcher = new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000 });
  return async ({ url, method, headers, body, signal }) => {
    const res = await request(url, {
      method: method as "GET",
      headers,
      body,
      signal,
      dispatcher,
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
}

/** Adapts a user-supplied `fetch` (a proxy, a test double, msw's patched global) to the pipeline. */
export function fetchTransport(fetchFn: FetchLike): Transport {
  return async ({ url, method, headers, body, signal }) => {
    const res = await fetchFn(url, { method, headers, body: body ?? null, signal: signal ?? null });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
  };
}
