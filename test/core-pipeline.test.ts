/**
 * The request pipeline (src/http.ts) as a client runs it, against msw: the exact headers of every attempt, what is
 * retried and how often, which error class and message a final answer or a lost call becomes, the pod's message read
 * from its answer, and the login lane a token provider gets. The connectivity breaker's arithmetic is driven with a
 * fake clock (its real-time behaviour is in test/flow-control.test.ts).
 */
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { ConnectivityBreaker, UNREACHABLE_AFTER_MS, UNREACHABLE_PROBE_EVERY_MS } from "../src/core/http.js";
import { USER_AGENT } from "../src/core/version.js";
import {
  PodApiError,
  PodBadRequestError,
  PodNetworkError,
  PodNotFoundError,
  PodRateLimitError,
  PodServerError,
  PodUnauthorizedError,
  type SessionTokenContext,
} from "../src/index.js";
import { BASE_URL, TOKEN, testClient, useMsw } from "./helpers.js";

const server = useMsw();
const UID = "7215545057281";
const FEATURES = `${BASE_URL}/v1/admin/user/${UID}/features/update`;
const LIST = `${BASE_URL}/v1/admin/user/${UID}/features`;
const ON = [{ entitlement: "canCreatePublicRoom", enabled: true }];
const PATH = `/v1/admin/user/${UID}/features/update`;

/** Every request msw saw: its headers as a plain object (lower-case names) and its body. */
function record(answer: (n: number) => Response) {
  const seen: { headers: Record<string, string>; body: string }[] = [];
  const handler = async ({ request }: { request: Request }) => {
    seen.push({ headers: Object.fromEntries(request.headers), body: await request.text() });
    return answer(seen.length);
  };
  server.use(http.post(FEATURES, handler), http.get(LIST, handler));
  return seen;
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to fail");
}

describe("what every attempt sends", () => {
  it("a write: accept, user agent, trace id, session token and content type, with the JSON body", async () => {
    const seen = record(() => HttpResponse.json({ message: "OK" }));
    await testClient().users.updateFeatures(UID, ON);
    expect(seen).toHaveLength(1);
    const headers = seen[0]?.headers ?? {};
    expect(headers).toStrictEqual({
      accept: "application/json",
      "user-agent": USER_AGENT,
      "x-trace-id": expect.stringMatching(/^[0-9a-zA-Z]{8}$/),
      sessiontoken: TOKEN,
      "content-type": "application/json",
    });
    expect(JSON.parse(seen[0]?.body ?? "")).toStrictEqual([{ entitlment: "canCreatePublicRoom", enabled: true }]);
  });

  it("a read has no body and no content type", async () => {
    const seen = record(() => HttpResponse.json([]));
    await testClient().users.listFeatures(UID);
    expect(seen[0]?.headers["content-type"]).toBeUndefined();
    expect(seen[0]?.body).toBe("");
    expect(seen[0]?.headers.sessiontoken).toBe(TOKEN);
  });

  it("every attempt of one call carries the same trace id; the next call gets a new one", async () => {
    const seen = record((n) => (n < 3 ? HttpResponse.json({}, { status: 503 }) : HttpResponse.json({ message: "OK" })));
    const pod = testClient();
    await pod.users.updateFeatures(UID, ON);
    await pod.users.updateFeatures(UID, ON);
    const ids = seen.map(({ headers }) => headers["x-trace-id"]);
    expect(ids).toHaveLength(4);
    expect(new Set(ids.slice(0, 3)).size).toBe(1);
    expect(ids[3]).not.toBe(ids[0]);
  });

  it("a raw call's own headers are sent, but never replace the pipeline's, and its trace id is kept", async () => {
    const seen = record(() => HttpResponse.json([]));
    const pod = testClient();
    await pod.raw.GET("/v1/admin/user/{uid}/features", {
      params: { path: { uid: Number(UID) } },
      headers: { "x-trace-id": "mytrace1", "user-agent": "spoofed/1.0", accept: "text/html", "x-extra": "yes" },
    });
    expect(seen[0]?.headers).toMatchObject({
      "x-trace-id": "mytrace1",
      "user-agent": USER_AGENT,
      accept: "application/json",
      "x-extra": "yes",
      sessiontoken: TOKEN,
    });
  });
});

