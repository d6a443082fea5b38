import { HttpResponse, http } from "msw";
import { describe, expect, it, onTestFinished } from "vitest";
import {
  type BulkProgress,
  BulkRunError,
  createPodClient,
  PodBadRequestError,
  PodForbiddenError,
  PodNetworkError,
  PodServerError,
  ValidationError,
} from "../src/index.js";
import { BASE_URL, FEATURES, items, ON, testClient, tick, useMsw } from "./helpers.js";

const server = useMsw();

/** A fetch that answers 200 at once without msw, for runs too long to go through an interceptor. */
const instantFetch = async () =>
  ({ status: 200, headers: new Headers(), text: async () => '{"message":"OK"}' }) as unknown as Response;

describe("pod.bulk: concurrency", () => {
  it("never exceeds `concurrency`, and reaches it", async () => {
    // The client ramps up (slow start: 10 calls in flight, one more per answer), so the pod holds its answers: it
    // answers the oldest request only once the client has sent all it may (no new request for 5 ms), and once 50
    // are in flight, everything.
    let inFlight = 0;
    let max = 0;
    let reached = false;
    const held: (() => void)[] = [];
    let arrivals = 0;
    let seenAtLastCheck = -1;
    const timer = setInterval(() => {
      if (arrivals === seenAtLastCheck) held.shift()?.();
      seenAtLastCheck = arrivals;
    }, 5);
    server.use(
      http.post(FEATURES, async () => {
        arrivals++;
        max = Math.max(max, ++inFlight);
        if (inFlight >= 50) reached = true;
        if (reached) for (let release = held.shift(); release; release = held.shift()) release();
        else await new Promise<void>((resolve) => held.push(resolve));
        await tick(1);
        inFlight--;
        return HttpResponse.json({ message: "OK" });
      }),
    );
    try {
      const report = await testClient().bulk.updateFeatures(items(200), { concurrency: 50 });
      expect(report).toEqual({ total: 200, succeeded: 200, failed: [], notAttempted: [] });
    } finally {
      clearInterval(timer);
    }
    expect(reached).toBe(true);
    expect(max).toBe(50);
  });

  it("rejects invalid options, and only those, before sending anything", async () => {
    const pod = testClient();
    for (const concurrency of [0, -1, 1.5, Number.POSITIVE_INFINITY, 1001]) {
      await expect(pod.bulk.updateFeatures(items(1), { concurrency })).rejects.toThrow(RangeError);
    }
    await expect(pod.bulk.updateFeatures(42 as never)).rejects.toThrow("items must be an Iterable or an AsyncIterable");
  });
});

