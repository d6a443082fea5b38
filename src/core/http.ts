/**
 * The pipeline every request passes: rate limiter, circuit breakers, session token, trace id and user agent,
 * retries with backoff, timeouts, the answer's size limit, redirects refused, and the reading of an answer into a
 * result or a PodApiError. A little over 450 lines: it is one loop (`exchange`) and the state it keeps, which reads
 * best in one place.
 */
import { AnswerTooLargeError, DEFAULT_MAX_ANSWER_BYTES } from "./answer-body.js";
import type { SessionTokenContext, SessionTokens } from "./auth.js";
import type { ClientCertificate } from "./connection.js";
import { connectionFailure } from "./connection-failure.js";
import { type CircuitBreakerName, describeCause, PodApiError, PodNetworkError, podApiErrorFor } from "./errors.js";
import { noAnswerWhy, type PodLog, pathTemplate } from "./log.js";
import type { AdaptiveRateLimiter } from "./rate-limiter.js";
import { isRedirect, redirectRefused } from "./redirects.js";
import { backoffDelay, isRetryableStatus, parseRetryAfter, type RetryOptions, resolveRetry, sleep } from "./retry.js";
import { AttemptSignal, headerValue, type Transport, type WireResponse } from "./transport.js";
import { newTraceId, USER_AGENT } from "./version.js";

/** One logical call: what to send, plus the per-call knobs. */
export interface PodCall {
  method: string;
  /** Path below the base URL, uid filled in; or, with `url`, the path to name in errors. */
  path: string;
  /** An absolute URL to send to instead of base URL + path (the login, on its own host). */
  url?: string | undefined;
  /** The user the call is about, for errors and reports. */
  uid?: string | undefined;
  /** The JSON body; a function is called for every attempt (a login's JWT must be fresh). */
  body?: string | (() => string | Promise<string>) | undefined;
  headers?: Record<string, string> | undefined;
  signal?: AbortSignal | undefined;
  retry: Required<RetryOptions>;
  timeoutMs: number;
  /** False for calls that carry no session token and do not count against the pod's rate (the login). */
  session?: boolean | undefined;
}

/** Which call an answer belongs to, for its error. @internal */
export interface AnswerMeta {
  method: string;
  path: string;
  uid?: string | undefined;
  attempts: number;
  requestId?: string | undefined;
}

/** A final answer as the facade reads it, whether it came as a light answer or a `Response`. @internal */
export interface Answer {
  status: number;
  header(name: string): string | undefined;
  body: string;
}

/** What a call came back with. */
export interface Exchange {
  response: WireResponse;
  attempts: number;
  /** The `X-Trace-Id` sent, the pod's own when it answered one. */
  requestId: string;
}

/**
 * Thrown by an answer decoder when a 2xx answer is not what the spec says. Its message must describe the problem
 * without quoting the body: the pipeline adds one redacted excerpt itself.
 * @internal
 */
export class UnreadableAnswer extends Error {}

/** Reads a 2xx answer's text; throws {@link UnreadableAnswer} when it does not match the spec. @internal */
export type AnswerDecoder<T> = (text: string) => T;

const TIMED_OUT = Symbol("timed out");
const timeOut = (attempt: AttemptSignal) => attempt.abort(TIMED_OUT);

/** The connectivity breaker opens when no call got an HTTP answer for this long, over at least so many attempts. */
export const UNREACHABLE_AFTER_MS = 10_000;
const UNREACHABLE_MIN_FAILURES = 5;
/** While open, one probe is let through this often, in milliseconds. */
export const UNREACHABLE_PROBE_EVERY_MS = 5_000;

/**
 * The connectivity breaker. A pod that is down (connection refused, DNS, every attempt timing out) would otherwise
 * cost every call its whole retry budget, an hour for a large run. Once no attempt got any HTTP answer for
 * {@link UNREACHABLE_AFTER_MS}, calls fail fast; every {@link UNREACHABLE_PROBE_EVERY_MS} one attempt goes out as a
 * probe, and its answer closes the breaker.
 * @internal
 */
