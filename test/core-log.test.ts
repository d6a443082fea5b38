/**
 * Issue 22's log, as the pipeline (src/core/http.ts) emits it: each event's exact fields, level and message, for
 * an attempt and its answer, a retry, the connectivity and session breakers, a token renewal and the login lane.
 * A pipeline over a transport double, its breaker on a clock the test moves (as test/core-http.test.ts); the
 * whole-client view (a real pod, no secret in any line) is test/log.test.ts.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { AnswerTooLargeError } from "../src/core/answer-body.js";
import { SessionTokens } from "../src/core/auth.js";
import { ConnectivityBreaker, loginLane, type PodCall, PodHttp } from "../src/core/http.js";
import { type Logger, type LogLevel, PodLog } from "../src/core/log.js";
import { AdaptiveRateLimiter } from "../src/core/rate-limiter.js";
import { DEFAULT_RETRY } from "../src/core/retry.js";
import type { Transport, WireRequest, WireResponse } from "../src/core/transport.js";
import { PodApiError, PodNetworkError } from "../src/index.js";

afterEach(() => {
  vi.useRealTimers();
});

type Line = { level: string; fields: Record<string, unknown>; message: unknown };

/** A logger that records every call, arguments as given. */
function recorder(): Logger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: object, message?: string) => {
    lines.push({ level, fields: fields as Record<string, unknown>, message });
  };
  return { lines, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

const OK: WireResponse = { status: 200, headers: {}, body: "[]" };
const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
const delayed = (ms: number, answer: WireResponse) =>
  new Promise<WireResponse>((resolve) => setTimeout(() => resolve(answer), ms));

/** A pipeline over a transport whose answers the test sets (one per attempt, in order), with a log. */
function pipeline(level: LogLevel, tokens?: SessionTokens, limiter?: AdaptiveRateLimiter) {
  const time = { now: 0 };
  const requests: WireRequest[] = [];
  const state = { answers: [] as ((request: WireRequest) => Promise<WireResponse>)[] };
  const transport = Object.assign(
    (request: WireRequest) => {
      requests.push(request);
      const next = state.answers.length > 1 ? state.answers.shift() : state.answers[0];
      return next ? next(request) : Promise.resolve(OK);
    },
    { close: async () => {} },
  ) as Transport;
  const logger = recorder();
  const http = new PodHttp("https://acme.pod.test/pod", tokens, transport, limiter, {
    connectivity: new ConnectivityBreaker(() => time.now),
    log: new PodLog(logger, level),
  });
  return { http, time, state, requests, lines: logger.lines };
}

const call = (extra: Partial<PodCall> = {}): PodCall => ({
  method: "GET",
  path: "/v1/admin/user/7215545057281/features",
  uid: "7215545057281",
  retry: { ...DEFAULT_RETRY, maxAttempts: 1 },
  timeoutMs: 1_000,
  ...extra,
});

const CALL = { method: "GET", path: "/v1/admin/user/{uid}/features", uid: "7215545057281" };
const CALL_TEXT = "GET /v1/admin/user/{uid}/features for user 7215545057281";

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

describe("an attempt, its answer and a retry", () => {
  it("debug: the request, no answer (its code), the retry (why, whole ms), the request again and its answer", async () => {
    const { http, state, requests, lines } = pipeline("debug");
    state.answers = [
      () => Promise.reject(refused),
      () => delayed(30, { status: 200, headers: { "x-trace-id": "pod-echo-1" }, body: "[]" }),
    ];
    const retry = { ...DEFAULT_RETRY, maxAttempts: 2, initialDelayMs: 3 };
    const startedAt = performance.now();
    await http.exchange(call({ retry }));
    const wall = performance.now() - startedAt;

    const sent = requests[0]?.headers["x-trace-id"];
    expect(requests[1]?.headers["x-trace-id"]).toBe(sent);
    expect(lines.map((l) => l.level)).toEqual(["debug", "debug", "info", "debug", "debug"]);
    const [request, noAnswer, retried, again, answer] = lines;
    expect(request?.fields).toStrictEqual({ event: "pod.request", ...CALL, attempt: 1, traceId: sent });
    expect(request?.message).toBe(`${CALL_TEXT} sent (attempt 1)`);
    expect(noAnswer?.fields).toStrictEqual({
      event: "pod.answer",
      ...CALL,
      attempt: 1,
      traceId: sent,
      error: "ECONNREFUSED",
      ms: noAnswer?.fields.ms,
    });
    expect(noAnswer?.message).toBe(`${CALL_TEXT} got no answer (ECONNREFUSED)`);
    const delayMs = retried?.fields.delayMs as number;
    expect(Number.isInteger(delayMs)).toBe(true); // whole milliseconds, in the fields and the message
    expect(delayMs).toBeGreaterThanOrEqual(1); // 1.5 to 3 ms: half fixed, half random
    expect(delayMs).toBeLessThanOrEqual(3);
    expect(retried?.fields).toStrictEqual({
      event: "pod.retry",
      ...CALL,
      attempt: 1,
      traceId: sent,
      why: "ECONNREFUSED",
      delayMs,
    });
    expect(retried?.message).toBe(`${CALL_TEXT} retried in ${delayMs} ms (ECONNREFUSED)`);
    expect(again?.fields).toStrictEqual({ event: "pod.request", ...CALL, attempt: 2, traceId: sent });
    expect(again?.message).toBe(`${CALL_TEXT} sent (attempt 2)`);
    // The answer carries the trace id the pod echoed, and how long the attempt took (to the tenth of a ms).
    expect(answer?.fields).toStrictEqual({
      event: "pod.answer",
      ...CALL,
      attempt: 2,
      traceId: "pod-echo-1",
      status: 200,
      ms: answer?.fields.ms,
    });
    expect(answer?.message).toBe(`${CALL_TEXT} answered 200`);
    const ms = answer?.fields.ms as number;
    expect(ms).toBeGreaterThanOrEqual(25);
    expect(ms).toBeLessThanOrEqual(wall);
    expect(Math.round(ms * 10)).toBe(ms * 10);
    const noAnswerMs = noAnswer?.fields.ms as number;
    expect(noAnswerMs).toBeGreaterThanOrEqual(0);
    expect(noAnswerMs).toBeLessThanOrEqual(wall - ms);
  });

  it("a call without a uid: no uid field, and the message names none", async () => {
    const { http, lines } = pipeline("debug");
    await http.exchange(call({ path: "/v2/admin/user/list?skip=0", uid: undefined, headers: { "x-trace-id": "t-1" } }));
    expect(lines.map((l) => [l.fields, l.message])).toStrictEqual([
      [
        { event: "pod.request", method: "GET", path: "/v2/admin/user/list", attempt: 1, traceId: "t-1" },
        "GET /v2/admin/user/list sent (attempt 1)",
      ],
      [
        {
          event: "pod.answer",
          method: "GET",
          path: "/v2/admin/user/list",
          attempt: 1,
          traceId: "t-1",
          status: 200,
          ms: lines[1]?.fields.ms,
        },
        "GET /v2/admin/user/list answered 200",
      ],
    ]);
  });

  it("info: no request or answer; a retried status says its status and the Retry-After wait, rounded", async () => {
    const { http, state, lines } = pipeline("info");
    state.answers = [
      () => Promise.resolve({ status: 503, headers: { "retry-after": "0.0016", "x-trace-id": "echo-503" }, body: "" }),
      () => Promise.resolve(OK),
    ];
    await http.exchange(call({ retry: { ...DEFAULT_RETRY, maxAttempts: 2 }, headers: { "x-trace-id": "t-2" } }));
    expect(lines).toStrictEqual([
      {
        level: "info",
        fields: { event: "pod.retry", ...CALL, attempt: 1, traceId: "t-2", why: "status 503", delayMs: 2 },
        message: `${CALL_TEXT} retried in 2 ms (status 503)`,
      },
    ]);
  });

  it("a call's first 429 is retried when the pod admits again (at most its Retry-After), a second one after it", async () => {
    const { http, state, lines } = pipeline("info", undefined, new AdaptiveRateLimiter());
    const refused = { status: 429, headers: { "retry-after": "0.0016" }, body: "" };
    state.answers = [() => Promise.resolve(refused), () => Promise.resolve(refused), () => Promise.resolve(OK)];
    await http.exchange(call({ retry: { ...DEFAULT_RETRY, maxAttempts: 3 }, headers: { "x-trace-id": "t-4" } }));
    const retry = { event: "pod.retry", ...CALL, traceId: "t-4", why: "status 429", delayMs: 2 };
    expect(lines.filter((line) => line.fields.event === "pod.retry")).toStrictEqual([
      {
        level: "info",
        fields: { ...retry, attempt: 1, sooner: true },
        message: `${CALL_TEXT} retried when the pod admits again, in 2 ms at most (status 429)`,
      },
      { level: "info", fields: { ...retry, attempt: 2 }, message: `${CALL_TEXT} retried in 2 ms (status 429)` },
    ]);
  });

  it("an attempt that timed out: its error is timeout", async () => {
    const { http, state, lines } = pipeline("debug");
    state.answers = [
      (request) =>
        new Promise<WireResponse>((_, reject) => {
          request.signal?.once("abort", () => reject(new Error("the request was aborted")));
        }),
    ];
    const error = await failure(http.exchange(call({ timeoutMs: 5, headers: { "x-trace-id": "t-3" } })));
    expect(error).toMatchObject({ timedOut: true });
    expect(lines[1]?.fields).toMatchObject({ event: "pod.answer", error: "timeout" });
    expect(lines[1]?.message).toBe(`${CALL_TEXT} got no answer (timeout)`);
    expect(lines).toHaveLength(2);
  });
});

describe("the connectivity breaker", () => {
  it("opens once (warn, with the cause), stays quiet while probes fail, and closes on the first answer", async () => {
    const { http, time, state, lines } = pipeline("info");
    state.answers = [() => Promise.reject(refused)];
    for (let i = 0; i < 5; i++) {
      time.now = i * 2_500;
      expect(await failure(http.exchange(call()))).toBeInstanceOf(PodNetworkError);
    }
    expect(http.connectivity.open).toBe(true);
    const opened = {
      level: "warn",
      fields: { event: "breaker.open", breaker: "unreachable", why: "ECONNREFUSED" },
      message: "the pod has not answered for over 10 s (ECONNREFUSED): calls fail fast",
    };
    expect(lines).toStrictEqual([opened]);

    time.now = 15_000; // the probe fails too: the breaker stays open, nothing new is logged
    expect(await failure(http.exchange(call()))).toBeInstanceOf(PodNetworkError);
    expect(await failure(http.exchange(call()))).toMatchObject({ attempts: 0, circuitBreaker: "unreachable" });
    expect(lines).toStrictEqual([opened]);

    time.now = 20_000; // the next probe is answered
    state.answers = [() => Promise.resolve(OK)];
    await http.exchange(call());
    await http.exchange(call());
    const closed = {
      level: "info",
      fields: { event: "breaker.close", breaker: "unreachable", why: "answered" },
      message: "the pod answers again",
    };
    expect(lines).toStrictEqual([opened, closed]);
  });

  it("a probe answered with more than the size limit closes it too (an answer too large with it closed: nothing)", async () => {
    const { http, time, state, lines } = pipeline("info");
    const tooLarge = (request: WireRequest) =>
      Promise.reject(new AnswerTooLargeError(200, {}, request.maxBytes ?? 0, "received"));
    state.answers = [tooLarge];
    expect(await failure(http.exchange(call()))).toBeInstanceOf(PodApiError);
    expect(lines).toStrictEqual([]);
    state.answers = [() => Promise.reject(refused)];
    for (let i = 0; i < 5; i++) {
      time.now = i * 2_500;
      await failure(http.exchange(call()));
    }
    time.now = 15_000;
    state.answers = [tooLarge];
    expect(await failure(http.exchange(call()))).toBeInstanceOf(PodApiError);
    expect(http.connectivity.open).toBe(false);
    expect(lines.map((l) => [l.level, l.fields])).toStrictEqual([
      ["warn", { event: "breaker.open", breaker: "unreachable", why: "ECONNREFUSED" }],
      ["info", { event: "breaker.close", breaker: "unreachable", why: "answered" }],
    ]);
  });
});

describe("the session", () => {
  const refused401: WireResponse = { status: 401, headers: { "x-trace-id": "echo-401" }, body: "" };

  it("a plain token refused: the breaker opens once per trip (warn, its note) and closes when the pod accepts it", async () => {
    const { http, state, lines } = pipeline("info", new SessionTokens("plain-token"));
    state.answers = [() => Promise.resolve(refused401)];
    expect(await failure(http.exchange(call()))).toMatchObject({ status: 401, circuitBreaker: "session" });
    expect(await failure(http.exchange(call()))).toMatchObject({ status: 401, circuitBreaker: "session" });
    const opened = {
      level: "warn",
      fields: { event: "breaker.open", breaker: "session", why: "401" },
      message:
        "the session breaker opened: The pod refused the session token and there is no provider to renew it: " +
        "create the client with a fresh token, or with a provider (e.g. rsaAuthentication)",
    };
    expect(lines).toStrictEqual([opened]); // no renewal to log: a plain token cannot be renewed

    state.answers = [() => Promise.resolve(OK)];
    await http.exchange(call());
    await http.exchange(call());
    const closed = {
      level: "info",
      fields: { event: "breaker.close", breaker: "session", why: "accepted" },
      message: "the pod accepts the session token again",
    };
    expect(lines).toStrictEqual([opened, closed]);

    state.answers = [() => Promise.resolve(refused401)]; // refused again: a new trip, logged again
    await failure(http.exchange(call()));
    expect(lines).toStrictEqual([opened, closed, opened]);
  });

  it("a provider's token refused: each renewal is logged with the call; three in a row open the breaker", async () => {
    let asked = 0;
    const tokens = new SessionTokens(async () => `token-${++asked}`);
    const { http, state, lines } = pipeline("info", tokens);
    state.answers = [() => Promise.resolve(refused401), () => Promise.resolve(OK)];
    await http.exchange(call({ headers: { "x-trace-id": "t-4" } }));
    const refresh = (attempt: number) => ({
      level: "info",
      fields: { event: "session.refresh", ...CALL, attempt, traceId: "echo-401" },
      message: "the pod refused the session token (401): renewing it",
    });
    expect(lines).toStrictEqual([refresh(1)]);

    lines.length = 0;
    state.answers = [() => Promise.resolve(refused401)];
    const retry = { ...DEFAULT_RETRY, maxAttempts: 3, initialDelayMs: 1 };
    const error = await failure(http.exchange(call({ retry })));
    expect(error).toMatchObject({ status: 401, circuitBreaker: "session" });
    expect(lines.map((l) => l.fields.event)).toEqual([
      "session.refresh",
      "session.refresh",
      "session.refresh",
      "breaker.open",
    ]);
    expect(lines[3]).toStrictEqual({
      level: "warn",
      fields: { event: "breaker.open", breaker: "session", why: "401" },
      message:
        "the session breaker opened: The pod refused 3 session tokens in a row, each new from the provider, so it is " +
        "not asked again for 60 s: check that the service account is enabled, holds its roles, and that its key is " +
        "the one registered on the pod",
    });
  });

  it("a provider that fails is the provider's error: no breaker event for it", async () => {
    const tokens = new SessionTokens(async () => {
      throw new Error("login refused");
    });
    const { http, lines } = pipeline("debug", tokens);
    expect(await failure(http.exchange(call()))).toMatchObject({ message: "login refused" });
    expect(lines).toStrictEqual([]);
  });
});

describe("the login lane", () => {
  const url = "https://svc:pa55@acme-auth.test/login/pubkey/authenticate?tenant=secret";
  const login = { url, body: () => '{"token":"jwt"}' };
  const defaults = { retry: { ...DEFAULT_RETRY, maxAttempts: 1 }, timeoutMs: 1_000 };
  const WHERE = { host: "acme-auth.test", path: "/login/pubkey/authenticate" };

  function lane(answer: (request: WireRequest) => Promise<WireResponse>, level: LogLevel = "info") {
    const logger = recorder();
    const transport = Object.assign(answer, { close: async () => {} }) as Transport;
    const certificateTransport = () => transport;
    return {
      lines: logger.lines,
      lane: loginLane(transport, defaults, certificateTransport, 2048, new PodLog(logger, level)),
    };
  }

  it("a login: its start and its success, with status, attempts, ms and the trace id; never the query or credentials", async () => {
    const { lines, lane: login0 } = lane(() =>
      delayed(20, { status: 200, headers: { "x-trace-id": "echo-login" }, body: "{}" }),
    );
    const startedAt = performance.now();
    await login0.send(login);
    const wall = performance.now() - startedAt;
    expect(lines).toStrictEqual([
      {
        level: "info",
        fields: { event: "login.start", kind: "rsa", ...WHERE },
        message: "rsa login to acme-auth.test",
      },
      {
        level: "info",
        fields: {
          event: "login.success",
          kind: "rsa",
          ...WHERE,
          status: 200,
          attempts: 1,
          ms: lines[1]?.fields.ms,
          traceId: "echo-login",
        },
        message: "rsa login to acme-auth.test succeeded",
      },
    ]);
    const ms = lines[1]?.fields.ms as number;
    expect(ms).toBeGreaterThanOrEqual(15);
    expect(ms).toBeLessThanOrEqual(wall);
  });

  it("a certificate login refused: login.failure (warn) with its status", async () => {
    const { lines, lane: login1 } = lane(() => Promise.resolve({ status: 401, headers: {}, body: "" }));
    await expect(login1.send({ ...login, clientCertificate: { pfx: Buffer.from("p12") } })).resolves.toMatchObject({
      status: 401,
    });
    const traceId = lines[1]?.fields.traceId;
    expect(typeof traceId).toBe("string");
    expect(lines).toStrictEqual([
      {
        level: "info",
        fields: { event: "login.start", kind: "certificate", ...WHERE },
        message: "certificate login to acme-auth.test",
      },
      {
        level: "warn",
        fields: {
          event: "login.failure",
          kind: "certificate",
          ...WHERE,
          status: 401,
          attempts: 1,
          ms: lines[1]?.fields.ms,
          traceId,
          why: "status 401",
        },
        message: "certificate login refused (401)",
      },
    ]);
  });

  it("a login that gets no answer: login.failure with the code, or timeout", async () => {
    const { lines, lane: login2 } = lane(() => Promise.reject(refused), "warn");
    expect(await failure(login2.send(login))).toBeInstanceOf(PodNetworkError);
    expect(lines).toStrictEqual([
      {
        level: "warn",
        fields: { event: "login.failure", kind: "rsa", ...WHERE, why: "ECONNREFUSED", ms: lines[0]?.fields.ms },
        message: "rsa login to acme-auth.test got no answer (ECONNREFUSED)",
      },
    ]);
    const hanging = lane(
      (request) =>
        new Promise<WireResponse>((_, reject) => {
          request.signal?.once("abort", () => reject(new Error("the request was aborted")));
        }),
      "warn",
    );
    expect(await failure(hanging.lane.send({ ...login, timeoutMs: 5 }))).toMatchObject({ timedOut: true });
    expect(hanging.lines.map((l) => [l.fields.why, l.message])).toEqual([
      ["timeout", "rsa login to acme-auth.test got no answer (timeout)"],
    ]);
  });

  it("at debug, the login's attempts are logged like any call's", async () => {
    const { lines, lane: login3 } = lane(() => Promise.resolve(OK), "debug");
    await login3.send(login);
    expect(lines.map((l) => [l.fields.event, l.fields.path])).toEqual([
      ["login.start", WHERE.path],
      ["pod.request", WHERE.path],
      ["pod.answer", WHERE.path],
      ["login.success", WHERE.path],
    ]);
  });
});
