import { generateKeyPair, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { canonicalUserId } from "../src/core/ids.js";
import { parseJsonLossless } from "../src/core/json.js";
import {
  createPodClient,
  PodBadRequestError,
  PodNotFoundError,
  PodUnauthorizedError,
  ValidationError,
} from "../src/index.js";
import { checkBody } from "../src/operations/wire.js";
import { uidKey } from "../src/simulator/ids.js";
import { mulberry32, type SimulatedPod, type SimulatedPodOptions, startSimulatedPod } from "../src/simulator/index.js";
import { readJsonExact } from "../src/simulator/json.js";

const TOKEN = "test-session-token";
const UID = "7215545057281";
const BIG = "9223372036854775807"; // int64 max: far beyond 2^53
const BIG2 = "9007199254740993"; // 2^53 + 1: the first integer a float cannot hold

/** Started pods, closed after each test. */
const pods: SimulatedPod[] = [];
async function start(options: SimulatedPodOptions = {}): Promise<SimulatedPod> {
  const pod = await startSimulatedPod({ sessionToken: TOKEN, ...options });
  pods.push(pod);
  return pod;
}
afterEach(async () => {
  await Promise.all(pods.splice(0).map((pod) => pod.close()));
});

function clientFor(pod: SimulatedPod, sessionToken: string | (() => string) = TOKEN) {
  return createPodClient({
    baseUrl: pod.url,
    sessionToken,
    retry: { initialDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5, maxAttempts: 8 },
  });
}

/** A plain fetch against the pod; answers status, text and headers. */
async function call(pod: SimulatedPod, method: string, path: string, body?: string, token: string | null = TOKEN) {
  const headers: Record<string, string> = {};
  if (token !== null) headers.sessionToken = token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${pod.url}${path}`, { method, headers, body: body ?? null });
  return { status: res.status, text: await res.text(), headers: res.headers };
}

describe("every operation round-trips through the project client", () => {
  it("features/update merges, features lists them with `entitlment` on the wire", async () => {
    const pod = await start();
    const client = clientFor(pod);
    await client.users.updateFeatures(UID, [
      { entitlement: "canCreatePublicRoom", enabled: true },
      { entitlement: "sendFilesEnabled", enabled: false },
    ]);
    await client.users.updateFeatures(UID, [{ entitlement: "sendFilesEnabled", enabled: true }]);
    expect(await client.users.listFeatures(UID)).toEqual([
      { entitlement: "canCreatePublicRoom", enabled: true },
      { entitlement: "sendFilesEnabled", enabled: true },
    ]);
    expect(pod.state.features(UID)).toEqual({ canCreatePublicRoom: true, sendFilesEnabled: true });
    const raw = await call(pod, "GET", `/v1/admin/user/${UID}/features`);
    expect(JSON.parse(raw.text)).toEqual([
      { entitlment: "canCreatePublicRoom", enabled: true },
      { entitlment: "sendFilesEnabled", enabled: true },
    ]);
  });

  it("features/update answers the SuccessResponse", async () => {
    const pod = await start();
    const res = await call(pod, "POST", `/v1/admin/user/${UID}/features/update`, "[]");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(res.text)).toEqual({ format: "TEXT", message: "OK" });
  });

  it("delegates/update adds and removes; delegates lists them", async () => {
    const pod = await start();
    const client = clientFor(pod);
    await client.users.addDelegate(UID, 7215545057282n);
    await client.users.addDelegate(UID, 7215545057283);
    await client.users.updateDelegates(UID, { userId: "7215545057284", action: "ADD" });
    await client.users.removeDelegate(UID, 7215545057283n);
    await client.users.removeDelegate(UID, 1234n); // not a delegate: nothing to do
    expect(await client.users.listDelegates(UID)).toEqual([7215545057282n, 7215545057284n]);
    expect(pod.state.delegates(UID)).toEqual([7215545057282n, 7215545057284n]);
  });

  it("app/entitlement/list POST replaces all and answers the new list", async () => {
    const pod = await start();
    const client = clientFor(pod);
    await client.users.replaceApps(UID, [{ appId: "old", listed: true, install: true }]);
    const apps = [
      { appId: "selerity", appName: "Selerity Context", listed: true, install: false },
      {
        appId: "djApp",
        listed: false,
        install: true,
        products: [{ appId: "djApp", name: "Premium", sku: "AcDccU53SsY", subscribed: true, type: "premium" }],
      },
    ];
    expect(await client.users.replaceApps(UID, apps)).toEqual(apps);
    expect(await client.users.listApps(UID)).toEqual(apps);
    expect(pod.state.apps(UID)).toEqual(apps);
  });

  it("app/entitlement/list PATCH: TRUE/FALSE set, KEEP keeps, REMOVE falls back to the pod level, product updates", async () => {
    const pod = await start({ appDefaults: { listed: true, install: false } });
    const client = clientFor(pod);
    pod.state.setApps(UID, [
      { appId: "a", listed: false, install: true },
      {
        appId: "b",
        listed: false,
        install: false,
        products: [{ name: "Basic", type: "default", subscribed: true }],
      },
    ]);
    const after = await client.users.patchApps(UID, [
      { appId: "a", listed: "TRUE", install: "KEEP" },
      { appId: "b", listed: "REMOVE", install: true, product: { name: "Basic", type: "default", subscribed: false } },
      { appId: "b", product: { name: "Premium", type: "premium", subscribed: true } },
      { appId: "c", install: "REMOVE" },
    ]);
    const expected = [
      { appId: "a", listed: true, install: true },
      {
        appId: "b",
        listed: true, // pod level
        install: true,
        products: [
          { name: "Basic", type: "default", subscribed: false },
          { name: "Premium", type: "premium", subscribed: true },
        ],
      },
      { appId: "c", listed: true, install: false },
    ];
    expect(after).toEqual(expected);
    expect(await client.users.listApps(UID)).toEqual(expected);
    await client.users.patchApps(UID, [{ appId: "a", listed: false }]);
    expect(pod.state.apps(UID)[0]).toEqual({ appId: "a", listed: false, install: true });
  });

  it("system/features/list answers the default list, or the configured one", async () => {
    const pod = await start();
    const features = await clientFor(pod).users.listAvailableFeatures();
    expect(features).toEqual(
      expect.arrayContaining(["canCreatePublicRoom", "isExternalRoomEnabled", "delegatesEnabled"]),
    );
    const custom = await start({ availableFeatures: ["x", "y"] });
    expect(await clientFor(custom).users.listAvailableFeatures()).toEqual(["x", "y"]);
  });

  it("a user never written to reads as empty", async () => {
    const pod = await start();
    const client = clientFor(pod);
    expect(await client.users.listFeatures(42)).toEqual([]);
    expect(await client.users.listDelegates(42)).toEqual([]);
    expect(await client.users.listApps(42)).toEqual([]);
  });

  it("state seeded through the accessors is what the pod answers", async () => {
    const pod = await start();
    pod.state.setFeatures(UID, { canUpdateAvatar: false });
    pod.state.setDelegates(UID, [BIG2, 5n]);
    const client = clientFor(pod);
    expect(await client.users.listFeatures(UID)).toEqual([{ entitlement: "canUpdateAvatar", enabled: false }]);
    expect(await client.users.listDelegates(UID)).toEqual([BigInt(BIG2), 5n]);
    expect(pod.state.users()).toEqual([UID]);
    pod.state.clear();
    expect(pod.state.features(UID)).toEqual({});
  });
});

describe("int64 ids keep every digit", () => {
  it("a delegate beyond 2^53 sent as a bigint comes back exactly", async () => {
    const pod = await start();
    const client = clientFor(pod);
    await client.users.addDelegate(BIG, BigInt(BIG2));
    await client.users.addDelegate(BIG, 9007199254740992n);
    expect(await client.users.listDelegates(BIG)).toEqual([BigInt(BIG2), 9007199254740992n]);
    expect(pod.state.delegates(BIG)).toEqual([BigInt(BIG2), 9007199254740992n]);
  });

  it("the GET answer is a JSON array of bare numbers with every digit", async () => {
    const pod = await start();
    const add = await call(pod, "POST", `/v1/admin/user/${UID}/delegates/update`, `{"action":"ADD","userId":${BIG}}`);
    expect(add.status).toBe(200);
    await call(pod, "POST", `/v1/admin/user/${UID}/delegates/update`, `{ "userId" : ${BIG2} , "action":"ADD" }`);
    const res = await call(pod, "GET", `/v1/admin/user/${UID}/delegates`);
    expect(res.text).toBe(`[${BIG},${BIG2}]`);
  });

  it("the path uid beyond 2^53 is kept exactly, leading zeros dropped", async () => {
    const pod = await start();
    await call(pod, "POST", `/v1/admin/user/0${BIG2}/features/update`, '[{"entitlment":"x","enabled":true}]');
    expect(pod.state.features(BIG2)).toEqual({ x: true });
    expect(pod.state.features(9007199254740992n)).toEqual({});
  });

  it.each([
    ["beyond int64", "9223372036854775808"],
    ["a fraction", "1.5"],
    ["a float exponent", "1e30"],
    ["a string", '"7215545057282"'],
    ["zero", "0"],
    ["negative", "-7215545057282"],
  ])("a delegate userId that is %s gets 400", async (_, userId) => {
    const pod = await start();
    const res = await call(
      pod,
      "POST",
      `/v1/admin/user/${UID}/delegates/update`,
      `{"userId":${userId},"action":"ADD"}`,
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ code: 400, message: expect.stringContaining("userId") });
    expect(pod.state.delegates(UID)).toEqual([]);
  });
});

describe("bad requests get the spec's answers", () => {
  let pod: SimulatedPod;
  beforeAll(async () => {
    pod = await startSimulatedPod({ sessionToken: TOKEN, users: [UID, 7215545057282n], strictFeatures: true });
  });
  afterAll(() => pod.close());

  it.each([
    ["features/update", "POST", '{"entitlment":"x"}', "body must be an array, got an object"],
    [
      "features/update",
      "POST",
      '[{"entitlment":5,"enabled":true}]',
      "body[0].entitlment must be a string, got number 5",
    ],
    [
      "features/update",
      "POST",
      '[{"entitlment":"canUpdateAvatar","enabled":"yes"}]',
      'body[0].enabled must be a boolean, got "yes"',
    ],
    ["features/update", "POST", '[{"entitlment":"canUpdateAvatar"}]', "entitlment and enabled are required"],
    ["features/update", "POST", '[{"entitlment":"noSuchFeature","enabled":true}]', "unknown feature"],
    [
      "delegates/update",
      "POST",
      '{"userId":7215545057282,"action":"MOVE"}',
      'body.action must be one of ADD|REMOVE, got "MOVE"',
    ],
    ["delegates/update", "POST", '{"action":"ADD"}', "userId and action are required"],
    ["delegates/update", "POST", '{"userId":99,"action":"ADD"}', "user 99 not found"],
    ["app/entitlement/list", "POST", '[{"appId":"a","listed":true}]', "body[0].install is required"],
    [
      "app/entitlement/list",
      "POST",
      `[{"appId":"${"x".repeat(257)}","listed":true,"install":true}]`,
      "body[0].appId must be at most 256 characters long",
    ],
    [
      "app/entitlement/list",
      "PATCH",
      '[{"appId":"a","install":"YES"}]',
      "body[0].install must be one of TRUE|FALSE|KEEP|REMOVE",
    ],
    ["app/entitlement/list", "PATCH", '[{"appId":"a","product":null}]', "body[0].product must be an object, got null"],
    [
      "app/entitlement/list",
      "PATCH",
      '[{"appId":"a","product":{"name":"P","type":"t"}}]',
      "body[0].product.subscribed is required",
    ],
    ["features/update", "POST", "[{", "not valid JSON"],
    ["features/update", "POST", "", "not valid JSON"],
  ])("%s %s %s → 400 (%s)", async (route, method, body, message) => {
    const before = JSON.stringify([pod.state.features(UID), pod.state.delegates(UID), pod.state.apps(UID)]);
    const res = await call(pod, method, `/v1/admin/user/${UID}/${route}`, body);
    expect(res.status).toBe(400);
    const error = JSON.parse(res.text);
    expect(error).toEqual({ code: 400, message: expect.stringContaining(message) });
    expect(JSON.stringify([pod.state.features(UID), pod.state.delegates(UID), pod.state.apps(UID)])).toBe(before);
  });

  it.each(["abc", "-", "1.5", "99999999999999999999", "9223372036854775808", "0", "-5"])(
    "uid %j → 400",
    async (uid) => {
      const res = await call(pod, "GET", `/v1/admin/user/${uid}/features`);
      expect(res.status).toBe(400);
      expect(JSON.parse(res.text)).toEqual({
        code: 400,
        message: `uid must be a positive int64, got ${JSON.stringify(uid)}`,
      });
    },
  );

  it("words a schema error as the client does, in the wire's names", async () => {
    const body = [{ appId: "a", install: "YES" }];
    const res = await call(pod, "PATCH", `/v1/admin/user/${UID}/app/entitlement/list`, JSON.stringify(body));
    let client: ValidationError | undefined;
    try {
      checkBody(body, "patch /v1/admin/user/{uid}/app/entitlement/list", "body");
    } catch (error) {
      client = error as ValidationError;
    }
    expect(client).toBeInstanceOf(ValidationError);
    expect(JSON.parse(res.text).message).toBe(`${client?.field} ${client?.message.slice(`${client?.field}: `.length)}`);
  });

  it.each([
    ["missing", null],
    ["wrong", "not-the-token"],
    ["empty", ""],
  ])("a %s sessionToken → 401 with an Error body", async (_, token) => {
    const res = await call(pod, "GET", `/v1/admin/user/${UID}/features`, undefined, token);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.text)).toEqual({ code: 401, message: expect.any(String) });
  });

  it("a write with a wrong token changes nothing", async () => {
    const res = await call(
      pod,
      "POST",
      `/v1/admin/user/${UID}/features/update`,
      '[{"entitlment":"canUpdateAvatar","enabled":true}]',
      "bad",
    );
    expect(res.status).toBe(401);
    expect(pod.state.features(UID)).toEqual({});
  });

  it.each([
    ["GET", "features", undefined],
    ["POST", "features/update", '[{"entitlment":"canUpdateAvatar","enabled":true}]'],
    ["GET", "delegates", undefined],
    ["GET", "app/entitlement/list", undefined],
  ])("an unknown user (users seeded) → 404: %s %s", async (method, route, body) => {
    const res = await call(pod, method, `/v1/admin/user/7215545057299/${route}`, body);
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toEqual({ code: 404, message: "user 7215545057299 not found" });
  });

  it.each([
    "/pod/v1/admin/user/1/nope",
    "/pod/v1/admin/user/1",
    "/pod/v1/admin/user/1/features/update/more",
    "/pod/v2/admin/system/features/list",
    "/",
    "/v1/admin/user/1/features",
  ])("an unknown route %s → 404", async (path) => {
    const res = await fetch(`${pod.origin}${path}`, { headers: { sessionToken: TOKEN } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ code: 404 });
  });

  it.each([
    ["GET", "features/update", "POST"],
    ["POST", "features", "GET"],
    ["DELETE", "app/entitlement/list", "GET, POST, PATCH"],
    ["PUT", "delegates/update", "POST"],
  ])("%s on %s → 405 with Allow: %s", async (method, route, allow) => {
    const res = await call(pod, method, `/v1/admin/user/${UID}/${route}`, method === "GET" ? undefined : "[]");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe(allow);
    expect(JSON.parse(res.text)).toMatchObject({ code: 405 });
  });

  it("the client maps them to its errors", async () => {
    const client = clientFor(pod);
    await expect(client.users.listFeatures(7215545057299n)).rejects.toBeInstanceOf(PodNotFoundError);
    await expect(client.users.addDelegate(UID, 42)).rejects.toBeInstanceOf(PodBadRequestError);
    await expect(clientFor(pod, "bad").users.listApps(UID)).rejects.toBeInstanceOf(PodUnauthorizedError);
  });

  it("a body over maxBodyBytes → 413", async () => {
    const small = await start({ maxBodyBytes: 100 });
    const body = JSON.stringify(Array.from({ length: 20 }, () => ({ entitlment: "canUpdateAvatar", enabled: true })));
    const res = await call(small, "POST", `/v1/admin/user/${UID}/features/update`, body);
    expect(res.status).toBe(413);
  });
});

describe("the simulator's own parsing agrees with the client's (two implementations, checked against each other)", () => {
  const INT64_EDGES = ["1", "007", "0", "00", "9007199254740991", "9007199254740992", "9007199254740993", BIG];
  const OUTSIDE = ["9223372036854775808", "09223372036854775807", "99999999999999999999", "", "-1", "+1", "1e3", " 1"];

  it.each([...INT64_EDGES, ...OUTSIDE])("uid text %j", (text) => {
    expect(uidKey(text)).toBe(canonicalUserId(text));
  });

  it.each([
    1,
    0,
    -1,
    1.5,
    Number.MAX_SAFE_INTEGER,
    2 ** 53,
    Number.NaN,
    1n,
    0n,
    -1n,
    9223372036854775807n,
    9223372036854775808n,
    null,
    undefined,
    true,
    {},
  ])("uid value %s", (value) => {
    expect(uidKey(value)).toBe(canonicalUserId(value));
  });

  it("uid text: 2,000 random digit strings of 1 to 21 digits", () => {
    const random = mulberry32(19);
    for (let i = 0; i < 2000; i++) {
      const length = 1 + Math.floor(random() * 21);
      let text = "";
      for (let j = 0; j < length; j++) text += String(Math.floor(random() * 10));
      expect(uidKey(text), text).toBe(canonicalUserId(text));
    }
  });

  it.each([
    '{"userId":9007199254740993,"action":"ADD"}',
    `[${BIG},-${BIG},1.5,1e400,12345678901234567890.5,2]`,
    '{"a":{"b":[9007199254740991,9007199254740992]},"s":"1234567890123456789"}',
    '{"small":1,"text":"no long numbers"}',
  ])("JSON %s", (text) => {
    expect(readJsonExact(text)).toEqual(parseJsonLossless(text));
  });

  it("refuses what JSON.parse refuses", () => {
    for (const text of ["{", "[1,]", "{'a':1}", "1234567890123456789x"]) {
      expect(() => readJsonExact(text), text).toThrow(SyntaxError);
    }
  });
});

describe("fault injection", () => {
  /** Statuses of `n` sequential requests; "drop" for a connection closed without an answer. */
  async function statuses(pod: SimulatedPod, n: number): Promise<(number | "drop")[]> {
    const out: (number | "drop")[] = [];
    for (let i = 0; i < n; i++) {
      try {
        out.push((await call(pod, "GET", `/v1/admin/user/${UID}/features`)).status);
      } catch {
        out.push("drop");
      }
    }
    return out;
  }
  const faults = { rateLimit: 0.2, serverError: 0.1, dropConnection: 0.05, retryAfterSeconds: 2 };

  it("is repeatable: the same seed gives the same sequence of statuses", async () => {
    const first = await statuses(await start({ faults: { ...faults, seed: 7 } }), 120);
    const again = await statuses(await start({ faults: { ...faults, seed: 7 } }), 120);
    const other = await statuses(await start({ faults: { ...faults, seed: 8 } }), 120);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    expect(first).toContain(429);
    expect(first).toContain(503);
    expect(first).toContain("drop");
    expect(first).toContain(200);
  });

  it("follows the configured shares (fixed seed, so an exact outcome)", async () => {
    const pod = await start({ faults: { ...faults, seed: 1 } });
    const seen = await statuses(pod, 400);
    const share = (s: number | "drop") => seen.filter((x) => x === s).length / seen.length;
    expect(share(429)).toBeGreaterThan(0.13);
    expect(share(429)).toBeLessThan(0.27);
    expect(share(503)).toBeGreaterThan(0.05);
    expect(share(503)).toBeLessThan(0.15);
    expect(share("drop")).toBeGreaterThan(0.01);
    expect(share("drop")).toBeLessThan(0.1);
    const stats = pod.stats();
    expect(stats.faults.rateLimited).toBe(seen.filter((x) => x === 429).length);
    expect(stats.faults.serverErrors).toBe(seen.filter((x) => x === 503).length);
    expect(stats.faults.dropped).toBe(seen.filter((x) => x === "drop").length);
    expect(stats.byStatus[200]).toBe(seen.filter((x) => x === 200).length);
    expect(stats.requests).toBe(400);
  });

  it("a 429 carries Retry-After and an Error body; faults never change state", async () => {
    const pod = await start({ faults: { rateLimit: 1, retryAfterSeconds: 3 } });
    const res = await call(pod, "POST", `/v1/admin/user/${UID}/features/update`, '[{"entitlment":"x","enabled":true}]');
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("3");
    expect(JSON.parse(res.text)).toMatchObject({ code: 429 });
    expect(pod.state.features(UID)).toEqual({});
    const failing = await start({ faults: { serverError: 1 } });
    const res503 = await call(failing, "POST", `/v1/admin/user/${UID}/features/update`, "[]");
    expect(res503.status).toBe(503);
    expect(JSON.parse(res503.text)).toMatchObject({ code: 503 });
  });

  it("a dropped connection really drops: the request fails with no answer", async () => {
    const pod = await start({ faults: { dropConnection: 1 } });
    await expect(
      fetch(`${pod.url}/v1/admin/user/${UID}/features`, { headers: { sessionToken: TOKEN } }),
    ).rejects.toThrow();
    const client = clientFor(pod);
    await expect(client.users.listFeatures(UID, { retry: { maxAttempts: 2 } })).rejects.toMatchObject({
      name: "PodNetworkError",
    });
    expect(pod.stats().faults.dropped).toBe(3);
    expect(pod.stats().byStatus).toEqual({});
  });

  it("faults stay off the state accessors, login and unknown routes; setFaults switches them", async () => {
    const pod = await start({ faults: { serverError: 1 } });
    pod.state.setFeatures(UID, { a: true });
    expect(pod.state.features(UID)).toEqual({ a: true });
    expect((await fetch(`${pod.origin}/nope`)).status).toBe(404);
    pod.setFaults(undefined);
    expect((await call(pod, "GET", `/v1/admin/user/${UID}/features`)).status).toBe(200);
  });

  it("latency delays answers without changing them", async () => {
    const pod = await start({ faults: { latencyMs: [1, 3], seed: 5 } });
    expect(await statuses(pod, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(pod.stats().faults.delayed).toBe(5);
  });

  it("the client gets through 429s, 503s and drops with retries, and the state is right", async () => {
    const pod = await start({
      faults: { rateLimit: 0.2, serverError: 0.1, dropConnection: 0.05, retryAfterSeconds: 0, seed: 3 },
    });
    const client = clientFor(pod);
    const uids = Array.from({ length: 60 }, (_, i) => 1000n + BigInt(i));
    await Promise.all(
      uids.map((uid) => client.users.updateFeatures(uid, [{ entitlement: "canCreatePublicRoom", enabled: true }])),
    );
    for (const uid of uids) expect(pod.state.features(uid)).toEqual({ canCreatePublicRoom: true });
    const { faults: injected } = pod.stats();
    expect(injected.rateLimited + injected.serverErrors + injected.dropped).toBeGreaterThan(0);
  });

  it("rejects fault settings that make no sense", async () => {
    await expect(startSimulatedPod({ faults: { rateLimit: 1.5 } })).rejects.toThrow(RangeError);
    await expect(startSimulatedPod({ faults: { rateLimit: 0.6, serverError: 0.6 } })).rejects.toThrow(RangeError);
    await expect(startSimulatedPod({ faults: { latencyMs: [5, 1] } })).rejects.toThrow(RangeError);
  });

  it("mulberry32 is a deterministic PRNG in [0, 1)", () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(new Set(xs).size).toBe(1000);
  });
});

describe("rate limiting", () => {
  /** A clock the test moves by hand, starting half a second into a window (so 1000 ms windows end in 500 ms). */
  function clock(start = 1_700_000_000_500) {
    const c = { now: start, read: () => c.now };
    return c;
  }
  const path = (uid: number | string) => `/v1/admin/user/${uid}/features/update`;
  const BODY = '[{"entitlment":"canCreatePublicRoom","enabled":true}]';
  /** `n` writes at once (distinct uids from `first`): their statuses, Retry-After headers and Error bodies. */
  async function burst(pod: SimulatedPod, n: number, first = 1, token = TOKEN) {
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) => call(pod, "POST", path(first + i), BODY, token)),
    );
    const refused = answers.filter((a) => a.status === 429);
    return {
      ok: answers.filter((a) => a.status === 200).length,
      refused: refused.length,
      retryAfter: [...new Set(refused.map((a) => a.headers.get("retry-after")))],
      bodies: refused.map((a) => JSON.parse(a.text) as unknown),
    };
  }

  it("fixed window of 10/s: a burst of 25 gets exactly 10 through, 15 answered 429, the next window admits again", async () => {
    const time = clock();
    const pod = await start({ rateLimit: { perSecond: 10, windowMs: 1000, now: time.read } });
    const first = await burst(pod, 25);
    expect(first).toMatchObject({ ok: 10, refused: 15, retryAfter: ["1"] });
    for (const body of first.bodies) expect(body).toEqual({ code: 429, message: expect.any(String) });
    expect(pod.state.users()).toHaveLength(10); // refused calls change nothing
    expect(pod.stats()).toMatchObject({
      requests: 25,
      byStatus: { 200: 10, 429: 15 },
      rateLimiter: { admitted: 10, refused: 15 },
      faults: { rateLimited: 0 },
      writes: 10,
    });
    time.now += 499; // still the same window
    expect(await burst(pod, 1, 100)).toMatchObject({ ok: 0, refused: 1, retryAfter: ["1"] });
    time.now += 1; // the next one
    expect(await burst(pod, 12, 200)).toMatchObject({ ok: 10, refused: 2 });
    expect(pod.stats().rateLimiter).toEqual({ admitted: 20, refused: 18 });
  });

  it("windows are aligned to the clock and Retry-After is whole seconds until the window ends, at least 1", async () => {
    const time = clock(1_700_000_000_090); // 90 ms into a 100 ms window
    const pod = await start({ rateLimit: { perSecond: 100, windowMs: 100, now: time.read } });
    expect(await burst(pod, 11)).toMatchObject({ ok: 10, refused: 1, retryAfter: ["1"] }); // 10 ms left → 1 s
    time.now += 10;
    expect(await burst(pod, 11, 100)).toMatchObject({ ok: 10, refused: 1 });

    const long = clock(1_700_000_001_500); // 1.5 s into a 5 s window (5 s windows start at multiples of 5000)
    const slow = await start({ rateLimit: { perSecond: 2, windowMs: 5000, now: long.read } });
    expect(await burst(slow, 12)).toMatchObject({ ok: 10, refused: 2, retryAfter: ["4"] }); // 3.5 s left → 4
    long.now += 3000;
    expect(await burst(slow, 1, 100)).toMatchObject({ ok: 0, retryAfter: ["1"] }); // 0.5 s left → 1
  });

  it("token bucket: full at start, refills at perSecond up to its capacity", async () => {
    const time = clock();
    const pod = await start({ rateLimit: { perSecond: 10, algorithm: "token-bucket", now: time.read } });
    expect(await burst(pod, 15)).toMatchObject({ ok: 10, refused: 5, retryAfter: ["1"] });
    time.now += 250; // 2.5 tokens back
    expect(await burst(pod, 3, 100)).toMatchObject({ ok: 2, refused: 1 });
    time.now += 60_000; // refilled, but never beyond the capacity
    expect(await burst(pod, 11, 200)).toMatchObject({ ok: 10, refused: 1 });
    expect(pod.stats().rateLimiter).toEqual({ admitted: 22, refused: 7 });

    const slow = clock();
    const trickle = await start({
      rateLimit: { perSecond: 0.4, windowMs: 2500, algorithm: "token-bucket", now: slow.read },
    });
    expect(await burst(trickle, 2)).toMatchObject({ ok: 1, refused: 1, retryAfter: ["3"] }); // a token every 2.5 s
    slow.now += 1000;
    expect(await burst(trickle, 1, 100)).toMatchObject({ ok: 0, retryAfter: ["2"] }); // 1.5 s to go
    slow.now += 1500;
    expect(await burst(trickle, 1, 200)).toMatchObject({ ok: 1 });
  });

  it("counts per pod, not per token; login, unknown routes and the stats route are not counted", async () => {
    const time = clock();
    const pod = await start({ rateLimit: { perSecond: 5, now: time.read } });
    const login = await fetch(`${pod.origin}/login/pubkey/authenticate`, {
      method: "POST",
      body: JSON.stringify({ token: unsignedJwt({ sub: "bot", exp: Math.floor(Date.now() / 1000) + 60 }) }),
    });
    expect(login.status).toBe(200);
    const other = ((await login.json()) as { token: string }).token;
    const a = await burst(pod, 3, 1, TOKEN);
    const b = await burst(pod, 3, 100, other);
    expect(a.ok + b.ok).toBe(5);
    expect(a.refused + b.refused).toBe(1);
    // Past the limit: login and unknown routes answer as usual.
    const again = await fetch(`${pod.origin}/login/pubkey/authenticate`, { method: "POST", body: "{}" });
    expect(again.status).toBe(400);
    expect((await fetch(`${pod.origin}/nope`)).status).toBe(404);
    const res = await fetch(`${pod.origin}/__simulator/stats`);
    expect(res.status).toBe(200);
    const remote = await res.json();
    expect(remote).toEqual(JSON.parse(JSON.stringify(pod.stats())));
    expect(remote).toMatchObject({ requests: 9, rateLimiter: { admitted: 5, refused: 1 }, byStatus: { 429: 1 } });
    expect(pod.stats().requests).toBe(9); // reading the stats is not a request
  });

  it("decides before faults: a refused call draws no fault; the random 429 fault is counted apart", async () => {
    const time = clock();
    const pod = await start({ rateLimit: { perSecond: 2, now: time.read }, faults: { serverError: 1 } });
    expect((await burst(pod, 5)).refused).toBe(3);
    expect(pod.stats()).toMatchObject({
      byStatus: { 503: 2, 429: 3 },
      rateLimiter: { admitted: 2, refused: 3 },
      faults: { serverErrors: 2, rateLimited: 0 },
    });
    pod.setFaults({ rateLimit: 1, retryAfterSeconds: 7 });
    time.now += 1000;
    const mixed = await burst(pod, 3, 100);
    expect(mixed.retryAfter.sort()).toEqual(["1", "7"]);
    expect(pod.stats()).toMatchObject({
      byStatus: { 429: 6 },
      rateLimiter: { admitted: 4, refused: 4 },
      faults: { rateLimited: 2 },
    });
  });

  it("setRateLimit replaces or removes the limit; resetStats zeroes its counters", async () => {
    const time = clock();
    const pod = await start();
    expect(await burst(pod, 5)).toMatchObject({ ok: 5 });
    expect(pod.stats().rateLimiter).toEqual({ admitted: 0, refused: 0 });
    pod.setRateLimit({ perSecond: 2, now: time.read });
    expect(await burst(pod, 5, 100)).toMatchObject({ ok: 2, refused: 3 });
    pod.resetStats();
    expect(pod.stats().rateLimiter).toEqual({ admitted: 0, refused: 0 });
    expect(await burst(pod, 1, 200)).toMatchObject({ refused: 1 }); // the budget is not reset with the counters
    pod.setRateLimit(undefined);
    expect(await burst(pod, 5, 300)).toMatchObject({ ok: 5 });
    expect(() => pod.setRateLimit({ perSecond: -1 })).toThrow(RangeError);
  });

  it.each([
    [{ perSecond: 0 }, /rateLimit\.perSecond must be a number of calls per second > 0, got 0/],
    [{ perSecond: -5 }, /rateLimit\.perSecond/],
    [{ perSecond: Number.NaN }, /rateLimit\.perSecond/],
    [{ perSecond: Number.POSITIVE_INFINITY }, /rateLimit\.perSecond/],
    [{ perSecond: "10" }, /rateLimit\.perSecond/],
    [{ perSecond: 10, windowMs: 0 }, /rateLimit\.windowMs must be a whole number of milliseconds > 0, got 0/],
    [{ perSecond: 10, windowMs: 2.5 }, /rateLimit\.windowMs/],
    [{ perSecond: 10, algorithm: "leaky-bucket" }, /rateLimit\.algorithm must be one of fixed-window, token-bucket/],
    [{ perSecond: 15, windowMs: 100 }, /whole number >= 1, got 15 × 100 \/ 1000 = 1\.5/],
    [{ perSecond: 5, windowMs: 100 }, /whole number >= 1/],
    [{ perSecond: 5, windowMs: 100, algorithm: "token-bucket" }, /capacity\) must be at least 1 call, got 0\.5/],
  ])("refuses rateLimit %j with a RangeError naming the option", async (rateLimit, message) => {
    const options = { rateLimit } as unknown as SimulatedPodOptions;
    await expect(startSimulatedPod(options)).rejects.toThrow(RangeError);
    await expect(startSimulatedPod(options)).rejects.toThrow(message);
  });

  it("accepts a token bucket whose capacity is not a whole number", async () => {
    const time = clock();
    const pod = await start({ rateLimit: { perSecond: 15, windowMs: 100, algorithm: "token-bucket", now: time.read } });
    expect(await burst(pod, 3)).toMatchObject({ ok: 1, refused: 2 }); // 1.5 tokens
    time.now += 100;
    expect(await burst(pod, 3, 100)).toMatchObject({ ok: 1, refused: 2 }); // 0.5 + 1.5, capped at 1.5
  });

  it("changes: the limit changes at its time after the first call; the timeline shows admitted, refused and the limit", async () => {
    const time = clock(1_700_000_000_000);
    const changes = [
      { afterSeconds: 1, perSecond: 3 },
      { afterSeconds: 2, perSecond: 10 },
    ];
    const pod = await start({ rateLimit: { perSecond: 10, windowMs: 1000, changes, now: time.read } });
    expect(await burst(pod, 12)).toMatchObject({ ok: 10, refused: 2 });
    time.now += 1000; // the first change: 3 a second
    expect(await burst(pod, 5, 100)).toMatchObject({ ok: 3, refused: 2 });
    time.now += 1000; // back to 10
    expect(await burst(pod, 11, 200)).toMatchObject({ ok: 10, refused: 1 });
    const timeline = (await (await fetch(`${pod.origin}/__simulator/timeline`)).json()) as Record<string, number[]>;
    expect(timeline.stepMs).toBe(100);
    expect(timeline.admitted).toHaveLength(21);
    expect([timeline.admitted?.[0], timeline.admitted?.[10], timeline.admitted?.[20]]).toEqual([10, 3, 10]);
    expect([timeline.refused?.[0], timeline.refused?.[10], timeline.refused?.[20]]).toEqual([2, 2, 1]);
    expect([timeline.allowed?.[0], timeline.allowed?.[5], timeline.allowed?.[10], timeline.allowed?.[20]]).toEqual([
      10, 10, 3, 10,
    ]);
    expect(pod.stats().requests).toBe(28); // the timeline route is counted nowhere
  });

  it.each([
    [
      [
        { afterSeconds: 5, perSecond: 30 },
        { afterSeconds: 5, perSecond: 40 },
      ],
      /increasing order, got 5/,
    ],
    [[{ afterSeconds: -1, perSecond: 30 }], /afterSeconds must be numbers >= 0/],
    [[{ afterSeconds: 1, perSecond: 0 }], /rateLimit\.perSecond must be a number of calls per second > 0, got 0/],
    [[{ afterSeconds: 1, perSecond: 15 }], /whole number >= 1, got 15 × 100/],
  ])("refuses changes %j", async (changes, message) => {
    const options = { rateLimit: { perSecond: 10, windowMs: 100, changes } } as unknown as SimulatedPodOptions;
    await expect(startSimulatedPod(options)).rejects.toThrow(message);
  });
});

describe("session tokens", () => {
  it("expire after N requests: 401 until the new token is used", async () => {
    const pod = await start({ expireTokenAfterRequests: 3 });
    const path = `/v1/admin/user/${UID}/features`;
    for (let i = 0; i < 3; i++) expect((await call(pod, "GET", path)).status).toBe(200);
    expect((await call(pod, "GET", path)).status).toBe(401);
    expect((await call(pod, "GET", path)).status).toBe(401);
    const next = pod.currentToken();
    expect(next).not.toBe(TOKEN);
    expect((await call(pod, "GET", path, undefined, next)).status).toBe(200);
    expect((await call(pod, "GET", path)).status).toBe(401);
    expect(pod.stats().tokenExpiries).toBe(1);
  });

  it("a client whose provider asks the pod gets through an expiry without an error", async () => {
    const pod = await start({ expireTokenAfterRequests: 5 });
    let asked = 0;
    const client = clientFor(pod, () => {
      asked++;
      return pod.currentToken();
    });
    for (let i = 0; i < 12; i++) await client.users.addDelegate(UID, 100 + i);
    expect(pod.state.delegates(UID)).toHaveLength(12);
    expect(asked).toBe(3); // the first token, then one per expiry
    expect(pod.stats().byStatus[401]).toBe(2);
  });

  it("rotateToken invalidates the old token; expireTokens expires it now", async () => {
    const pod = await start();
    const path = `/v1/admin/user/${UID}/delegates`;
    expect(pod.rotateToken("fresh")).toBe("fresh");
    expect((await call(pod, "GET", path)).status).toBe(401);
    expect((await call(pod, "GET", path, undefined, "fresh")).status).toBe(200);
    pod.expireTokens();
    expect((await call(pod, "GET", path, undefined, "fresh")).status).toBe(401);
    expect(pod.currentToken()).not.toBe("fresh");
  });

  it("login with any well-formed JWT issues a fresh token that works", async () => {
    const pod = await start({ expireTokenAfterRequests: 100 });
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("bot")
      .setExpirationTime("4m")
      .sign(new TextEncoder().encode("any secret"));
    const res = await fetch(`${pod.origin}/login/pubkey/authenticate`, {
      method: "POST",
      body: JSON.stringify({ token: jwt }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { name: string; token: string };
    expect(body).toEqual({ name: "sessionToken", token: expect.any(String) });
    expect(body.token).not.toBe(TOKEN);
    expect((await call(pod, "GET", `/v1/admin/user/${UID}/features`, undefined, body.token)).status).toBe(200);
    expect((await call(pod, "GET", `/v1/admin/user/${UID}/features`)).status).toBe(200); // the old one still works
    expect(pod.currentToken()).toBe(body.token);
    expect(pod.stats().logins).toBe(1);
  });

  it.each([
    ["not JSON", "{", 400],
    ["no token", "{}", 400],
    ["not a JWT", '{"token":"abc"}', 400],
    ["a JWT without sub", `{"token":"${unsignedJwt({ exp: Date.now() / 1000 + 60 })}"}`, 401],
    ["an expired JWT", `{"token":"${unsignedJwt({ sub: "bot", exp: Date.now() / 1000 - 60 })}"}`, 401],
  ])("login with %s → %s", async (_, body, status) => {
    const pod = await start();
    const res = await fetch(`${pod.origin}/login/pubkey/authenticate`, { method: "POST", body });
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ code: status });
  });

  it("login verifies the RS512 signature when a public key is configured", async () => {
    const { publicKey, privateKey } = await generateKeyPair("RS512", { modulusLength: 2048 });
    const other = await generateKeyPair("RS512", { modulusLength: 2048 });
    const pod = await start({ login: { publicKey } });
    const sign = (key: typeof privateKey) =>
      new SignJWT({}).setProtectedHeader({ alg: "RS512" }).setSubject("bot").setExpirationTime("4m").sign(key);
    const login = (jwt: string) =>
      fetch(`${pod.origin}/login/pubkey/authenticate`, { method: "POST", body: JSON.stringify({ token: jwt }) });
    expect((await login(await sign(privateKey))).status).toBe(200);
    const refused = await login(await sign(other.privateKey));
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ code: 401 });
  });
});

describe("the server", () => {
  it("reports where it listens and closes even with idle keep-alive connections", async () => {
    const pod = await startSimulatedPod();
    expect(pod.url).toBe(`http://127.0.0.1:${pod.port}/pod`);
    expect(pod.origin).toBe(`http://127.0.0.1:${pod.port}`);
    const client = clientFor(pod, pod.currentToken());
    await client.users.listFeatures(1); // leaves a keep-alive connection open
    await pod.close();
    await pod.close(); // idempotent
    await expect(fetch(`${pod.url}/v1/admin/system/features/list`)).rejects.toThrow();
  });

  it("listens on the given port and refuses a taken one", async () => {
    const pod = await start();
    await expect(startSimulatedPod({ port: pod.port })).rejects.toMatchObject({ code: "EADDRINUSE" });
    await expect(startSimulatedPod({ port: -1 })).rejects.toThrow(RangeError);
  });

  it("serves many concurrent keep-alive requests and counts them", async () => {
    const pod = await start();
    const client = clientFor(pod);
    await Promise.all(Array.from({ length: 500 }, (_, i) => client.users.addDelegate(i + 1, 7215545057282n)));
    expect(pod.stats()).toMatchObject({ requests: 500, writes: 500, byStatus: { 200: 500 } });
    expect(pod.state.users()).toHaveLength(500);
    pod.resetStats();
    expect(pod.stats()).toMatchObject({ requests: 0, writes: 0, byStatus: {} });
  });
});

/** A JWT with the given claims and no valid signature: well-formed, for the pod's default (unverified) login. */
function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS512", typ: "JWT" })}.${part(claims)}.c2ln`;
}
