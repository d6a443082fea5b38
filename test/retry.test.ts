import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter } from "../src/core/retry.js";
import { PodBadRequestError, PodServerError, PodUnauthorizedError } from "../src/index.js";
import { BASE_URL, testClient, useMsw } from "./helpers.js";

const server = useMsw();
const UID = "7215545057281";
const FEATURES = `${BASE_URL}/v1/admin/user/${UID}/features/update`;
const ONE = [{ entitlement: "canCreatePublicRoom", enabled: true }];

/** Answers with each status in turn (then 200), recording when each request came. */
function sequence(...statuses: number[]) {
  return sequenceWithRetryAfter("1", ...statuses);
}

function sequenceWithRetryAfter(retryAfter: string, ...statuses: number[]) {
  const times: number[] = [];
  server.use(
    http.post(FEATURES, () => {
      times.push(Date.now());
      const status = statuses[times.length - 1] ?? 200;
      if (status === -1) return HttpResponse.error();
      const headers: Record<string, string> = status === 429 ? { "retry-after": retryAfter } : {};
      return HttpResponse.json(status === 200 ? { message: "OK" } : { message: `status ${status}` }, {
        status,
        headers,
      });
    }),
  );
  return times;
}

describe("retries", () => {
  it("waits as long as Retry-After asks on a 429, then succeeds", async () => {
    const times = sequence(429);
    await testClient().users.updateFeatures(UID, ONE);
    expect(times).toHaveLength(2);
    expect((times[1] ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it("caps a Retry-After beyond maxRetryAfterMs (an uncapped wait would outlast the test timeout)", async () => {
    const times = sequenceWithRetryAfter("3600", 429);
    await testClient({ retry: { maxRetryAfterMs: 10 } }).users.updateFeatures(UID, ONE);
    expect(times).toHaveLength(2);
  });

  it("retries 503 and network errors until an answer comes", async () => {
    const times = sequence(503, -1, 500);
    await expect(testClient().users.updateFeatures(UID, ONE)).resolves.toBeUndefined();
    expect(times).toHaveLength(4);
  });

  it("gives up after maxAttempts in all (default 5) and reports the attempts", async () => {
    const times = sequence(503, 503, 503, 503, 503, 503, 503);
    const error = await testClient()
      .users.updateFeatures(UID, ONE)
      .catch((e: unknown) => e);
    expect(times).toHaveLength(DEFAULT_RETRY.maxAttempts);
    expect(error).toBeInstanceOf(PodServerError);
    expect(error).toMatchObject({ attempts: 5 });
  });

  it("a per-call retry option overrides the client's", async () => {
    const times = sequence(503, 503);
    await expect(testClient().users.updateFeatures(UID, ONE, { retry: { maxAttempts: 1 } })).rejects.toThrow(
      PodServerError,
    );
    expect(times).toHaveLength(1);
  });

  it.each([400, 403, 404, 409, 501])("never retries a %i", async (status) => {
    const times = sequence(status, status);
    await expect(testClient().users.updateFeatures(UID, ONE)).rejects.toMatchObject({ status });
    expect(times).toHaveLength(1);
  });

  it("a 400 is thrown as is", async () => {
    sequence(400);
    await expect(testClient().users.updateFeatures(UID, ONE)).rejects.toBeInstanceOf(PodBadRequestError);
  });
});

describe("session token renewal after a 401", () => {
  it("asks the provider again once, and retries with the new token", async () => {
    const seenTokens: (string | null)[] = [];
    server.use(
      http.post(FEATURES, ({ request }) => {
        const token = request.headers.get("sessionToken");
        seenTokens.push(token);
        return token === "token-2" ? HttpResponse.json({ message: "OK" }) : HttpResponse.json({}, { status: 401 });
      }),
    );
    let asked = 0;
    const pod = testClient({ sessionToken: async () => `token-${++asked}` });
    await pod.users.updateFeatures(UID, ONE);
    expect(asked).toBe(2);
    expect(seenTokens).toEqual(["token-1", "token-2"]);
  });

  it("with retries off, renews once, then throws PodUnauthorizedError when the new token is refused too", async () => {
    server.use(http.post(FEATURES, () => HttpResponse.json({ message: "expired" }, { status: 401 })));
    let asked = 0;
    const pod = testClient({ sessionToken: () => `token-${++asked}`, retry: { maxAttempts: 1 } });
    await expect(pod.users.updateFeatures(UID, ONE)).rejects.toBeInstanceOf(PodUnauthorizedError);
    expect(asked).toBe(2);
  });

  it("renews again when a renewed token is refused too (it expired), paying with retry attempts", async () => {
    // The pod refuses token-1 and token-2, and accepts token-3.
    const seenTokens: (string | null)[] = [];
    server.use(
      http.post(FEATURES, ({ request }) => {
        const token = request.headers.get("sessionToken");
        seenTokens.push(token);
        return token === "token-3"
          ? HttpResponse.json({ message: "OK" })
          : HttpResponse.json({ message: "expired" }, { status: 401 });
      }),
    );
    let asked = 0;
    const pod = testClient({ sessionToken: () => `token-${++asked}` });
    await pod.users.updateFeatures(UID, ONE);
    expect(seenTokens).toEqual(["token-1", "token-2", "token-3"]);

    // With maxAttempts 2, the free renewal and one paid one: the third refusal is thrown, without a fourth ask.
    seenTokens.length = 0;
    asked = 0;
    const strict = testClient({ sessionToken: () => `token-${++asked}`, retry: { maxAttempts: 2 } });
    server.use(
      http.post(FEATURES, ({ request }) => {
        seenTokens.push(request.headers.get("sessionToken"));
        return HttpResponse.json({ message: "expired" }, { status: 401 });
      }),
    );
    const error = await strict.users.updateFeatures(UID, ONE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodUnauthorizedError);
    expect(error).toMatchObject({ attempts: 3 });
    expect(seenTokens).toEqual(["token-1", "token-2", "token-3"]);
    expect(asked).toBe(3);
  });

  it("stops asking the provider after 3 tokens in a row are refused (the session breaker), and says why", async () => {
    let requests = 0;
    server.use(
      http.post(FEATURES, () => {
        requests++;
        return HttpResponse.json({ message: "expired" }, { status: 401 });
      }),
    );
    let asked = 0;
    const pod = testClient({ sessionToken: () => `token-${++asked}` });
    const error = await pod.users.updateFeatures(UID, ONE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodUnauthorizedError);
    expect(error).toMatchObject({ attempts: 3, circuitBreaker: "session", podMessage: "expired" });
    expect((error as Error).message).toContain("refused 3 session tokens in a row");
    expect(requests).toBe(3);
    expect(asked).toBe(3);
    // The next call is not sent, and the provider is not asked.
    await expect(pod.users.updateFeatures(UID, ONE)).rejects.toMatchObject({ circuitBreaker: "session", attempts: 0 });
    expect(requests).toBe(3);
    expect(asked).toBe(3);
  });

  it("many calls refused at once share one renewal", async () => {
    server.use(
      http.post(`${BASE_URL}/v1/admin/user/:uid/features/update`, ({ request }) =>
        request.headers.get("sessionToken") === "token-2"
          ? HttpResponse.json({ message: "OK" })
          : HttpResponse.json({}, { status: 401 }),
      ),
    );
    let asked = 0;
    const pod = testClient({ sessionToken: async () => `token-${++asked}` });
    await Promise.all(Array.from({ length: 50 }, (_, i) => pod.users.updateFeatures(i + 1, ONE)));
    expect(asked).toBe(2);
  });

  it("a static token is not renewed: the 401 is thrown at once", async () => {
    const times = sequence(401);
    const error = await testClient()
      .users.updateFeatures(UID, ONE)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodUnauthorizedError);
    expect(error).toMatchObject({ attempts: 1, circuitBreaker: "session" });
    expect(times).toHaveLength(1);
  });
});

describe("policy arithmetic", () => {
  it("reads Retry-After as seconds or as an HTTP date", () => {
    expect(parseRetryAfter("2")).toBe(2000);
    expect(parseRetryAfter("0")).toBe(0);
    const now = Date.parse("2026-11-22T10:00:00Z");
    expect(parseRetryAfter("Sun, 22 Nov 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(parseRetryAfter("Sun, 22 Nov 2026 09:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it("backs off exponentially with jitter, within [ceiling/2, ceiling], capped by maxDelayMs", () => {
    const policy = { ...DEFAULT_RETRY, initialDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffDelay(1, policy, () => 0)).toBe(50);
    expect(backoffDelay(1, policy, () => 1)).toBe(100);
    expect(backoffDelay(3, policy, () => 0)).toBe(200);
    expect(backoffDelay(3, policy, () => 1)).toBe(400);
    expect(backoffDelay(10, policy, () => 1)).toBe(1000);
  });

  it("rejects nonsense retry options when the client is created", () => {
    expect(() => testClient({ retry: { maxAttempts: 0 } })).toThrow("retry.maxAttempts must be an integer ≥ 1, got 0");
    expect(() => testClient({ retry: { initialDelayMs: -1 } })).toThrow(
      "retry.initialDelayMs must be a number of ms from 0 to 2147483647",
    );
  });
});
