/**
 * Issue 21, hostile answers and secrets that slip out, through the client a library user holds: session tokens a
 * header cannot carry (item 9), a plain token after one 401 (14), deeply nested answers (10), loose numbers in
 * answers and input (11), the answer size cap (3), and the retry and breaker gaps mutation testing found (15).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { HttpResponse, http } from "msw";
import { fetch as undiciFetch } from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SessionTokens } from "../src/core/auth.js";
import {
  createPodClient,
  type FetchLike,
  PodApiError,
  PodBadRequestError,
  PodError,
  PodForbiddenError,
  PodNetworkError,
  PodServerError,
  PodUnauthorizedError,
  ValidationError,
} from "../src/index.js";
import { BASE_URL, FEATURES, items, ON, testClient, useMsw } from "./helpers.js";

const server = useMsw();

/** Every way an error reaches a user: message, stack, JSON, util.inspect. */
function everySerialization(error: unknown): string {
  const e = error as Error;
  return [e.message, e.stack, JSON.stringify(e), String(e)].join("\n");
}

// A real local server, for the default (undici) transport, which msw does not see.
const locals: Server[] = [];
afterEach(async () => {
  await Promise.all(locals.splice(0).map((s) => new Promise((done) => s.close(done))));
});
async function localPod(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const requests: { url: string | undefined; sessionToken: string | undefined }[] = [];
  const http = createServer((req, res) => {
    requests.push({ url: req.url, sessionToken: req.headers.sessiontoken as string | undefined });
    handle(req, res);
  });
  http.keepAliveTimeout = 100;
  locals.push(http);
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  return { baseUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/pod`, requests };
}

const FEATURES_LIST = `${BASE_URL}/v1/admin/user/:uid/features`;

describe("item 9: a session token a header cannot carry is refused clearly, never sent, never quoted", () => {
  it.each([
    ["a trailing carriage return (a CRLF file)", "tok-secret-4f2a\r", "ends with a carriage return (\\r)"],
    ["a trailing CRLF", "tok-secret-4f2a\r\n", "ends with a carriage return (\\r)"],
    ["a line feed inside", "tok-secret\n4f2a", "holds a line feed (\\n)"],
    ["a NUL", "tok-secret\u00004f2a", "holds a control character (U+0000)"],
    ["a space inside", "tok-secret 4f2a", "holds a space"],
  ])("a plain token with %s: TypeError at createPodClient", (_what, token, expected) => {
    let error: unknown;
    try {
      testClient({ sessionToken: token });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(`sessionToken ${expected}`);
    expect(everySerialization(error)).not.toContain("secret");
  });

  it("a provider's token holding \\n (fetch option): a PodError before any request, not retried, not quoted", async () => {
    let requests = 0;
    server.use(
      http.get(FEATURES_LIST, () => {
        requests++;
        return HttpResponse.json([]);
      }),
    );
    let asked = 0;
    const pod = testClient({
      sessionToken: async () => {
        asked++;
        return "tok-secret\n4f2a-rest-of-it";
      },
    });
    const error = await pod.users.listFeatures(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodError);
    expect(error).not.toBeInstanceOf(PodNetworkError);
    expect((error as Error).message).toBe(
      "the token the sessionToken provider returned holds a line feed (\\n); a session token is printable ASCII without spaces",
    );
    expect(everySerialization(error)).not.toContain("secret");
    expect(everySerialization(error)).not.toContain("rest-of-it");
    expect(asked).toBe(1);
    expect(requests).toBe(0);
  });

  it("a provider's token with a trailing CR (default transport): refused, nothing reaches the pod", async () => {
    const pod = await localPod((_req, res) => res.end("[]"));
    const client = createPodClient({ baseUrl: pod.baseUrl, sessionToken: async () => "tok-secret-4f2a\r" });
    try {
      const error = await client.users.listFeatures(1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PodError);
      expect(error).not.toBeInstanceOf(PodNetworkError);
      expect((error as Error).message).toMatch(/^the token the sessionToken provider returned ends with a carriage/);
      expect(everySerialization(error)).not.toContain("secret");
      expect(pod.requests).toHaveLength(0);
    } finally {
      await client.close();
    }
  });

  it('a provider returning "" is refused (not sent as an empty header)', async () => {
    let requests = 0;
    server.use(
      http.get(FEATURES_LIST, () => {
        requests++;
        return HttpResponse.json([]);
      }),
    );
    const error = await testClient({ sessionToken: async () => "" })
      .users.listFeatures(1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodError);
    expect((error as Error).message).toBe("the sessionToken provider returned no token (expected a non-empty string)");
    expect(requests).toBe(0);
  });
});

describe("item 14: one 401 does not brick a plain-token client", () => {
  it("a single call after a 401 is still sent and gets its own answer: a later 403 is a 403", async () => {
    const answers = [401, 403, 200];
    const seen: (string | null)[] = [];
    server.use(
      http.post(FEATURES, ({ request }) => {
        seen.push(request.headers.get("sessionToken"));
        const status = answers.shift() ?? 200;
        return HttpResponse.json({ message: status === 200 ? "OK" : `pod says ${status}` }, { status });
      }),
    );
    const pod = testClient({ sessionToken: "plain-token-1", retry: { maxAttempts: 1 } });
    const refused = await pod.users.updateFeatures(1, ON).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PodUnauthorizedError);
    expect(refused).toMatchObject({ status: 401, circuitBreaker: "session", attempts: 1 });

    const forbidden = await pod.users.updateFeatures(2, ON).catch((e: unknown) => e);
    expect(forbidden).toBeInstanceOf(PodForbiddenError);
    expect(forbidden).not.toBeInstanceOf(PodUnauthorizedError);
    expect(forbidden).toMatchObject({ status: 403, attempts: 1, podMessage: "pod says 403" });
    expect((forbidden as PodError).circuitBreaker).toBeUndefined();
    expect((forbidden as Error).message).toBe(
      "POST /v1/admin/user/2/features/update for user 2 failed with 403: pod says 403",
    );

    await expect(pod.users.updateFeatures(3, ON)).resolves.toBeUndefined();
    expect(seen).toEqual(["plain-token-1", "plain-token-1", "plain-token-1"]);
  });

  it("the pod taking the token again (a failover's one 401) closes the breaker: a bulk run after it runs in full", async () => {
    let requests = 0;
    server.use(
      http.post(FEATURES, () => {
        requests++;
        return requests === 1
          ? HttpResponse.json({ message: "failing over" }, { status: 401 })
          : HttpResponse.json({ message: "OK" });
      }),
    );
    const pod = testClient({ sessionToken: "plain-token-2" });
    await expect(pod.users.updateFeatures(1, ON)).rejects.toBeInstanceOf(PodUnauthorizedError);
    await expect(pod.users.updateFeatures(1, ON)).resolves.toBeUndefined();
    const report = await pod.bulk.updateFeatures(items(100), { concurrency: 20 });
    expect(report).toMatchObject({ total: 100, succeeded: 100, failed: [], notAttempted: [] });
    expect(report.stoppedBy).toBeUndefined();
    expect(requests).toBe(102);
  });

  it("while the one call checking the token is out, other calls fail fast without being sent", async () => {
    let requests = 0;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    server.use(
      http.post(FEATURES, async () => {
        requests++;
        if (requests === 2) await held; // the probe, held until the others have failed
        return HttpResponse.json({ message: "expired" }, { status: 401 });
      }),
    );
    const pod = testClient({ sessionToken: "plain-token-3", retry: { maxAttempts: 1 } });
    await expect(pod.users.updateFeatures(1, ON)).rejects.toBeInstanceOf(PodUnauthorizedError);
    const probe = pod.users.updateFeatures(2, ON).catch((e: unknown) => e);
    const others = await Promise.all(
      [3, 4, 5].map((uid) => pod.users.updateFeatures(uid, ON).catch((e: unknown) => e)),
    );
    for (const error of others) {
      expect(error).toBeInstanceOf(PodUnauthorizedError);
      expect(error).toMatchObject({ attempts: 0, circuitBreaker: "session" });
      expect((error as Error).message).toMatch(
        /^POST \/v1\/admin\/user\/\d\/features\/update for user \d was not sent\./,
      );
    }
    release();
    expect(await probe).toMatchObject({ status: 401, attempts: 1, circuitBreaker: "session" });
    expect(requests).toBe(2);
  });
});

const LOOKUP = `${BASE_URL}/v3/users`;
const USER_LIST = `${BASE_URL}/v2/admin/user/list`;
const DELEGATES = `${BASE_URL}/v1/admin/user/:uid/delegates`;
const DEEP = 20_000;
const deep = "[".repeat(DEEP) + "]".repeat(DEEP);

describe("item 10: a deeply nested lookup or list answer is an unreadable answer, not a RangeError", () => {
  it("lookup: a PodApiError saying the answer is nested too deep, the body only as an excerpt", async () => {
    server.use(http.get(LOOKUP, () => HttpResponse.text(`{"users":[{"id":9007199254740993,"x":${deep}}]}`)));
    const error = await testClient()
      .users.lookup({ emails: ["ann@acme.com"] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodApiError);
    expect(error).not.toBeInstanceOf(RangeError);
    expect(error).toMatchObject({ status: 200, method: "GET", path: "/v3/users", attempts: 1 });
    expect((error as PodApiError).podMessage).toMatch(
      /^the answer is nested deeper than 100 levels of arrays and objects: \{"users":\[\{"id":9007199254740993,"x":\[\[/,
    );
    expect((error as Error).message.length).toBeLessThan(400);
  });

  it("list: the same, on the first page", async () => {
    server.use(
      http.get(USER_LIST, () => HttpResponse.text(`[{"userSystemInfo":{"id":9007199254740993},"x":${deep}}]`)),
    );
    const pod = testClient();
    const error = await (async () => {
      for await (const _user of pod.users.list()) {
        // reading
      }
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodApiError);
    expect((error as PodApiError).podMessage).toMatch(/^the answer is nested deeper than 100 levels/);
  });

  it("nesting up to the limit is read (the limit is not a refusal of every nested answer)", async () => {
    const nested = "[".repeat(97) + "]".repeat(97); // the answer object, its users array and a user: 100 levels
    server.use(
      http.get(LOOKUP, () =>
        HttpResponse.text(`{"users":[{"id":9007199254740993,"emailAddress":"ann@acme.com","x":${nested}}]}`),
      ),
    );
    const found = await testClient().users.lookup({ emails: ["ann@acme.com"] });
    expect(found.users.map((user) => user.id)).toEqual([9007199254740993n]);
    expect(found.notFound).toEqual([]);
  });
});

describe("item 11: listDelegates refuses ids that are not user ids", () => {
  it.each([
    ["9223372036854775808", "beyond int64"],
    ["-5", "negative"],
    ["0", "zero"],
    ["1e29", "an exponent"],
    ["1e3", "an exponent that is an integer"],
    ["3.0", "a fraction part"],
  ])("%s (%s): a PodApiError naming the position, not a bigint", async (id) => {
    server.use(http.get(DELEGATES, () => HttpResponse.text(`[7215545057281, ${id}]`)));
    const error = await testClient()
      .users.listDelegates(1)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodApiError);
    expect((error as PodApiError).podMessage).toBe(
      `the answer holds an id at /1 that is not a user id (a positive int64 written in digits): [7215545057281, ${id}]`,
    );
  });

  it("ids up to int64's maximum are read exactly", async () => {
    server.use(
      http.get(DELEGATES, () => HttpResponse.text("[1, 7215545057281, 9007199254740993, 9223372036854775807]")),
    );
    await expect(testClient().users.listDelegates(1)).resolves.toEqual([
      1n,
      7215545057281n,
      9007199254740993n,
      9223372036854775807n,
    ]);
  });
});

describe("item 11: lookup and list refuse ids that are not user ids", () => {
  const LOOSE = [
    ["9223372036854775808", "beyond int64"],
    ["-5", "negative"],
    ["0", "zero"],
    ["1e29", "an exponent"],
    ["1e3", "an exponent that is an integer"],
    ["3.0", "a fraction part"],
  ];

  it.each(LOOSE)("lookup, id %s (%s): a PodApiError naming where, not some other user", async (id) => {
    const body = `{"users":[{"id":7215545057281,"emailAddress":"ann@acme.com"},{"id":${id},"emailAddress":"bob@acme.com"}]}`;
    server.use(http.get(LOOKUP, () => HttpResponse.text(body)));
    const error = await testClient()
      .users.lookup({ emails: ["ann@acme.com", "bob@acme.com"] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodApiError);
    expect(error).toMatchObject({ status: 200, method: "GET", path: "/v3/users", attempts: 1 });
    expect((error as PodApiError).podMessage).toBe(
      `the answer holds an id at /users/1/id that is not a user id (a positive int64 written in digits): ${body}`,
    );
  });

  it.each(LOOSE)("list, id %s (%s): a PodApiError naming where, on that page", async (id) => {
    const body = `[{"userSystemInfo":{"id":7215545057281}},{"userSystemInfo":{"id":${id}}}]`;
    server.use(http.get(USER_LIST, () => HttpResponse.text(body)));
    const pod = testClient();
    const seen: bigint[] = [];
    const error = await (async () => {
      for await (const user of pod.users.list()) seen.push(user.id);
    })().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodApiError);
    expect((error as PodApiError).podMessage).toBe(
      `the answer holds an id at /1/userSystemInfo/id that is not a user id (a positive int64 written in digits): ${body}`,
    );
    expect(seen).toEqual([]);
  });

  it("ids written in digits are read exactly, whatever signs, fractions or exponents the other fields hold", async () => {
    server.use(
      http.get(LOOKUP, () =>
        HttpResponse.text(
          '{"users":[{"id":1,"displayName":"Ann, -5: 3.0 [1e3]"},{"id":9223372036854775807,"emailAddress":"bob@acme.com"}]}',
        ),
      ),
    );
    const found = await testClient().users.lookup({ uids: [1n, 9223372036854775807n] });
    expect(found.users.map((user) => user.id)).toEqual([1n, 9223372036854775807n]);
    expect(found.users[0]?.displayName).toBe("Ann, -5: 3.0 [1e3]");
    expect(found.notFound).toEqual([]);
  });
});

describe("item 11: an entitlement name holding a control character is refused as input", () => {
  it.each([
    ["a NUL", "canCreate\u0000PublicRoom", "U+0000", 9],
    ["a line feed", "canCreatePublicRoom\n", "U+000A", 19],
    ["a carriage return", "can\rCreatePublicRoom", "U+000D", 3],
    ["a C1 control", "can\u0085Create", "U+0085", 3],
  ])("%s: ValidationError naming features[1].entitlement and the rule, nothing sent", async (_what, name, code, at) => {
    let requests = 0;
    server.use(
      http.post(FEATURES, () => {
        requests++;
        return HttpResponse.json({ message: "OK" });
      }),
    );
    const error = await testClient()
      .users.updateFeatures(1, [
        { entitlement: "sendFilesEnabled", enabled: true },
        { entitlement: name, enabled: true },
      ])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: "features[1].entitlement", rule: "no control characters" });
    expect((error as Error).message).toBe(
      `features[1].entitlement: holds a control character (${code}) at position ${at}; a name is printable text`,
    );
    expect(requests).toBe(0);
  });

  it("a bulk item with one is a failed item naming it, and the others are sent", async () => {
    let requests = 0;
    server.use(
      http.post(FEATURES, () => {
        requests++;
        return HttpResponse.json({ message: "OK" });
      }),
    );
    const report = await testClient().bulk.updateFeatures([
      { uid: 1, features: ON },
      { uid: 2, features: [{ entitlement: "a\u0000b", enabled: true }] },
    ]);
    expect(report.succeeded).toBe(1);
    expect(report.failed).toHaveLength(1);
    expect(report.failed[0]?.error).toBeInstanceOf(ValidationError);
    expect(report.failed[0]?.error).toMatchObject({ field: "features[0].entitlement", rule: "no control characters" });
    expect(requests).toBe(1);
  });
});

describe("item 3: an answer has a size limit (8 MiB by default), received and inflated", () => {
  const MiB = 1024 * 1024;
  // 64 MiB of "[" gzip to ~64 KB: a small answer on the wire that inflates far past the limit.
  const bomb = gzipSync(Buffer.alloc(64 * MiB, "["), { level: 9 });

  /** Serves `handle` to both transports: the default (undici) and `fetch: globalThis.fetch`. */
  const transports = [
    ["the default transport", {}],
    // undici's fetch, the one Node's global fetch is built from (msw patches the global one in this file).
    ["the fetch option", { fetch: undiciFetch as unknown as FetchLike }],
  ] as const;

  async function call(options: object, handle: (req: IncomingMessage, res: ServerResponse) => void, extra = {}) {
    const pod = await localPod(handle);
    const client = createPodClient({ baseUrl: pod.baseUrl, sessionToken: "tok-1", ...options, ...extra });
    const started = Date.now();
    try {
      const error = await client.users.listFeatures(5).catch((e: unknown) => e);
      return { error, requests: pod.requests.length, ms: Date.now() - started };
    } finally {
      await client.close();
    }
  }

  function expectTooLarge(error: unknown, how: RegExp, status = 200) {
    expect(error).toBeInstanceOf(PodApiError);
    expect(error).not.toBeInstanceOf(PodNetworkError);
    expect(error).toMatchObject({ status, method: "GET", path: "/v1/admin/user/5/features", uid: "5", attempts: 1 });
    const message = (error as PodApiError).podMessage ?? "";
    expect(message).toMatch(/^the answer is larger than 8 MiB, the limit of an answer \(option maxAnswerBytes\): /);
    expect(message).toMatch(how);
  }

  it.each(transports)("%s: a Content-Length over the limit is refused unread, not retried", async (_name, options) => {
    const { error, requests } = await call(options, (_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(400 * MiB) });
      res.write("[");
      // never sends the rest: the client must not wait for it
    });
    expectTooLarge(error, /its Content-Length says so, and it was not read$/);
    expect(requests).toBe(1);
  });

  it.each(transports)("%s: an endless body (no length) is cut at the limit, not retried", async (_name, options) => {
    const chunk = Buffer.alloc(64 * 1024, " ");
    const { error, requests, ms } = await call(options, (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
    });
    expectTooLarge(error, /it was not read further$/);
    expect(requests).toBe(1);
    expect(ms).toBeLessThan(10_000);
  });

  it.each(transports)(
    "%s: a gzip bomb is inflated no further than the limit, and is not a network error",
    async (_name, options) => {
      const { error, requests } = await call(options, (_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
        res.end(bomb);
      });
      expect(bomb.length).toBeLessThan(MiB);
      expectTooLarge(error, /once inflated \(it was compressed\); it was not inflated further$/);
      expect(requests).toBe(1);
    },
  );

  it("a 503 over the limit is a PodServerError saying so, not retried", async () => {
    const { error, requests } = await call({}, (_req, res) => {
      res.writeHead(503, { "content-type": "text/html" });
      res.end(Buffer.alloc(9 * MiB, "x"));
    });
    expect(error).toBeInstanceOf(PodServerError);
    expectTooLarge(error, /it was not read further$/, 503);
    expect(requests).toBe(1);
  });

  it.each(transports)(
    "%s: answers within the limit are read, compressed or not, with or without a length",
    async (_name, options) => {
      const features = JSON.stringify([{ entitlment: "canCreatePublicRoom", enabled: true }]);
      for (const [headers, body] of [
        [{ "content-length": String(Buffer.byteLength(features)) }, features],
        [{}, features],
        [{ "content-encoding": "gzip" }, gzipSync(features)],
      ] as const) {
        const pod = await localPod((_req, res) => {
          res.writeHead(200, { "content-type": "application/json", ...headers });
          res.end(body);
        });
        const client = createPodClient({ baseUrl: pod.baseUrl, sessionToken: "tok-1", ...options });
        await expect(client.users.listFeatures(5)).resolves.toEqual([
          { entitlement: "canCreatePublicRoom", enabled: true },
        ]);
        await client.close();
      }
    },
  );

  it("maxAnswerBytes sets the limit: an answer one byte over it is refused, one at it is read", async () => {
    const at = `[${" ".repeat(2048 - 2)}]`;
    const read = await call({}, (_req, res) => res.end(at), { maxAnswerBytes: 2048 });
    expect(read.error).toEqual([]);
    const over = await call({}, (_req, res) => res.end(`${at} `), { maxAnswerBytes: 2048 });
    expect(over.error).toBeInstanceOf(PodApiError);
    expect((over.error as PodApiError).podMessage).toBe(
      "the answer is larger than 2 KiB, the limit of an answer (option maxAnswerBytes): its Content-Length says so, and it was not read",
    );
  });

  it.each([
    [1023, "1023"],
    [1.5e6 + 0.5, "1500000.5"],
    ["8MB", "a string"],
    [Number.POSITIVE_INFINITY, "Infinity"],
  ])("maxAnswerBytes: %s is refused at client creation", (value, got) => {
    expect(() => testClient({ maxAnswerBytes: value as number })).toThrow(
      new RangeError(`maxAnswerBytes must be an integer number of bytes from 1024, got ${got}`),
    );
  });
});

describe("item 15: gaps mutation testing found in the retry and session tests", () => {
  it("a token from a provider is redacted when the pod echoes it, in an error and in an unreadable answer", async () => {
    const token = "provider-token-7d41c9e2";
    server.use(
      http.post(FEATURES, ({ request }) =>
        HttpResponse.json({ message: `bad token ${request.headers.get("sessionToken")}` }, { status: 400 }),
      ),
      http.get(FEATURES_LIST, ({ request }) =>
        HttpResponse.text(`<html>${request.headers.get("sessionToken")}</html>`),
      ),
    );
    const pod = testClient({ sessionToken: async () => token });
    const refused = await pod.users.updateFeatures(1, ON).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PodBadRequestError);
    expect((refused as PodApiError).podMessage).toBe("bad token [redacted]");
    expect(everySerialization(refused)).not.toContain(token);
    const unreadable = await pod.users.listFeatures(1).catch((e: unknown) => e);
    expect(unreadable).toBeInstanceOf(PodApiError);
    expect((unreadable as PodApiError).podMessage).toBe("the answer is not JSON: <html>[redacted]</html>");
    expect(everySerialization(unreadable)).not.toContain(token);
  });

  it("aborting during a 5 s backoff settles at once (well under 1 s), with the signal's reason", async () => {
    let requests = 0;
    let firstAnswered: () => void = () => {};
    const answered = new Promise<void>((resolve) => {
      firstAnswered = resolve;
    });
    server.use(
      http.post(FEATURES, () => {
        requests++;
        setTimeout(firstAnswered, 20); // once the answer is back and the backoff started
        return HttpResponse.json({ message: "busy" }, { status: 503 });
      }),
    );
    const pod = testClient({ retry: { maxAttempts: 3, initialDelayMs: 5_000, maxDelayMs: 5_000 } });
    const controller = new AbortController();
    const call = pod.users.updateFeatures(1, ON, { signal: controller.signal }).catch((e: unknown) => e);
    await answered;
    const reason = new Error("stopped by the user");
    const started = performance.now();
    controller.abort(reason);
    expect(await call).toBe(reason);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(requests).toBe(1);
  });

  it.each([
    [{ maxAttempts: 2.5 }, RangeError, "retry.maxAttempts must be an integer ≥ 1, got 2.5"],
    [[], TypeError, "retry must be an object such as { maxAttempts: 3 }, got an array"],
    [{ maxAttempts: 0 }, RangeError, "retry.maxAttempts must be an integer ≥ 1, got 0"],
  ])("retry %j is refused at client creation", (retry, ErrorClass, message) => {
    const create = () => createPodClient({ baseUrl: BASE_URL, sessionToken: "t", retry: retry as never });
    expect(create).toThrow(ErrorClass);
    expect(create).toThrow(message);
  });

  it("Retry-After: 1.25 is waited as 1,250 ms before the retry", async () => {
    const at: number[] = [];
    server.use(
      http.post(FEATURES, () => {
        at.push(performance.now());
        return at.length === 1
          ? HttpResponse.json({ message: "slow down" }, { status: 429, headers: { "retry-after": "1.25" } })
          : HttpResponse.json({ message: "OK" });
      }),
    );
    await testClient().users.updateFeatures(1, ON);
    expect(at).toHaveLength(2);
    const waited = (at[1] as number) - (at[0] as number);
    expect(waited).toBeGreaterThanOrEqual(1_200);
    expect(waited).toBeLessThan(2_000);
  });

  it("status 599 is a server error: retried, then a PodServerError with status 599", async () => {
    let requests = 0;
    server.use(
      http.post(FEATURES, () => {
        requests++;
        return HttpResponse.json({ message: "network connect timeout" }, { status: 599 });
      }),
    );
    const error = await testClient({ retry: { maxAttempts: 3 } })
      .users.updateFeatures(1, ON)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodServerError);
    expect(error).toMatchObject({ status: 599, attempts: 3, podMessage: "network connect timeout" });
    expect(requests).toBe(3);
  });

  it("a plain token's breaker (fake clock): one probe at a time, now and after the 60 s a provider rests", async () => {
    let clock = 0;
    const tokens = new SessionTokens("plain-token-9", () => clock);
    expect(tokens.admit()).toBeUndefined();
    const refused = await tokens.renew("plain-token-9").catch((e: unknown) => e);
    expect(refused).toMatchObject({ note: expect.stringContaining("there is no provider to renew it") });
    for (const later of [0, 59_999, 60_000, 3_600_000]) {
      clock = later;
      expect(tokens.blocked()).toBeUndefined(); // a call may go…
      expect(tokens.admit()).toBe("probe"); // …as the one probe,
      expect(tokens.admit()).toMatchObject({ note: expect.any(String) }); // and no other while it is out
      tokens.released();
    }
    expect(tokens.admit()).toBe("probe");
    tokens.accepted("plain-token-9");
    expect(tokens.admit()).toBeUndefined();
    expect(tokens.admit()).toBeUndefined(); // closed: every call goes
    expect(tokens.current()).toBe("plain-token-9");
  });

  it("a provider's breaker (fake timers, through the client): calls fail fast, then after 60 s one login is tried", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      let requests = 0;
      server.use(
        http.post(FEATURES, () => {
          requests++;
          return HttpResponse.json({ message: "expired" }, { status: 401 });
        }),
      );
      let asked = 0;
      const pod = testClient({ sessionToken: async () => `token-${++asked}`, retry: { maxAttempts: 1 } });
      for (let i = 0; i < 3; i++) await pod.users.updateFeatures(1, ON).catch(() => undefined);
      expect(asked).toBe(3);
      const resting = await pod.users.updateFeatures(1, ON).catch((e: unknown) => e);
      expect(resting).toBeInstanceOf(PodUnauthorizedError);
      expect(resting).toMatchObject({ attempts: 0, circuitBreaker: "session" });
      const sent = requests;
      vi.setSystemTime(Date.now() + 59_000);
      await pod.users.updateFeatures(1, ON).catch(() => undefined);
      expect([asked, requests]).toEqual([3, sent]);
      vi.setSystemTime(Date.now() + 1_000);
      await pod.users.updateFeatures(1, ON).catch(() => undefined);
      expect(asked).toBe(4);
      expect(requests).toBe(sent + 1);
    } finally {
      vi.useRealTimers();
    }
  });
});
