/**
 * The pipeline (src/http.ts `PodHttp`) around its connectivity breaker, driven directly with a transport double and
 * the breaker on a fake clock, since these rules take 10 s or more of real time through a client: which lost calls
 * open the breaker (no answer, a timeout) and which do not (the caller's abort), what its error says, and that a probe
 * that ends without an answer (aborted, no token, aborted while waiting for its turn) lets the next call probe.
 * Also: an attempt leaves no timer and no listener on the caller's signal behind.
 */
import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AnswerTooLargeError } from "../src/core/answer-body.js";
import { SessionTokens } from "../src/core/auth.js";
import { ConnectivityBreaker, loginLane, type PodCall, PodHttp } from "../src/core/http.js";
import { AdaptiveRateLimiter } from "../src/core/rate-limiter.js";
import { DEFAULT_RETRY } from "../src/core/retry.js";
import type { Transport, WireRequest, WireResponse } from "../src/core/transport.js";
import { PodApiError, PodNetworkError } from "../src/index.js";

afterEach(() => {
  vi.useRealTimers();
});

const OK: WireResponse = { status: 200, headers: {}, body: "[]" };
const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });

/** A transport whose answers the test sets; it records each request. */
function transportDouble() {
  const state = {
    requests: [] as WireRequest[],
    answer: (_request: WireRequest): Promise<WireResponse> => Promise.resolve(OK),
  };
  const transport = Object.assign(
    (request: WireRequest) => {
      state.requests.push(request);
      return state.answer(request);
    },
    { close: async () => {} },
  ) as Transport;
  return { state, transport };
}

/** Never answers; rejects with its own error when the attempt is aborted, as undici does. */
const hang = (request: WireRequest) =>
  new Promise<WireResponse>((_, reject) => {
    request.signal?.once("abort", () => reject(new Error("the request was aborted")));
  });

/** A pipeline over the double, its connectivity breaker on a clock the test moves. */
function pipeline(options: { tokens?: SessionTokens; limiter?: AdaptiveRateLimiter } = {}) {
  const time = { now: 0 };
  const { state, transport } = transportDouble();
  const http = new PodHttp("https://acme.pod.test/pod", options.tokens, transport, options.limiter, {
    connectivity: new ConnectivityBreaker(() => time.now),
  });
  return { http, time, state };
}