describe("pod.bulk: every item has exactly one outcome", () => {
  it("under mixed 200/400/403/500/429/network-error answers over thousands of items", async () => {
    const seen429 = new Set<string>();
    server.use(
      http.post(FEATURES, ({ params }) => {
        const uid = String(params.uid);
        switch (Number(uid) % 10) {
          case 0:
            return HttpResponse.json({ code: 400, message: "bad" }, { status: 400 });
          case 1:
            return HttpResponse.json({ code: 403, message: "no" }, { status: 403 });
          case 2:
            return HttpResponse.json({ code: 500, message: "boom" }, { status: 500 });
          case 3: // slows down once, then accepts
            if (seen429.has(uid)) break;
            seen429.add(uid);
            return HttpResponse.json({}, { status: 429, headers: { "retry-after": "0" } });
          case 4:
            return HttpResponse.error();
        }
        return HttpResponse.json({ message: "OK" });
      }),
    );
    // A pod refusing 10 % of calls at random slows the client as the 429s ask (docs/errors-and-retries.md), so
    // this checks outcomes over 1,000 items rather than speed.
    const input = items(1000);
    // Should this test time out, its run must not go on sending into the next tests' handlers.
    const controller = new AbortController();
    onTestFinished(() => controller.abort());
    const report = await testClient({ retry: { maxAttempts: 2 } }).bulk.updateFeatures(input, {
      concurrency: 100,
      signal: controller.signal,
    });

    expect(report.total).toBe(1000);
    expect(report.succeeded + report.failed.length + report.notAttempted.length).toBe(report.total);
    const expectedFailed = input.map((i) => String(i.uid)).filter((uid) => [0, 1, 2, 4].includes(Number(uid) % 10));
    expect(report.failed.map((f) => f.uid).sort()).toEqual(expectedFailed.sort());
    expect(report.succeeded).toBe(600);
    const byUid = new Map(report.failed.map((f) => [f.uid, f]));
    expect(byUid.get("10")?.error).toBeInstanceOf(PodBadRequestError);
    expect(byUid.get("11")?.error).toBeInstanceOf(PodForbiddenError);
    expect(byUid.get("12")?.error).toBeInstanceOf(PodServerError);
    expect(byUid.get("14")?.error).toBeInstanceOf(PodNetworkError);
    // The failure keeps the input object as given, so it can be retried as is.
    expect(byUid.get("10")?.input).toBe(input[9]);
  });

  it("an invalid item fails with its ValidationError; the others proceed", async () => {
    const sent: string[] = [];
    server.use(
      http.post(FEATURES, ({ params }) => {
        sent.push(String(params.uid));
        return HttpResponse.json({ message: "OK" });
      }),
    );
    const report = await testClient().bulk.updateFeatures([
      { uid: 1, features: ON },
      { uid: -2, features: ON },
      { uid: 3, features: [{ entitlement: "x", enabled: "yes" as never }] },
      { uid: 4, feature: ON } as never,
      null as never,
      { uid: 6, features: ON },
    ]);
    expect(sent.sort()).toEqual(["1", "6"]);
    expect(report.succeeded).toBe(2);
    expect(
      report.failed.map((f) => [f.uid, (f.error as ValidationError).field, (f.error as ValidationError).rule]),
    ).toEqual([
      ["-2", "uid", "positive int64"],
      ["3", "features[0].enabled", "type boolean"],
      ["4", "item.feature", "known field"],
      ["", "item", "type object"],
    ]);
    expect(report.failed.every((f) => f.error instanceof ValidationError)).toBe(true);
  });
});

describe("pod.bulk: streamed input", () => {
  it("200k items from an async generator: the input is never read far ahead of the settled outcomes", async () => {
    const pod = createPodClient({ baseUrl: BASE_URL, sessionToken: "t", fetch: instantFetch });
    const concurrency = 64;
    let pulled = 0;
    let settled = 0;
    let maxAhead = 0;
    async function* source() {
      for (let uid = 1; uid <= 200_000; uid++) {
        pulled++;
        maxAhead = Math.max(maxAhead, pulled - settled);
        yield { uid, features: ON };
      }
    }
    for await (const outcome of pod.bulk.stream.updateFeatures(source(), { concurrency })) {
      expect(outcome.status).toBe("succeeded");
      settled++;
    }
    expect(settled).toBe(200_000);
    expect(maxAhead).toBeLessThanOrEqual(concurrency + 2);
    expect(maxAhead).toBeGreaterThan(concurrency / 2);
  });
});

describe("pod.bulk: abort", () => {
  it("stops taking items, lets in-flight calls settle, lists the rest as not attempted, reports nothing twice", async () => {
    let started = 0;
    let completed = 0;
    server.use(
      http.post(FEATURES, async () => {
        started++;
        await tick(10);
        completed++;
        return HttpResponse.json({ message: "OK" });
      }),
    );
    const controller = new AbortController();
    const input = items(1000);
    const report = await testClient().bulk.updateFeatures(input, {
      concurrency: 20,
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.done >= 100) controller.abort();
      },
    });
    expect(report.total).toBe(1000);
    expect(completed).toBe(started); // nothing left running
    expect(report.succeeded).toBe(started);
    expect(report.failed).toEqual([]);
    expect(report.notAttempted.length).toBe(1000 - started);
    expect(report.notAttempted).toEqual(input.slice(started)); // in input order, the very objects given
    expect(started).toBeGreaterThanOrEqual(100);
    expect(started).toBeLessThan(1000);
  });

  it("an already aborted signal sends nothing and reports everything as not attempted", async () => {
    const report = await testClient().bulk.updateFeatures(items(5), { signal: AbortSignal.abort() });
    expect(report).toMatchObject({ total: 5, succeeded: 0, failed: [] });
    expect(report.notAttempted.map((i) => i.uid)).toEqual([1, 2, 3, 4, 5]);
  });
});

