import type { SessionTokens } from "./auth.js";
import { PodApiError, PodNetworkError, podApiErrorFor } from "./errors.js";
import { backoffDelay, isRetryableStatus, parseRetryAfter, type RetryOptions, sleep } from "./retry.js";
import { AttemptSignal, type Transport, type WireResponse } from "./transport.js";

/** One logical call: what to send, plus the per-call knobs. */
export interface PodCall {
  method: string;
  /** Path below the base URL, uid filled in. */
  path: string;
  /** The user the call is about, for errors and reports. */
  uid?: string | undefined;
  body?: string | undefined;
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  retry: Required<RetryOptions>;
  timeoutMs: number;
}

const TIMED_OUT = Symbol("timed out");
const timeOut = (attempt: AttemptSignal) => attempt.abort(TIMED_OUT);
const USER_AGENT = "symphony-pod-admin";

/**
 * The request pipeline every call goes through, facade and raw alike: session token, per-attempt timeout,
 * retries with backoff, and a client-wide pause when the pod answers 429.
 * @internal
 */
export class PodHttp {
  readonly #baseUrl: string;
  readonly #tokens: SessionTokens;
  readonly #transport: Transport;
  /** While the pod is rate limiting us, no attempt of any call starts before this time (ms since epoch). */
  #pausedUntil = 0;
  readonly #rateLimitListeners = new Set<(delayMs: number) => void>();

  constructor(baseUrl: string, tokens: SessionTokens, transport: Transport) {
    this.#baseUrl = baseUrl;
    this.#tokens = tokens;
    this.#transport = transport;
  }

  /** Tells `listener` about every 429 any call of this client receives; returns the unsubscribe function. */
  onRateLimited(listener: (delayMs: number) => void): () => void {
    this.#rateLimitListeners.add(listener);
    return () => this.#rateLimitListeners.delete(listener);
  }

  /** Runs the call to a final answer, whatever its status; throws only when no answer came or the signal aborted. */
  async exchange(call: PodCall): Promise<{ response: WireResponse; attempts: number; token: string }> {
    const { retry, signal } = call;
    let token = await this.#tokens.current();
    let attempts = 0;
    let renewed = false;
    for (;;) {
      const wait = this.#pausedUntil - Date.now();
      if (wait > 0) await sleep(wait, signal);
      signal?.throwIfAborted();
      attempts++;
      const retriesLeft = attempts - (renewed ? 1 : 0) < retry.maxAttempts;
      let response: WireResponse;
      try {
        response = await this.#attempt(call, token);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        const timedOut = error === TIMED_OUT;
        if (retriesLeft) {
          await sleep(backoffDelay(attempts, retry), signal);
          continue;
        }
        throw new PodNetworkError(
          { method: call.method, path: call.path, uid: call.uid, timedOut, attempts },
          timedOut ? {} : { cause: error },
        );
      }
      // The first renewal is free; a call refused again (its new token expired too) pays with an attempt.
      if (response.status === 401 && this.#tokens.renewable && (!renewed || retriesLeft)) {
        renewed = true;
        token = await this.#tokens.renew(token);
        continue;
      }
      if (retriesLeft && isRetryableStatus(response.status)) {
        const asked = parseRetryAfter(headerValue(response, "retry-after"));
        const delay = asked === undefined ? backoffDelay(attempts, retry) : Math.min(asked, retry.maxRetryAfterMs);
        if (response.status === 429) {
          this.#pausedUntil = Math.max(this.#pausedUntil, Date.now() + delay);
          for (const listener of this.#rateLimitListeners) listener(delay);
        }
        await sleep(delay, signal);
        continue;
      }
      return { response, attempts, token };
    }
  }

  /**
   * Runs the call; a non-2xx answer is thrown as the matching {@link PodApiError}, a 2xx one is read with `parse`
   * (JSON by default; an empty body is `undefined`). An answer that cannot be read is a {@link PodApiError} too, not
   * a bare SyntaxError, since a proxy's page can stand in for the pod's answer.
   */
  async sendJson<T = unknown>(call: PodCall, parse: (text: string) => T = JSON.parse): Promise<T | undefined> {
    const { response, attempts, token } = await this.exchange(call);
    if (response.status < 200 || response.status >= 300) throw this.#errorFor(call, response, attempts, token);
    if (response.body === "") return undefined;
    try {
      return parse(response.body);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      const details = { status: response.status, method: call.method, path: call.path, uid: call.uid, attempts };
      throw new PodApiError({
        ...details,
        podMessage: `the answer could not be read (${redact(why, token)}): ${excerpt(response.body, token)}`,
        requestId: headerValue(response, "x-trace-id"),
      });
    }
  }

  async #attempt(call: PodCall, token: string): Promise<WireResponse> {
    const headers: Record<string, string> = {
      ...call.headers,
      sessionToken: token,
      accept: "application/json",
      "user-agent": USER_AGENT,
    };
    if (call.body !== undefined) headers["content-type"] = "application/json";
    const attempt = new AttemptSignal();
    const timer = setTimeout(timeOut, call.timeoutMs, attempt);
    const { signal } = call;
    const onAbort = signal ? () => attempt.abort(signal.reason) : undefined;
    if (onAbort) signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await this.#transport({
        url: this.#baseUrl + call.path,
        method: call.method,
        headers,
        body: call.body,
        signal: attempt,
      });
    } catch (error) {
      throw attempt.reason === TIMED_OUT ? TIMED_OUT : error;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  #errorFor(call: PodCall, response: WireResponse, attempts: number, token: string): PodApiError {
    let code: number | undefined;
    let podMessage: string | undefined;
    try {
      const parsed: unknown = JSON.parse(response.body);
      if (parsed && typeof parsed === "object") {
        const body = parsed as { code?: unknown; message?: unknown };
        if (typeof body.code === "number") code = body.code;
        if (typeof body.message === "string") podMessage = body.message;
      }
    } catch {
      podMessage = excerpt(response.body, token) || undefined;
    }
    if (podMessage !== undefined) podMessage = redact(podMessage, token);
    return podApiErrorFor({
      status: response.status,
      method: call.method,
      path: call.path,
      uid: call.uid,
      code,
      podMessage,
      requestId: headerValue(response, "x-trace-id"),
      attempts,
      retryAfterMs: response.status === 429 ? parseRetryAfter(headerValue(response, "retry-after")) : undefined,
    });
  }
}

/** A pod (or proxy) echoing the request back must not leak the token into logs; redact before cutting. */
function redact(text: string, token: string): string {
  return text.includes(token) ? text.replaceAll(token, "[redacted]") : text;
}

function excerpt(body: string, token: string): string {
  return redact(body, token).trim().slice(0, 200);
}

function headerValue(response: WireResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}