describe("retries and the error a final answer becomes", () => {
  it("5xx until maxAttempts: PodServerError naming the attempts, the pod's code and message", async () => {
    const seen = record(() => HttpResponse.json({ code: 503, message: "down for maintenance" }, { status: 503 }));
    const error = await failure(testClient({ retry: { maxAttempts: 3 } }).users.updateFeatures(UID, ON));
    expect(seen).toHaveLength(3);
    expect(error).toBeInstanceOf(PodServerError);
    expect(error).toMatchObject({ status: 503, code: 503, podMessage: "down for maintenance", attempts: 3 });
    expect(error.message).toBe(`POST ${PATH} for user ${UID} failed with 503: down for maintenance (after 3 attempts)`);
  });

  it("a 501 is final at once (the route will never work)", async () => {
    const seen = record(() => HttpResponse.json({ message: "not implemented" }, { status: 501 }));
    const error = await failure(testClient().users.updateFeatures(UID, ON));
    expect(seen).toHaveLength(1);
    expect(error).toBeInstanceOf(PodServerError);
    expect(error.message).toBe(`POST ${PATH} for user ${UID} failed with 501: not implemented`);
  });

  it("a 300 answer is an error too, a redirect never followed (issue 21 item 1), not read as a result", async () => {
    server.use(http.get(LIST, () => HttpResponse.json({ message: "pick one" }, { status: 300 })));
    const error = await failure(testClient().users.listFeatures(UID));
    expect(error).toBeInstanceOf(PodApiError);
    expect(error).toMatchObject({ status: 300, attempts: 1 });
    expect((error as PodApiError).podMessage).toMatch(
      /^the server answered 300, a redirect to an address it did not give; redirects are never followed/,
    );
  });

  it("a 404 is final at once: PodNotFoundError", async () => {
    const seen = record(() => HttpResponse.json({ code: 404, message: "User not found" }, { status: 404 }));
    const error = await failure(testClient().users.updateFeatures(UID, ON));
    expect(seen).toHaveLength(1);
    expect(error).toBeInstanceOf(PodNotFoundError);
    expect(error).toMatchObject({ attempts: 1, code: 404, podMessage: "User not found" });
  });

  it("a 429 on the last attempt is a PodRateLimitError with the wait the pod asked", async () => {
    const seen = record(() =>
      HttpResponse.json({ message: "slow down" }, { status: 429, headers: { "retry-after": "7" } }),
    );
    const error = await failure(testClient({ retry: { maxAttempts: 1 } }).users.updateFeatures(UID, ON));
    expect(seen).toHaveLength(1);
    expect(error).toBeInstanceOf(PodRateLimitError);
    expect(error).toMatchObject({ status: 429, retryAfterMs: 7_000, attempts: 1 });
  });

  it("a 429 without Retry-After is retried after the backoff", async () => {
    const seen = record((n) =>
      n === 1 ? HttpResponse.json({}, { status: 429 }) : HttpResponse.json({ message: "OK" }),
    );
    await testClient().users.updateFeatures(UID, ON);
    expect(seen).toHaveLength(2);
  });

  it("the requestId of an error is the pod's X-Trace-Id when it answered one, else the one sent", async () => {
    record(() => HttpResponse.json({ message: "bad" }, { status: 400, headers: { "x-trace-id": "podtrace" } }));
    const answered = await failure(testClient().users.updateFeatures(UID, ON));
    expect(answered).toBeInstanceOf(PodBadRequestError);
    expect(answered).toMatchObject({ requestId: "podtrace" });

    const seen = record(() => HttpResponse.json({ message: "bad" }, { status: 400 }));
    const own = await failure(testClient().users.updateFeatures(UID, ON));
    expect(own).toMatchObject({ requestId: seen[0]?.headers["x-trace-id"] });
  });

  it("no answer after every attempt: PodNetworkError with the attempts and the transport's error as cause", async () => {
    let calls = 0;
    server.use(
      http.post(FEATURES, () => {
        calls++;
        return HttpResponse.error();
      }),
    );
    const error = await failure(testClient({ retry: { maxAttempts: 3 } }).users.updateFeatures(UID, ON));
    expect(calls).toBe(3);
    expect(error).toBeInstanceOf(PodNetworkError);
    expect(error).toMatchObject({ attempts: 3, timedOut: false, uid: UID, method: "POST", path: PATH });
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.message).toMatch(
      new RegExp(`^POST ${PATH} for user ${UID} could not reach the pod \\(.+\\) after 3 attempts$`),
    );
  });

  it("a network error then an answer: the answer is the result", async () => {
    let calls = 0;
    server.use(
      http.get(LIST, () =>
        ++calls === 1 ? HttpResponse.error() : HttpResponse.json([{ entitlment: "a", enabled: true }]),
      ),
    );
    expect(await testClient().users.listFeatures(UID)).toStrictEqual([{ entitlement: "a", enabled: true }]);
    expect(calls).toBe(2);
  });

  it("a timed-out attempt is retried; the last one's error says timed out, with no cause", async () => {
    let calls = 0;
    server.use(
      http.get(LIST, async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 500));
        return HttpResponse.json([]);
      }),
    );
    const error = await failure(testClient({ timeoutMs: 20, retry: { maxAttempts: 2 } }).users.listFeatures(UID));
    expect(calls).toBe(2);
    expect(error).toBeInstanceOf(PodNetworkError);
    expect(error).toMatchObject({ timedOut: true, attempts: 2 });
    expect(error.cause).toBeUndefined();
  });

  it("a call whose signal is already aborted sends nothing and rejects with its reason", async () => {
    const seen = record(() => HttpResponse.json({ message: "OK" }));
    const reason = new Error("cancelled by the user");
    await expect(testClient().users.updateFeatures(UID, ON, { signal: AbortSignal.abort(reason) })).rejects.toBe(
      reason,
    );
    expect(seen).toHaveLength(0);
  });

  it("aborting during an attempt rejects at once with the reason, without waiting for the answer or retrying", async () => {
    let calls = 0;
    server.use(
      http.get(LIST, async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 2_000));
        return HttpResponse.json([]);
      }),
    );
    const controller = new AbortController();
    const reason = new Error("stop now");
    const started = performance.now();
    const call = testClient().users.listFeatures(UID, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 30);
    await expect(call).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(calls).toBe(1);
  });
});