describe("pod.bulk: a 429 storm", () => {
  it("the client holds and probes, paces at a learned rate, and finishes with nothing lost", async () => {
    let requests = 0;
    let refused = 0;
    server.use(
      http.post(FEATURES, async () => {
        const n = ++requests;
        await tick(1);
        // The pod is overloaded for its first 200 requests: every other one is refused.
        if (n <= 200 && n % 2 === 0) {
          refused++;
          return HttpResponse.json({ message: "slow down" }, { status: 429, headers: { "retry-after": "0" } });
        }
        return HttpResponse.json({ message: "OK" });
      }),
    );
    const progress: BulkProgress[] = [];
    const report = await testClient({ retry: { maxAttempts: 10 } }).bulk.updateFeatures(items(1000), {
      concurrency: 100,
      progressIntervalMs: 0,
      onProgress: (p: BulkProgress) => progress.push(p),
    });
    expect(report).toEqual({ total: 1000, succeeded: 1000, failed: [], notAttempted: [] });
    expect(refused).toBe(100);
    // The rate limiter, not the concurrency, slowed the run: concurrency stays as asked, the send rate is learned.
    expect(progress.every((p) => p.concurrency === 100)).toBe(true);
    expect(progress.some((p) => p.sendRatePerSecond !== undefined)).toBe(true);
    expect(progress.every((p) => p.inFlight <= 100)).toBe(true);
    expect(requests).toBe(1000 + refused);
    // Real time: the rate sinks to ~20 calls/s in the storm and climbs back along CUBIC. With the low rates' long K
    // (20 s at 20/s) that took 32.7 s; a plateau reached by collapsing gets K = 2 s: 11.5 s (issue 23's notes).
  });
});

describe("pod.bulk: the other operations", () => {
  it("updateDelegates, replaceApps and patchApps send one call per item", async () => {
    const seen: string[] = [];
    server.use(
      http.all(`${BASE_URL}/v1/admin/user/:uid/*`, async ({ request, params }) => {
        seen.push(`${request.method} ${params.uid} ${await request.text()}`);
        return HttpResponse.json(request.method === "POST" && request.url.endsWith("update") ? { message: "OK" } : []);
      }),
    );
    const pod = testClient();
    const reports = [
      await pod.bulk.updateDelegates([{ uid: 1, userId: 9007199254740993n, action: "ADD" }]),
      await pod.bulk.replaceApps([{ uid: 2, apps: [{ appId: "djApp", listed: true, install: false }] }]),
      await pod.bulk.patchApps([{ uid: 3, patches: [{ appId: "djApp", install: true }] }]),
    ];
    expect(reports.map((r) => r.succeeded)).toEqual([1, 1, 1]);
    expect(seen).toEqual([
      'POST 1 {"userId":9007199254740993,"action":"ADD"}',
      'POST 2 [{"appId":"djApp","listed":true,"install":false}]',
      'PATCH 3 [{"appId":"djApp","install":"TRUE"}]',
    ]);
  });
});

describe("pod.bulk: dry run", () => {
  it("validates every item as a real run would and sends nothing", async () => {
    let sent = 0;
    server.use(
      http.all(`${BASE_URL}/*`, () => {
        sent++;
        return HttpResponse.json({});
      }),
    );
    const report = await testClient().bulk.updateFeatures(
      [
        { uid: 1, features: ON },
        { uid: 2, features: [{ entitlement: "", enabled: 1 as never }] },
        { uid: 0, features: ON },
      ],
      { dryRun: true },
    );
    expect(sent).toBe(0);
    expect(report.succeeded).toBe(1);
    const failures = report.failed.map((f) => [f.uid, (f.error as ValidationError).field]).sort();
    expect(failures).toEqual([
      ["0", "uid"],
      ["2", "features[0].enabled"],
    ]);
  });
});