export class ConnectivityBreaker {
  readonly #now: () => number;
  #failures = 0;
  #failingSince = 0;
  #openUntil: number | undefined;
  #probing = false;
  #lastCause: unknown;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get open(): boolean {
    return this.#openUntil !== undefined;
  }

  /** "go", "probe" (this attempt is the half-open probe), or "blocked". */
  admit(): "go" | "probe" | "blocked" {
    if (this.#openUntil === undefined) return "go";
    if (this.#probing || this.#now() < this.#openUntil) return "blocked";
    this.#probing = true;
    return "probe";
  }

  answered(): void {
    this.#failures = 0;
    this.#openUntil = undefined;
    this.#probing = false;
  }

  /** An attempt got no answer; true when the breaker is open afterwards. */
  failed(cause: unknown, wasProbe: boolean): boolean {
    const now = this.#now();
    this.#lastCause = cause;
    if (wasProbe) this.#probing = false;
    if (this.#openUntil !== undefined) {
      if (wasProbe) this.#openUntil = now + UNREACHABLE_PROBE_EVERY_MS;
      return true;
    }
    if (this.#failures++ === 0) this.#failingSince = now;
    if (this.#failures >= UNREACHABLE_MIN_FAILURES && now - this.#failingSince >= UNREACHABLE_AFTER_MS) {
      this.#openUntil = now + UNREACHABLE_PROBE_EVERY_MS;
      return true;
    }
    return false;
  }

  /** A probe ended without an answer or a failure (its caller aborted): let the next attempt probe. */
  released(wasProbe: boolean): void {
    if (wasProbe) this.#probing = false;
  }

  get lastCause(): unknown {
    return this.#lastCause;
  }

  note(): string {
    return (
      `The pod has not answered any call for over ${UNREACHABLE_AFTER_MS / 1000} s (${this.#lastCause === TIMED_OUT ? "every attempt timed out" : describeCause(this.#lastCause)}), ` +
      `so calls fail fast; one probe goes out every ${UNREACHABLE_PROBE_EVERY_MS / 1000} s and its answer resumes ` +
      "them. Check the pod URL, the network and the pod's status page"
    );
  }
}

/** The knobs of a {@link PodHttp} that have defaults. @internal */
export interface PodHttpOptions {
  /** Its connectivity breaker (a test's, on a fake clock); a new one by default. */
  connectivity?: ConnectivityBreaker | undefined;
  /** The largest answer read, in bytes; {@link DEFAULT_MAX_ANSWER_BYTES} by default. */
  maxAnswerBytes?: number | undefined;
  /** The client's log, when it has a logger. */
  log?: PodLog | undefined;
}

/**
 * The request pipeline every call goes through, facade, bulk, raw and login alike: the rate limiter, the circuit
 * breakers, the session token (read for every attempt), `X-Trace-Id` and `User-Agent`, a per-attempt timeout, and
 * retries with backoff.
 * @internal
 */
export class PodHttp {
  readonly #baseUrl: string;
  readonly #tokens: SessionTokens | undefined;
  readonly #transport: Transport;
  readonly limiter: AdaptiveRateLimiter | undefined;
  readonly connectivity: ConnectivityBreaker;
  /** The largest answer read, in bytes (received, and inflated when compressed); a larger one is a PodApiError. */
  readonly maxAnswerBytes: number;
  /** The client's log, when it has a logger. */
  readonly log: PodLog | undefined;
  /** The session breaker's trip last logged: each trip is logged once. */
  #loggedSessionBlock: unknown;

  constructor(
    baseUrl: string,
    tokens: SessionTokens | undefined,
    transport: Transport,
    limiter: AdaptiveRateLimiter | undefined,
    options: PodHttpOptions = {},
  ) {
    this.#baseUrl = baseUrl;
    this.#tokens = tokens;
    this.#transport = transport;
    this.limiter = limiter;
    this.connectivity = options.connectivity ?? new ConnectivityBreaker();
    this.maxAnswerBytes = options.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
    this.log = options.log;
  }

  /** Runs the call to a final answer, whatever its status; throws only when no answer came, a breaker is open, or the signal aborted. */
  async exchange(call: PodCall): Promise<Exchange> {
    const { retry, signal } = call;
    const session = call.session !== false ? this.#tokens : undefined;
    const limiter = call.session !== false ? this.limiter : undefined;
    const traceId = call.headers?.["x-trace-id"] ?? newTraceId();
    let attempts = 0;
    let renewed = false;
    /** Whether the pod answered this call 429 before. */
    let refusedBefore = false;
    const refusalsAtStart = session?.refusals;
    for (;;) {
      signal?.throwIfAborted();
      const blockedEarly = session?.blocked();
      if (blockedEarly) throw this.#sessionError(call, attempts, traceId, blockedEarly.note, undefined);
      const gate = this.connectivity.admit();
      if (gate === "blocked") throw this.#unreachableError(call, attempts);
      // Both are synchronous when the call may go at once and the token is known: no extra tick then.
      let ticket = limiter ? acquire(limiter, signal, this.connectivity, gate) : 0;
      if (typeof ticket !== "number") ticket = await ticket;
      // Read after the wait for a turn, for every attempt: another call may have renewed the token meanwhile.
      let token: string | undefined;
      // A refused plain token: this call is the one sent to see whether the pod accepts it again.
      let sessionProbe = false;
      try {
        const admitted = session?.admit(refusalsAtStart);
        if (typeof admitted === "object") throw this.#sessionError(call, attempts, traceId, admitted.note, undefined);
        sessionProbe = admitted === "probe";
        const current = session?.current();
        token = typeof current === "object" ? await current : current;
      } catch (error) {
        if (sessionProbe) session?.released();
        limiter?.noAnswer(ticket);
        this.connectivity.released(gate === "probe");
        throw error;
      }
      attempts++;
      const log = this.log;
      const sentAt = log === undefined ? 0 : performance.now();
      if (log?.debug) {
        const fields = this.#logFields(call, traceId, attempts);
        log.emit("pod.request", fields, `${callText(fields)} sent (attempt ${attempts})`);
      }
      const wasOpen = log !== undefined && this.connectivity.open;
      let response: WireResponse;
      try {
        response = await this.#attempt(call, token, traceId);
      } catch (error) {
        if (sessionProbe) session?.released();
        if (error instanceof AnswerTooLargeError) {
          // The pod answered, too much: the same call would get the same answer, so it is not retried.
          this.connectivity.answered();
          if (wasOpen) this.#logBreakerClosed();
          limiter?.answered(ticket, error.status);
          throw this.#tooLargeError(call, attempts, traceId, error);
        }
        limiter?.noAnswer(ticket);
        if (signal?.aborted) {
          this.connectivity.released(gate === "probe");
          throw signal.reason;
        }
        const timedOut = error === TIMED_OUT;
        const why = log === undefined ? "" : noAnswerWhy(error, timedOut);
        if (log?.debug) {
          const fields = { ...this.#logFields(call, traceId, attempts), error: why, ms: elapsed(sentAt) };
          log.emit("pod.answer", fields, `${callText(fields)} got no answer (${why})`);
        }
        // An untrusted certificate or a proxy refusing the tunnel does not heal by retrying.
        const final = !timedOut && connectionFailure(error)?.final === true;
        if (final) this.connectivity.released(gate === "probe");
        else if (this.connectivity.failed(error, gate === "probe")) {
          if (log !== undefined && !wasOpen) {
            const text = `the pod has not answered for over ${UNREACHABLE_AFTER_MS / 1000} s (${why}): calls fail fast`;
            log.emit("breaker.open", { breaker: "unreachable", why }, text);
          }
          throw this.#unreachableError(call, attempts);
        }
        if (!final && attempts < retry.maxAttempts + (renewed ? 1 : 0)) {
          const delay = backoffDelay(attempts, retry);
          if (log !== undefined) this.#logRetry(log, call, traceId, attempts, why, delay);
          await sleep(delay, signal);
          continue;
        }
        throw new PodNetworkError(
          { method: call.method, path: call.path, uid: call.uid, timedOut, attempts },
          timedOut ? {} : { cause: error },
        );
      }
      this.connectivity.answered();
      if (log !== undefined) {
        if (wasOpen) this.#logBreakerClosed();
        if (log.debug) {
          const fields = {
            ...this.#logFields(call, requestIdOf(response, traceId), attempts),
            status: response.status,
            ms: elapsed(sentAt),
          };
          log.emit("pod.answer", fields, `${callText(fields)} answered ${response.status}`);
        }
      }
      limiter?.answered(ticket, response.status);
      if (isRedirect(response.status, response.redirected)) {
        const url = call.url ?? this.#baseUrl + call.path;
        const location = headerValue(response, "location");
        throw redirectRefused({ ...call, url }, response.status, location, response.redirected, attempts, traceId);
      }
      const retriesLeft = attempts - (renewed ? 1 : 0) < retry.maxAttempts;
      if (session && token !== undefined) {
        if (sessionProbe && response.status !== 401 && log !== undefined) {
          log.emit("breaker.close", { breaker: "session", why: "accepted" }, "the pod accepts the session token again");
        }
        if (response.status !== 401) session.accepted(token);
        // The first renewal is free; a call refused again (its new token expired too) pays with an attempt.
        else if (!renewed || retriesLeft) {
          if (log !== undefined && session.renewable) {
            const fields = this.#logFields(call, requestIdOf(response, traceId), attempts);
            log.emit("session.refresh", fields, "the pod refused the session token (401): renewing it");
          }
          try {
            await session.renew(token);
          } catch (reason) {
            const note = isSessionBlocked(reason) ? reason.note : undefined;
            if (note === undefined) throw reason; // the provider's own error (a refused login)
            // Once per trip: every call refused while it is open is told the same reason.
            if (log !== undefined && reason !== this.#loggedSessionBlock) {
              this.#loggedSessionBlock = reason;
              log.emit("breaker.open", { breaker: "session", why: "401" }, `the session breaker opened: ${note}`);
            }
            throw this.#sessionError(call, attempts, requestIdOf(response, traceId), note, response);
          }
          renewed = true;
          continue;
        }
      }
      if (retriesLeft && isRetryableStatus(response.status)) {
        const asked = parseRetryAfter(headerValue(response, "retry-after"));
        const delay = asked === undefined ? backoffDelay(attempts, retry) : Math.min(asked, retry.maxRetryAfterMs);
        // A call's first 429 waits for the pod to admit again (the limiter's probe), at most that long, if an attempt
        // is left after the next one to wait it out: a call refused again waits it out, so that a pod refusing half
        // its calls (or a probe this call carried) cannot spend its attempts in a second.
        const early =
          limiter !== undefined &&
          response.status === 429 &&
          !refusedBefore &&
          attempts - (renewed ? 1 : 0) + 1 < retry.maxAttempts;
        if (log !== undefined) this.#logRetry(log, call, traceId, attempts, `status ${response.status}`, delay, early);
        if (response.status === 429) refusedBefore = true;
        await (early ? limiter.waitToRetry(delay, signal, asked ?? delay) : sleep(delay, signal));
        continue;
      }
      return { response, attempts, requestId: requestIdOf(response, traceId) };
    }
  }

  /**
   * Reads a final answer: a non-2xx one becomes the matching {@link PodApiError}; a 2xx one is read with `decode`,
   * and one `decode` refuses (empty, not JSON, not the spec's shape) is a {@link PodApiError} saying so, since a
   * proxy's page can stand in for the pod's answer. The answer's text appears only as a redacted excerpt.
   */
  readAnswer<T>(call: AnswerMeta, answer: Answer, decode: AnswerDecoder<T>): T {
    if (answer.status < 200 || answer.status >= 300) throw this.#errorFor(call, answer);
    try {
      return decode(answer.body);
    } catch (error) {
      if (!(error instanceof UnreadableAnswer)) throw error;
      const body = this.excerpt(answer.body);
      throw new PodApiError({
        status: answer.status,
        method: call.method,
        path: call.path,
        uid: call.uid,
        attempts: call.attempts,
        requestId: call.requestId,
        podMessage: `the answer ${error.message}${body ? `: ${body}` : ""}`,
      });
    }
  }

  /**
   * The one way an answer's text reaches an error: the session token redacted first, then cut to 200 characters.
   * Nothing else (no parser's message about the text) may quote it.
   */
  excerpt(text: string): string {
    let redacted = text;
    for (const token of this.#tokens?.recent ?? []) {
      if (redacted.includes(token)) redacted = redacted.replaceAll(token, "[redacted]");
    }
    return redacted.trim().slice(0, 200);
  }

  /** The fields every event about a call carries: never its body, headers or query string. */
  #logFields(call: PodCall, traceId: string, attempt: number): Record<string, unknown> {
    const fields: Record<string, unknown> = { method: call.method, path: pathTemplate(call.path, call.uid) };
    if (call.uid !== undefined) fields.uid = call.uid;
    fields.attempt = attempt;
    fields.traceId = traceId;
    return fields;
  }

  /** `sooner`: the wait ends early if the pod admits a call meanwhile ({@link AdaptiveRateLimiter.waitToRetry}). */
  #logRetry(
    log: PodLog,
    call: PodCall,
    traceId: string,
    attempt: number,
    why: string,
    delayMs: number,
    sooner = false,
  ) {
    const ms = Math.round(delayMs);
    const fields = { ...this.#logFields(call, traceId, attempt), why, delayMs: ms, ...(sooner && { sooner }) };
    const when = sooner ? `when the pod admits again, in ${ms} ms at most` : `in ${ms} ms`;
    log.emit("pod.retry", fields, `${callText(fields)} retried ${when} (${why})`);
  }

  #logBreakerClosed(): void {
    this.log?.emit("breaker.close", { breaker: "unreachable", why: "answered" }, "the pod answers again");
  }

  async #attempt(call: PodCall, token: string | undefined, traceId: string): Promise<WireResponse> {
    // A literal first, the call's own headers after: spreading them first made a slow dictionary object (~3 µs).
    const headers: Record<string, string> =
      token === undefined
        ? { accept: "application/json", "user-agent": USER_AGENT, "x-trace-id": traceId }
        : { accept: "application/json", "user-agent": USER_AGENT, "x-trace-id": traceId, sessionToken: token };
    const own = call.headers;
    if (own !== undefined) {
      for (const name of Object.keys(own)) {
        if (!Object.hasOwn(headers, name)) headers[name] = own[name] as string;
      }
    }
    if (call.body !== undefined) headers["content-type"] = "application/json";
    const body = typeof call.body === "function" ? await call.body() : call.body;
    const attempt = new AttemptSignal();
    const timer = setTimeout(timeOut, call.timeoutMs, attempt);
    const { signal } = call;
    const onAbort = signal ? () => attempt.abort(signal.reason) : undefined;
    if (onAbort) signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await this.#transport({
        url: call.url ?? this.#baseUrl + call.path,
        method: call.method,
        headers,
        body,
        signal: attempt,
        maxBytes: this.maxAnswerBytes,
      });
    } catch (error) {
      throw attempt.reason === TIMED_OUT ? TIMED_OUT : error;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener("abort", onAbort);
    }
  }

  #sessionError(
    call: PodCall,
    attempts: number,
    requestId: string,
    note: string,
    response: WireResponse | undefined,
  ): PodApiError {
    const pod = response ? this.#podError(response) : {};
    return podApiErrorFor({
      status: 401,
      method: call.method,
      path: call.path,
      uid: call.uid,
      attempts,
      requestId,
      ...pod,
      note,
      circuitBreaker: "session" satisfies CircuitBreakerName,
    });
  }

  #tooLargeError(call: PodCall, attempts: number, traceId: string, error: AnswerTooLargeError): PodApiError {
    const echoed = error.headers["x-trace-id"];
    return podApiErrorFor({
      status: error.status,
      method: call.method,
      path: call.path,
      uid: call.uid,
      attempts,
      requestId: (Array.isArray(echoed) ? echoed.join(", ") : echoed) ?? traceId,
      podMessage: error.detail,
    });
  }

  #unreachableError(call: PodCall, attempts: number): PodNetworkError {
    return new PodNetworkError(
      {
        method: call.method,
        path: call.path,
        uid: call.uid,
        timedOut: this.connectivity.lastCause === TIMED_OUT,
        attempts,
        note: this.connectivity.note(),
        circuitBreaker: "unreachable",
      },
      this.connectivity.lastCause === TIMED_OUT ? {} : { cause: this.connectivity.lastCause },
    );
  }

  #podError(response: { body: string }): { code?: number; podMessage?: string } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.body);
    } catch {
      const podMessage = this.excerpt(response.body);
      return podMessage ? { podMessage } : {};
    }
    const out: { code?: number; podMessage?: string } = {};
    if (parsed && typeof parsed === "object") {
      const body = parsed as { code?: unknown; message?: unknown };
      if (typeof body.code === "number") out.code = body.code;
      if (typeof body.message === "string") out.podMessage = this.excerpt(body.message);
    }
    return out;
  }

  #errorFor(call: AnswerMeta, answer: Answer): PodApiError {
    return podApiErrorFor({
      status: answer.status,
      method: call.method,
      path: call.path,
      uid: call.uid,
      ...this.#podError(answer),
      requestId: call.requestId,
      attempts: call.attempts,
      retryAfterMs: answer.status === 429 ? parseRetryAfter(answer.header("retry-after")) : undefined,
    });
  }
}