describe("session renewals within a call", () => {
  it("the free renewal after a 401 does not cost a network retry: maxAttempts 3 means 3 tries after it", async () => {
    let calls = 0;
    server.use(
      http.post(FEATURES, () => (++calls === 1 ? HttpResponse.json({}, { status: 401 }) : HttpResponse.error())),
    );
    let asks = 0;
    const pod = testClient({ sessionToken: () => `token-${++asks}`, retry: { maxAttempts: 3 } });
    const error = await failure(pod.users.updateFeatures(UID, ON));
    expect(error).toBeInstanceOf(PodNetworkError);
    expect(error).toMatchObject({ attempts: 4 });
    expect(calls).toBe(4);
    expect(asks).toBe(2);
  });

  it("a provider failing to renew the token fails the call with the provider's own error", async () => {
    server.use(http.post(FEATURES, () => HttpResponse.json({ message: "expired" }, { status: 401 })));
    const loginRefused = new Error("login refused: account disabled");
    let asks = 0;
    const pod = testClient({
      sessionToken: () => {
        if (++asks === 1) return "token-1";
        throw loginRefused;
      },
    });
    expect(await failure(pod.users.updateFeatures(UID, ON))).toBe(loginRefused);
    expect(asks).toBe(2);
  });

  it("the session breaker's error reads the refusal's body even when it is JSON null", async () => {
    server.use(http.post(FEATURES, () => new HttpResponse("null", { status: 401 })));
    let asks = 0;
    const pod = testClient({ sessionToken: () => `token-${++asks}` });
    const error = await failure(pod.users.updateFeatures(UID, ON));
    expect(error).toBeInstanceOf(PodUnauthorizedError);
    expect(error).toMatchObject({ circuitBreaker: "session", podMessage: undefined, attempts: 3 });
  });
});