describe("pod.bulk: the caller's code failing", () => {
  const okHandler = (counter: { sent: number; done: number }) =>
    http.post(FEATURES, async () => {
      counter.sent++;
      await tick(5);
      counter.done++;
      return HttpResponse.json({ message: "OK" });
    });

  it("an input that throws mid-run: calls in flight finish first, then BulkRunError with the partial report", async () => {
    const counter = { sent: 0, done: 0 };
    server.use(okHandler(counter));
    async function* rows() {
      for (let uid = 1; uid <= 30; uid++) yield { uid, features: ON };
      throw new Error("CSV parse error on line 31");
    }
    const error = await testClient()
      .bulk.updateFeatures(rows(), { concurrency: 50 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkRunError);
    expect((error as BulkRunError).cause).toEqual(new Error("CSV parse error on line 31"));
    expect((error as Error).message).toBe(
      "bulk run stopped after 30 items were read: the input threw (CSV parse error on line 31)",
    );
    expect(counter).toEqual({ sent: 30, done: 30 }); // nothing left running unobserved
    expect((error as BulkRunError).report).toMatchObject({ total: 30, succeeded: 30, failed: [], notAttempted: [] });
  });

  it("the streaming form yields every started item's outcome before throwing", async () => {
    const counter = { sent: 0, done: 0 };
    server.use(okHandler(counter));
    async function* rows() {
      yield { uid: 1, features: ON };
      yield { uid: 2, features: ON };
      throw new Error("disk gone");
    }
    const seen: string[] = [];
    const error = await (async () => {
      for await (const outcome of testClient().bulk.stream.updateFeatures(rows())) seen.push(outcome.uid);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkRunError);
    expect(seen.sort()).toEqual(["1", "2"]);
  });

  it("an onProgress that throws stops the run like an abort, and is thrown at the end", async () => {
    const counter = { sent: 0, done: 0 };
    server.use(okHandler(counter));
    const input = items(500);
    const error = await testClient()
      .bulk.updateFeatures(input, {
        concurrency: 10,
        progressIntervalMs: 0,
        onProgress: (p) => {
          if (p.done >= 50) throw new Error("display broke");
        },
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkRunError);
    const report = (error as BulkRunError).report;
    expect(counter.sent).toBe(counter.done);
    expect(report?.succeeded).toBe(counter.done);
    expect((report?.succeeded ?? 0) + (report?.notAttempted.length ?? 0)).toBe(500);
    expect(report?.notAttempted).toEqual(input.slice(counter.done));
  });

  it("an item read while the run was being aborted is not sent", async () => {
    const counter = { sent: 0, done: 0 };
    server.use(okHandler(counter));
    const controller = new AbortController();
    function* rows() {
      yield { uid: 1, features: ON };
      controller.abort(); // the abort lands while the scheduler awaits this read
      yield { uid: 2, features: ON };
      yield { uid: 3, features: ON };
    }
    const report = await testClient().bulk.updateFeatures(rows(), { concurrency: 1, signal: controller.signal });
    expect(counter.sent).toBe(1);
    expect(report.notAttempted.map((i) => i.uid)).toEqual([2, 3]);
  });

  it("invalid per-call options reject the run before anything is read", async () => {
    let pulled = 0;
    function* rows() {
      pulled++;
      yield { uid: 1, features: ON };
    }
    const pod = testClient();
    await expect(pod.bulk.updateFeatures(rows(), { retry: { maxAttempts: 0 } })).rejects.toThrow(
      "retry.maxAttempts must be an integer ≥ 1, got 0",
    );
    await expect(pod.bulk.updateFeatures(rows(), { timeoutMs: -5 })).rejects.toThrow(RangeError);
    await expect(pod.bulk.updateFeatures(rows(), { timeoutMs: Number.POSITIVE_INFINITY })).rejects.toThrow(RangeError);
    await expect(pod.bulk.updateFeatures(rows(), { signal: {} as AbortSignal })).rejects.toThrow(
      "signal must be an AbortSignal",
    );
    expect(pulled).toBe(0);
  });
});

describe("pod.bulk: per-call options", () => {
  it("passes the run's retry policy to each call, over the client's", async () => {
    const attempts = new Map<string, number>();
    server.use(
      http.post(FEATURES, ({ params }) => {
        const uid = String(params.uid);
        attempts.set(uid, (attempts.get(uid) ?? 0) + 1);
        return HttpResponse.json({ message: "busy" }, { status: 503 });
      }),
    );
    const pod = testClient({ retry: { maxAttempts: 5 } });
    const once = await pod.bulk.updateFeatures(items(3), { retry: { maxAttempts: 1 } });
    expect(once.failed).toHaveLength(3);
    expect([...attempts.values()]).toEqual([1, 1, 1]);
    attempts.clear();
    await pod.bulk.updateFeatures(items(3)); // without an override, the client's 5 attempts
    expect([...attempts.values()]).toEqual([5, 5, 5]);
  });
});