/** Waits for the limiter; a half-open probe does not queue behind the calls it is meant to unblock. */
function acquire(
  limiter: AdaptiveRateLimiter,
  signal: AbortSignal | undefined,
  connectivity: ConnectivityBreaker,
  gate: "go" | "probe",
): number | Promise<number> {
  const ticket = limiter.acquire(signal);
  if (gate !== "probe" || typeof ticket === "number") return ticket;
  return ticket.catch((reason: unknown) => {
    connectivity.released(true);
    throw reason;
  });
}

function isSessionBlocked(value: unknown): value is { note: string } {
  return value !== null && typeof value === "object" && typeof (value as { note?: unknown }).note === "string";
}

/** A call in a log message: `POST /v1/admin/user/{uid}/features/update for user 7`. */
const callText = (fields: Record<string, unknown>) =>
  `${fields.method} ${fields.path}${fields.uid === undefined ? "" : ` for user ${fields.uid}`}`;

const elapsed = (since: number) => Math.round((performance.now() - since) * 10) / 10;

function requestIdOf(response: WireResponse, sent: string): string {
  return headerValue(response, "x-trace-id") ?? sent;
}

/**
 * The login's own lane of the pipeline, as a {@link SessionTokenContext}: a transport, a retry policy, a timeout,
 * trace id and user agent, without the pod's rate limiter or its connectivity breaker (the login host is another
 * server). The client hands one to its token provider; `rsaAuthentication` builds one when used on its own.
 * @internal
 */