const call = (extra: Partial<PodCall> = {}): PodCall => ({
  method: "GET",
  path: "/v1/admin/user/7/features",
  uid: "7",
  retry: { ...DEFAULT_RETRY, maxAttempts: 1 },
  timeoutMs: 5,
  ...extra,
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected the call to fail");
}

/** Opens the breaker as 5 attempts without an answer over 10 s would, and moves the clock to the first probe. */
function openBreaker(http: PodHttp, time: { now: number }) {
  for (let i = 0; i < 5; i++) {
    time.now = i * 2_500;
    http.connectivity.failed(refused, false);
  }
  expect(http.connectivity.open).toBe(true);
  time.now = 15_000;
}

const NOTE_END =
  "so calls fail fast; one probe goes out every 5 s and its answer resumes them. Check the pod URL, the network " +
  "and the pod's status page";

describe("what opens the connectivity breaker", () => {
  it("attempts that time out for 10 s over 5 attempts: later calls are not sent, and say every attempt timed out", async () => {
    const { http, time, state } = pipeline();
    state.answer = hang;
    for (let i = 0; i < 4; i++) {
      time.now = i * 2_500;
      const error = await failure(http.exchange(call()));
      expect(error).toBeInstanceOf(PodNetworkError);
      expect(error).toMatchObject({ timedOut: true, attempts: 1 });
      expect((error as PodNetworkError).circuitBreaker).toBeUndefined();
      expect((error as Error).cause).toBeUndefined();
    }
    time.now = 10_000;
    const tripping = await failure(http.exchange(call()));
    expect(tripping).toMatchObject({ timedOut: true, attempts: 1, circuitBreaker: "unreachable" });
    expect(http.connectivity.open).toBe(true);

    const blocked = await failure(http.exchange(call()));
    expect(blocked).toBeInstanceOf(PodNetworkError);
    expect(blocked).toMatchObject({ timedOut: true, attempts: 0, circuitBreaker: "unreachable" });
    expect((blocked as Error).cause).toBeUndefined();
    expect((blocked as Error).message).toBe(
      `GET /v1/admin/user/7/features for user 7 was not sent. The pod has not answered any call for over 10 s (every attempt timed out), ${NOTE_END}`,
    );
    expect(state.requests).toHaveLength(5);
  });

  it("connections refused: the breaker's error names the cause and carries it", async () => {
    const { http, time, state } = pipeline();
    state.answer = () => Promise.reject(refused);
    for (let i = 0; i < 5; i++) {
      time.now = i * 2_500;
      const error = await failure(http.exchange(call()));
      expect(error).toMatchObject({ timedOut: false });
      expect((error as Error).cause).toBe(refused);
    }
    const blocked = await failure(http.exchange(call()));
    expect(blocked).toMatchObject({ timedOut: false, attempts: 0, circuitBreaker: "unreachable" });
    expect((blocked as Error).cause).toBe(refused);
    expect((blocked as Error).message).toBe(
      `GET /v1/admin/user/7/features for user 7 was not sent. The pod has not answered any call for over 10 s (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9), ${NOTE_END}`,
    );
    expect(state.requests).toHaveLength(5);
  });

  it("calls the caller aborted are not the pod's doing: each rejects with its reason, and the breaker stays closed", async () => {
    const { http, time, state } = pipeline();
    state.answer = hang;
    for (let i = 0; i < 7; i++) {
      time.now = i * 2_500;
      const controller = new AbortController();
      const pending = http.exchange(call({ signal: controller.signal, timeoutMs: 60_000 }));
      const reason = new Error(`stopped ${i}`);
      setTimeout(() => controller.abort(reason), 1);
      expect(await failure(pending)).toBe(reason);
    }
    expect(http.connectivity.open).toBe(false);
    expect(state.requests).toHaveLength(7);
  });
});

describe("a probe that ends without an answer lets the next call probe", () => {
  it("its caller aborted it", async () => {
    const { http, time, state } = pipeline();
    openBreaker(http, time);
    state.answer = hang;
    const controller = new AbortController();
    const probe = http.exchange(call({ signal: controller.signal, timeoutMs: 60_000 }));
    const reason = new Error("user stopped");
    setTimeout(() => controller.abort(reason), 1);
    expect(await failure(probe)).toBe(reason);
    state.answer = () => Promise.resolve(OK);
    const next = await http.exchange(call());
    expect(next.response.status).toBe(200);
    expect(http.connectivity.open).toBe(false);
  });

  it("no session token could be had for it", async () => {
    let asks = 0;
    const tokens = new SessionTokens(() => {
      if (++asks === 1) throw new Error("vault unreachable");
      return "token-2";
    });
    const { http, time, state } = pipeline({ tokens });
    openBreaker(http, time);
    const error = await failure(http.exchange(call()));
    expect((error as Error).message).toBe("vault unreachable");
    expect(state.requests).toHaveLength(0);
    const next = await http.exchange(call());
    expect(next.response.status).toBe(200);
    expect(state.requests[0]?.headers.sessionToken).toBe("token-2");
  });

  it("its caller aborted while it waited for its turn under the rate limit", async () => {
    const limiter = new AdaptiveRateLimiter({ perSecond: 1 });
    const { http, time } = pipeline({ limiter });
    limiter.acquire(); // the one turn of this second is taken
    openBreaker(http, time);
    const controller = new AbortController();
    const probe = http.exchange(call({ signal: controller.signal }));
    expect(limiter.waiting).toBe(1);
    const reason = new Error("user stopped");
    controller.abort(reason);
    expect(await failure(probe)).toBe(reason);
    expect(http.connectivity.admit()).toBe("probe");
  });
});

describe("an attempt cleans up after itself", () => {
  it("no timer and no listener on the caller's signal are left once the call settled", async () => {
    vi.useFakeTimers();
    const { http, state } = pipeline();
    const controller = new AbortController();
    let listenersDuring = -1;
    state.answer = () => {
      listenersDuring = getEventListeners(controller.signal, "abort").length;
      return Promise.resolve(OK);
    };
    const done = await http.exchange(call({ signal: controller.signal, timeoutMs: 30_000 }));
    expect(done.response.status).toBe(200);
    expect(listenersDuring).toBe(1);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("the caller's abort reaches the transport's attempt signal with its reason", async () => {
    const { http, state } = pipeline();
    let seenReason: unknown;
    state.answer = (request) =>
      new Promise((_, reject) => {
        request.signal?.once("abort", () => {
          seenReason = request.signal?.reason;
          reject(new Error("aborted"));
        });
      });
    const controller = new AbortController();
    const reason = new Error("cancel");
    const pending = http.exchange(call({ signal: controller.signal, timeoutMs: 60_000 }));
    setTimeout(() => controller.abort(reason), 1);
    expect(await failure(pending)).toBe(reason);
    expect(seenReason).toBe(reason);
  });
});

describe("an answer over the size limit", () => {
  const tooLarge = (headers: Record<string, string | string[]>) => (request: WireRequest) =>
    Promise.reject(new AnswerTooLargeError(200, headers, request.maxBytes ?? 0, "received"));

  it("is a PodApiError carrying the trace id the pod echoed (several joined), else the one sent", async () => {
    const { http, state } = pipeline();
    for (const [headers, expected] of [
      [{ "x-trace-id": "pod-7" }, "pod-7"],
      [{ "x-trace-id": ["pod-7", "lb-2"] }, "pod-7, lb-2"],
      [{}, "sent-1"],
    ] as [Record<string, string | string[]>, string][]) {
      state.answer = tooLarge(headers);
      const error = await failure(http.exchange(call({ headers: { "x-trace-id": "sent-1" } })));
      expect(error).toBeInstanceOf(PodApiError);
      expect(error).toMatchObject({ status: 200, attempts: 1, requestId: expected });
    }
  });
});

describe("the login lane", () => {
  const login = { url: "https://acme-auth.test/login/pubkey/authenticate", body: () => '{"token":"jwt"}' };
  const defaults = { retry: { ...DEFAULT_RETRY, maxAttempts: 1 }, timeoutMs: 1_000 };

  it("reads answers up to the client's maxAnswerBytes; one over it is a PodApiError, not retried", async () => {
    const { state, transport } = transportDouble();
    const lane = loginLane(transport, defaults, undefined, 2048);
    await expect(lane.send(login)).resolves.toMatchObject({ status: 200, body: "[]", attempts: 1 });
    expect(state.requests.map((r) => [r.method, r.url, r.maxBytes, r.headers.sessionToken])).toEqual([
      ["POST", login.url, 2048, undefined],
    ]);
    state.answer = (request) => Promise.reject(new AnswerTooLargeError(200, {}, request.maxBytes ?? 0, "received"));
    const error = await failure(lane.send(login));
    expect(error).toBeInstanceOf(PodApiError);
    expect((error as PodApiError).podMessage).toBe(
      "the answer is larger than 2 KiB, the limit of an answer (option maxAnswerBytes): it was not read further",
    );
    expect(state.requests).toHaveLength(2);
  });

  it("a certificate login goes over its certificate's connections, with the same limit; others over the client's", async () => {
    const plain = transportDouble();
    const withCertificate = transportDouble();
    const asked: unknown[] = [];
    const lane = loginLane(
      plain.transport,
      defaults,
      (certificate) => {
        asked.push(certificate);
        return withCertificate.transport;
      },
      2048,
    );
    const certificate = { pfx: Buffer.from("p12") };
    await lane.send({ ...login, clientCertificate: certificate });
    await lane.send({ ...login, clientCertificate: certificate });
    await lane.send(login);
    expect(asked).toEqual([certificate]); // its connections made once, for that certificate
    expect(withCertificate.state.requests.map((r) => r.maxBytes)).toEqual([2048, 2048]);
    expect(plain.state.requests).toHaveLength(1);
  });
});

describe("a plain token the pod refused (issue 21 item 14)", () => {
  it("the call sent to check it that gets no answer lets the next call check it", async () => {
    const { http, state } = pipeline({ tokens: new SessionTokens("plain-token") });
    state.answer = () => Promise.resolve({ status: 401, headers: {}, body: "" });
    expect(await failure(http.exchange(call()))).toMatchObject({ status: 401, circuitBreaker: "session" });
    state.answer = () => Promise.reject(refused);
    expect(await failure(http.exchange(call()))).toBeInstanceOf(PodNetworkError);
    state.answer = () => Promise.resolve(OK);
    await expect(http.exchange(call())).resolves.toMatchObject({ response: { status: 200 }, attempts: 1 });
    expect(state.requests.map((r) => r.headers.sessionToken)).toEqual(["plain-token", "plain-token", "plain-token"]);
  });
});