describe("the pod's message in an error", () => {
  async function errorFor(body: string | object, status = 400) {
    server.use(
      http.post(FEATURES, () =>
        typeof body === "string" ? new HttpResponse(body, { status }) : HttpResponse.json(body, { status }),
      ),
    );
    return failure(testClient().users.updateFeatures(UID, ON));
  }

  it("a JSON body gives code (a number) and message (a string); other types are left out", async () => {
    expect(await errorFor({ code: 40001, message: "bad feature" })).toMatchObject({
      code: 40001,
      podMessage: "bad feature",
    });
    const odd = await errorFor({ code: "40001", message: 42 });
    expect(odd).toMatchObject({ code: undefined, podMessage: undefined });
    expect(odd.message).toBe(`POST ${PATH} for user ${UID} failed with 400`);
  });

  it("JSON that is not an object gives nothing", async () => {
    for (const body of ["null", "[1,2]", "17"]) {
      const error = await errorFor(body);
      expect(error, body).toBeInstanceOf(PodBadRequestError);
      expect(error).toMatchObject({ code: undefined, podMessage: undefined });
    }
  });

  it("a body that is not JSON is the message, trimmed and cut to 200 characters", async () => {
    const error = await errorFor(`  <html>${"x".repeat(300)}</html>  `);
    expect(error).toBeInstanceOf(PodApiError);
    expect((error as PodApiError).podMessage).toBe(`<html>${"x".repeat(194)}`);
    const empty = await errorFor("   ");
    expect(empty).toMatchObject({ podMessage: undefined });
    expect(empty.message).toBe(`POST ${PATH} for user ${UID} failed with 400`);
  });

  it("the session token is redacted wherever the pod echoes it, before the cut", async () => {
    const error = await errorFor({ message: `token ${TOKEN} is invalid; ${TOKEN}` });
    expect((error as PodApiError).podMessage).toBe("token [redacted] is invalid; [redacted]");
    expect(error.message).not.toContain(TOKEN);
  });

  it("a 2xx answer that is not what the spec says is a PodApiError quoting a redacted excerpt", async () => {
    server.use(http.get(LIST, () => new HttpResponse(`{"oops": "${TOKEN}"`, { status: 200 })));
    const error = await failure(testClient().users.listFeatures(UID));
    expect(error).toBeInstanceOf(PodApiError);
    expect(error).toMatchObject({ status: 200, attempts: 1 });
    expect((error as PodApiError).podMessage).toMatch(/^the answer .+: \{"oops": "\[redacted\]"$/);
  });
});

describe("the login lane a token provider gets", () => {
  const LOGIN = "https://acme-auth.pod.test/login/custom";

  it("POSTs the body to the URL with trace id and user agent but no session token, retrying 5xx, and returns the final answer", async () => {
    const seen: { headers: Record<string, string>; body: string }[] = [];
    server.use(
      http.post(LOGIN, async ({ request }) => {
        seen.push({ headers: Object.fromEntries(request.headers), body: await request.text() });
        return seen.length === 1
          ? HttpResponse.json({ message: "busy" }, { status: 503 })
          : HttpResponse.json({ token: "from-login" }, { headers: { "x-trace-id": "logintrace" } });
      }),
      http.get(LIST, ({ request }) =>
        HttpResponse.json(request.headers.get("sessionToken") === "from-login" ? [] : null),
      ),
    );
    let answer: Awaited<ReturnType<SessionTokenContext["send"]>> | undefined;
    let bodies = 0;
    const pod = testClient({
      sessionToken: async (context) => {
        answer = await (context as SessionTokenContext).send({ url: LOGIN, body: () => `{"n":${++bodies}}` });
        return (JSON.parse(answer.body) as { token: string }).token;
      },
    });
    expect(await pod.users.listFeatures(UID)).toStrictEqual([]);
    expect(answer).toStrictEqual({ status: 200, body: '{"token":"from-login"}', attempts: 2, requestId: "logintrace" });
    expect(seen.map(({ body }) => body)).toStrictEqual(['{"n":1}', '{"n":2}']);
    expect(seen[0]?.headers).toStrictEqual({
      accept: "application/json",
      "user-agent": USER_AGENT,
      "x-trace-id": expect.stringMatching(/^[0-9a-zA-Z]{8}$/),
      "content-type": "application/json",
    });
  });

  it("its own retry and timeout override the client's; a refusal is returned, not thrown", async () => {
    let calls = 0;
    server.use(
      http.post(LOGIN, () => {
        calls++;
        return HttpResponse.json({ message: "busy" }, { status: 503 });
      }),
    );
    let context: SessionTokenContext | undefined;
    const probe = testClient({
      retry: { maxAttempts: 5 },
      sessionToken: (given) => {
        context = given;
        return "t";
      },
    });
    server.use(http.get(LIST, () => HttpResponse.json([])));
    await probe.users.listFeatures(UID);
    const answer = await (context as SessionTokenContext).send({
      url: LOGIN,
      body: () => "{}",
      retry: { maxAttempts: 2 },
      timeoutMs: 1_000,
    });
    expect(answer).toMatchObject({ status: 503, attempts: 2, body: '{"message":"busy"}' });
    expect(calls).toBe(2);
    await expect(
      (context as SessionTokenContext).send({ url: LOGIN, body: () => "{}", retry: { maxAttempts: 0 } }),
    ).rejects.toThrow(new RangeError("retry.maxAttempts must be an integer ≥ 1, got 0"));
    expect(calls).toBe(2);
  });
});

describe("the connectivity breaker (fake clock)", () => {
  function breaker() {
    const time = { now: 0 };
    return { time, breaker: new ConnectivityBreaker(() => time.now) };
  }
  const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });

  it("opens once no attempt got an answer for 10 s over at least 5 attempts, not before", () => {
    expect(UNREACHABLE_AFTER_MS).toBe(10_000);
    expect(UNREACHABLE_PROBE_EVERY_MS).toBe(5_000);
    const { time, breaker: b } = breaker();
    expect(b.open).toBe(false);
    expect(b.admit()).toBe("go");
    time.now = 1_000;
    expect(b.failed(refused, false)).toBe(false);
    time.now = 10_999; // 5 failures, but only 9.999 s since the first
    for (let i = 0; i < 4; i++) expect(b.failed(refused, false)).toBe(false);
    expect(b.open).toBe(false);
    time.now = 11_000;
    expect(b.failed(refused, false)).toBe(true);
    expect(b.open).toBe(true);
    expect(b.lastCause).toBe(refused);
  });

  it("10 s of failures over fewer than 5 attempts keep it closed", () => {
    const { time, breaker: b } = breaker();
    for (let i = 0; i < 4; i++) {
      time.now = i * 10_000;
      expect(b.failed(refused, false)).toBe(false);
    }
    expect(b.admit()).toBe("go");
    expect(b.failed(refused, false)).toBe(true);
  });

  it("an answer closes it and restarts the count from the next failure", () => {
    const { time, breaker: b } = breaker();
    for (let i = 0; i < 4; i++) b.failed(refused, false);
    b.answered();
    time.now = 20_000;
    for (let i = 0; i < 4; i++) expect(b.failed(refused, false)).toBe(false);
    time.now = 29_999;
    expect(b.failed(refused, false)).toBe(false);
    time.now = 30_000;
    expect(b.failed(refused, false)).toBe(true);
    b.answered();
    expect(b.open).toBe(false);
    expect(b.admit()).toBe("go");
  });

  it("while open: blocked until 5 s have passed, then one probe at a time", () => {
    const { time, breaker: b } = breaker();
    for (let i = 0; i < 5; i++) {
      time.now = i * 2_500;
      b.failed(refused, false);
    }
    expect(b.open).toBe(true); // at 10 s: probe at 15 s
    time.now = 14_999;
    expect(b.admit()).toBe("blocked");
    time.now = 15_000;
    expect(b.admit()).toBe("probe");
    expect(b.admit()).toBe("blocked");
    // A failure of another attempt neither ends the probe nor moves the next one.
    expect(b.failed(refused, false)).toBe(true);
    expect(b.admit()).toBe("blocked");
    // The probe failed: the next goes 5 s later.
    time.now = 16_000;
    expect(b.failed(refused, true)).toBe(true);
    // A late failure of an attempt sent before the breaker opened does not move it either.
    time.now = 17_000;
    expect(b.failed(refused, false)).toBe(true);
    time.now = 20_999;
    expect(b.admit()).toBe("blocked");
    time.now = 21_000;
    expect(b.admit()).toBe("probe");
    // Its answer closes the breaker.
    b.answered();
    expect(b.open).toBe(false);
    expect(b.admit()).toBe("go");
  });

  it("after it closed, a second outage opens it again and its first probe goes", () => {
    const { time, breaker: b } = breaker();
    for (let i = 0; i < 5; i++) {
      time.now = i * 2_500;
      b.failed(refused, false);
    }
    time.now = 15_000;
    expect(b.admit()).toBe("probe");
    b.answered();
    for (let i = 0; i < 5; i++) {
      time.now = 20_000 + i * 2_500;
      b.failed(refused, false);
    }
    expect(b.open).toBe(true);
    time.now = 35_000;
    expect(b.admit()).toBe("probe");
  });

  it("a probe released without an answer lets the next attempt probe; releasing a plain attempt changes nothing", () => {
    const { time, breaker: b } = breaker();
    for (let i = 0; i < 5; i++) {
      time.now = i * 2_500;
      b.failed(refused, false);
    }
    time.now = 15_000;
    expect(b.admit()).toBe("probe");
    b.released(false);
    expect(b.admit()).toBe("blocked");
    b.released(true);
    expect(b.admit()).toBe("probe");
  });

  it("its note names the last cause and what to do", () => {
    const { breaker: b } = breaker();
    b.failed(refused, false);
    expect(b.note()).toBe(
      "The pod has not answered any call for over 10 s (ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9), so calls " +
        "fail fast; one probe goes out every 5 s and its answer resumes them. Check the pod URL, the network and the " +
        "pod's status page",
    );
  });
});