export function loginLane(
  transport: Transport,
  defaults: { retry: Required<RetryOptions>; timeoutMs: number },
  certificateTransport?: (certificate: ClientCertificate) => Transport,
  maxAnswerBytes = DEFAULT_MAX_ANSWER_BYTES,
  log?: PodLog,
): SessionTokenContext {
  const http = new PodHttp("", undefined, transport, undefined, { maxAnswerBytes, log });
  const withCertificate = new Map<ClientCertificate, PodHttp>();
  return {
    async send({ url, body, retry, timeoutMs, clientCertificate }) {
      let lane = http;
      // A certificate login's connections present its certificate; without a factory (a fetch or dispatcher of
      // the caller's) the caller's own connections are used as they are.
      if (clientCertificate !== undefined && certificateTransport !== undefined) {
        lane = withCertificate.get(clientCertificate) ?? http;
        if (lane === http) {
          lane = new PodHttp("", undefined, certificateTransport(clientCertificate), undefined, {
            maxAnswerBytes,
            log,
          });
          withCertificate.set(clientCertificate, lane);
        }
      }
      const { host, pathname: path } = new URL(url); // never the query string or credentials
      const kind = clientCertificate === undefined ? "rsa" : "certificate";
      const startedAt = performance.now();
      log?.emit("login.start", { kind, host, path }, `${kind} login to ${host}`);
      let exchanged: Exchange;
      try {
        exchanged = await lane.exchange({
          method: "POST",
          path,
          url,
          body,
          session: false,
          retry: resolveRetry(defaults.retry, retry, "retry"),
          timeoutMs: timeoutMs ?? defaults.timeoutMs,
        });
      } catch (error) {
        if (log !== undefined) {
          const why = noAnswerWhy(error, error instanceof PodNetworkError && error.timedOut);
          const fields = { kind, host, path, why, ms: elapsed(startedAt) };
          log.emit("login.failure", fields, `${kind} login to ${host} got no answer (${why})`);
        }
        throw error;
      }
      const { response, attempts, requestId } = exchanged;
      if (log !== undefined) {
        const ok = response.status >= 200 && response.status < 300;
        const fields = {
          kind,
          host,
          path,
          status: response.status,
          attempts,
          ms: elapsed(startedAt),
          traceId: requestId,
        };
        if (ok) log.emit("login.success", fields, `${kind} login to ${host} succeeded`);
        else
          log.emit(
            "login.failure",
            { ...fields, why: `status ${response.status}` },
            `${kind} login refused (${response.status})`,
          );
      }
      return { status: response.status, body: response.body, attempts, requestId };
    },
  };
}
