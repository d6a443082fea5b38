import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { responseValidators } from "../generated/schemas.js";
import {
  parseSimulatorArgs,
  runSimulatorCli,
  SIMULATOR_USAGE,
  type SimulatedPod,
  type SimulatedPodOptions,
  type SimulatorDirectoryEntry,
  startSimulatedPod,
} from "../src/simulator/index.js";

const TOKEN = "test-session-token";
const BIG = "9223372036854775807"; // int64 max: far beyond 2^53
const BIG2 = "9007199254740993"; // 2^53 + 1: a float would write it ...992

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

/** A plain GET against the pod: status, text, content type. */
async function get(pod: SimulatedPod, path: string, token: string | null = TOKEN) {
  const res = await fetch(`${pod.url}${path}`, { headers: token === null ? {} : { sessionToken: token } });
  return { status: res.status, text: await res.text(), type: res.headers.get("content-type") };
}

/** A 200 answer, checked by the spec's response validator of `operation` as the client checks it. */
async function answer(pod: SimulatedPod, path: string, operation: "get /v3/users" | "get /v2/admin/user/list") {
  const res = await get(pod, path);
  expect(res.status, res.text).toBe(200);
  const body: unknown = JSON.parse(res.text);
  const validate = responseValidators[operation] as unknown as ((value: unknown) => boolean) & { errors?: unknown };
  expect(validate(body), JSON.stringify(validate.errors)).toBe(true);
  return { body, text: res.text };
}

const ADA = { uid: 7215545057281n, email: "Ada@Example.com", username: "ada", displayName: "Ada Lovelace" };
const BOB = { uid: BIG, email: "bob@example.com", username: "bob", displayName: "Bob", status: "DISABLED" } as const;
const CAROL = { uid: 42, email: "carol@example.org" }; // username and displayName defaulted
const DIRECTORY: SimulatorDirectoryEntry[] = [ADA, BOB, CAROL];

const userV2 = (id: string, email: string, displayName: string, username: string) =>
  `{"id":${id},"emailAddress":${JSON.stringify(email)},"displayName":${JSON.stringify(displayName)},"username":${JSON.stringify(username)},"accountType":"NORMAL"}`;
const ADA_V2 = userV2("7215545057281", "Ada@Example.com", "Ada Lovelace", "ada");
const BOB_V2 = userV2(BIG, "bob@example.com", "Bob", "bob");
const CAROL_V2 = userV2("42", "carol@example.org", "carol", "carol@example.org");

describe("GET /v3/users looks users up in the directory", () => {
  it("by email, ignoring case; the answer is exact (int64 ids with every digit) and passes the spec's validator", async () => {
    const pod = await start({ directory: DIRECTORY });
    const { text } = await answer(pod, "/v3/users?email=ada@example.com,BOB@EXAMPLE.COM", "get /v3/users");
    expect(text).toBe(`{"users":[${ADA_V2},${BOB_V2}]}`);
  });

  it("by username, exactly: another case finds no one", async () => {
    const pod = await start({ directory: DIRECTORY });
    expect((await answer(pod, "/v3/users?username=bob,ada", "get /v3/users")).text).toBe(
      `{"users":[${BOB_V2},${ADA_V2}]}`,
    );
    const none = await get(pod, "/v3/users?username=ADA");
    expect(none).toEqual({ status: 204, text: "", type: null });
  });

  it("by uid: canonical decimals, leading zeros ignored; each user once, in the list's order; defaults filled in", async () => {
    const pod = await start({ directory: DIRECTORY });
    const { text } = await answer(pod, `/v3/users?uid=042,${BIG},42,7215545057299`, "get /v3/users");
    expect(text).toBe(`{"users":[${CAROL_V2},${BOB_V2}]}`);
  });

  it("answers 204 with no body and no content type when no user is found", async () => {
    const pod = await start({ directory: DIRECTORY });
    for (const query of ["email=nobody@example.com", "uid=1,2", "username=nobody"]) {
      expect(await get(pod, `/v3/users?${query}`)).toEqual({ status: 204, text: "", type: null });
    }
    expect(pod.stats().byStatus).toEqual({ 204: 3 });
  });

  it("active=true finds only enabled users, active=false only disabled ones, unset both; local changes nothing", async () => {
    const pod = await start({ directory: DIRECTORY });
    const both = `/v3/users?email=ada@example.com,bob@example.com`;
    expect((await answer(pod, both, "get /v3/users")).text).toBe(`{"users":[${ADA_V2},${BOB_V2}]}`);
    expect((await answer(pod, `${both}&active=true`, "get /v3/users")).text).toBe(`{"users":[${ADA_V2}]}`);
    expect((await answer(pod, `${both}&active=false&local=true`, "get /v3/users")).text).toBe(`{"users":[${BOB_V2}]}`);
    expect((await answer(pod, `${both}&local=false`, "get /v3/users")).text).toBe(`{"users":[${ADA_V2},${BOB_V2}]}`);
    expect(await get(pod, "/v3/users?uid=7215545057281&active=false")).toMatchObject({ status: 204, text: "" });
  });

  it("decodes percent-encoded lists (a + in an email, an encoded comma)", async () => {
    const pod = await start({
      directory: [
        { uid: 1, email: "a+tag@example.com" },
        { uid: 2, email: "b@example.com" },
      ],
    });
    const { body } = await answer(pod, "/v3/users?email=a%2Btag%40example.com%2Cb%40example.com", "get /v3/users");
    expect((body as { users: { id: number }[] }).users.map((user) => user.id)).toEqual([1, 2]);
  });

  it("takes up to 100 values a call", async () => {
    const directory = Array.from({ length: 100 }, (_, i) => ({ uid: i + 1, email: `u${i + 1}@example.com` }));
    const pod = await start({ directory });
    const emails = directory.map((entry) => entry.email).join(",");
    const { body } = await answer(pod, `/v3/users?email=${emails}`, "get /v3/users");
    expect((body as { users: unknown[] }).users).toHaveLength(100);
  });

  it.each([
    ["", "one of uid, email or username is required"],
    ["?local=true", "one of uid, email or username is required"],
    ["?uid=1&email=a@example.com", "only one of uid, email or username per call, got uid and email"],
    ["?email=a@example.com&username=a", "only one of uid, email or username per call, got email and username"],
    ["?email=a@example.com&email=b@example.com", "email must be given once, as one comma-separated list"],
    ["?email=", "email must list at least one value"],
    ["?uid=,,", "uid must list at least one value"],
    [`?uid=${Array.from({ length: 101 }, (_, i) => i + 1).join(",")}`, "uid lists 101 values; at most 100 per call"],
    ["?uid=1,abc", 'uid: "abc" is not a positive int64'],
    ["?uid=9223372036854775808", 'uid: "9223372036854775808" is not a positive int64'],
    ["?uid=0", 'uid: "0" is not a positive int64'],
    ["?uid=1&active=yes", 'active must be true or false, got "yes"'],
    ["?uid=1&local=1", 'local must be true or false, got "1"'],
  ])("GET /v3/users%s → 400 (%s)", async (query, message) => {
    const pod = await start({ directory: DIRECTORY });
    const res = await get(pod, `/v3/users${query}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({ code: 400, message });
  });
});

describe("GET /v2/admin/user/list lists the directory", () => {
  const detail = (id: string, email: string, userName: string, displayName: string, status = "ENABLED") =>
    `{"userAttributes":{"emailAddress":${JSON.stringify(email)},"userName":${JSON.stringify(userName)},"displayName":${JSON.stringify(displayName)},"accountType":"NORMAL"},"userSystemInfo":{"id":${id},"status":"${status}"}}`;

  it("in uid order (not the directory's), int64 ids exact, checked by the spec's validator", async () => {
    const pod = await start({ directory: DIRECTORY });
    const { text } = await answer(pod, "/v2/admin/user/list", "get /v2/admin/user/list");
    expect(text).toBe(
      `[${detail("42", "carol@example.org", "carol@example.org", "carol")},${detail(
        "7215545057281",
        "Ada@Example.com",
        "ada",
        "Ada Lovelace",
      )},${detail(BIG, "bob@example.com", "bob", "Bob", "DISABLED")}]`,
    );
  });

  it("pages by skip and limit (default 100): consecutive pages neither skip nor repeat a user", async () => {
    // 250 users given in a shuffled order, ids of different lengths, one beyond 2^53.
    const uids = Array.from({ length: 249 }, (_, i) => BigInt((i * 7919) % 249) + 1n);
    uids.push(BigInt(BIG2));
    const directory = uids.map((uid) => ({ uid, email: `u${uid}@example.com` }));
    const pod = await start({ directory });
    const ids = async (query: string) => {
      const { text } = await answer(pod, `/v2/admin/user/list${query}`, "get /v2/admin/user/list");
      return [...text.matchAll(/"id":(\d+)/g)].map((match) => match[1]);
    };
    const first = await ids("");
    expect(first).toHaveLength(100);
    const pages = [first, await ids("?skip=100&limit=100"), await ids("?skip=200&limit=1000")];
    expect(pages.map((page) => page.length)).toEqual([100, 100, 50]);
    const expected = [...Array.from({ length: 249 }, (_, i) => String(i + 1)), BIG2];
    expect(pages.flat()).toEqual(expected);
    expect(await ids("?skip=249&limit=5")).toEqual([BIG2]);
    expect(await ids("?skip=250")).toEqual([]);
    expect(await ids("?skip=5000&limit=1")).toEqual([]);
  });

  it.each([
    ["?limit=0", 'limit must be an integer from 1 to 1000, got "0"'],
    ["?limit=1001", 'limit must be an integer from 1 to 1000, got "1001"'],
    ["?limit=-1", 'limit must be an integer from 1 to 1000, got "-1"'],
    ["?limit=ten", 'limit must be an integer from 1 to 1000, got "ten"'],
    ["?limit=", 'limit must be an integer from 1 to 1000, got ""'],
    ["?skip=-1", 'skip must be an integer ≥ 0, got "-1"'],
    ["?skip=1.5&limit=10", 'skip must be an integer ≥ 0, got "1.5"'],
  ])("GET /v2/admin/user/list%s → 400 (%s)", async (query, message) => {
    const pod = await start({ directory: DIRECTORY });
    const res = await get(pod, `/v2/admin/user/list${query}`);
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toEqual({ code: 400, message });
  });
});

describe("directory users are the pod's users", () => {
  it("other uids get 404 on the user routes and 400 as delegates, as with `users`", async () => {
    const pod = await start({ directory: DIRECTORY });
    const features = await get(pod, "/v1/admin/user/7215545057299/features");
    expect(features.status).toBe(404);
    expect(JSON.parse(features.text)).toEqual({ code: 404, message: "user 7215545057299 not found" });
    expect((await get(pod, "/v1/admin/user/42/features")).status).toBe(200);
    const res = await fetch(`${pod.url}/v1/admin/user/42/delegates/update`, {
      method: "POST",
      headers: { sessionToken: TOKEN },
      body: '{"userId":5,"action":"ADD"}',
    });
    expect(res.status).toBe(400);
    expect(pod.state.hasUser(BIG)).toBe(true);
    expect(pod.state.hasUser(5)).toBe(false);
    expect(pod.state.users()).toEqual(["7215545057281", BIG, "42"]);
  });

  it("the state reads the directory: entries by uid, email (any case) and username, and the list in uid order", async () => {
    const pod = await start({ directory: DIRECTORY });
    const ada = { uid: "7215545057281", email: "Ada@Example.com", username: "ada", displayName: "Ada Lovelace" };
    expect(pod.state.userByEmail("ADA@example.COM")).toEqual({ ...ada, status: "ENABLED" });
    expect(pod.state.userByUsername("bob")).toMatchObject({ uid: BIG, status: "DISABLED" });
    expect(pod.state.userByUsername("Bob")).toBeUndefined();
    expect(pod.state.directoryEntry(42)).toEqual({
      uid: "42",
      email: "carol@example.org",
      username: "carol@example.org",
      displayName: "carol",
      status: "ENABLED",
    });
    expect(pod.state.directoryEntry(5)).toBeUndefined();
    expect(pod.state.directory().map((user) => user.uid)).toEqual(["42", "7215545057281", BIG]);
    // A user added later has the synthetic entry, and is listed in its place.
    pod.state.addUser(100);
    expect(pod.state.userByEmail("user.100@example.com")?.uid).toBe("100");
    expect(pod.state.directory().map((user) => user.uid)).toEqual(["42", "100", "7215545057281", BIG]);
    expect((await answer(pod, "/v3/users?username=user.100", "get /v3/users")).text).toBe(
      `{"users":[${userV2("100", "user.100@example.com", "User 100", "user.100")}]}`,
    );
  });

  it.each([
    [[ADA, { uid: 7215545057281n, email: "x@example.com" }], "directory[1]: uid 7215545057281 is given twice"],
    [
      [ADA, { uid: 1, email: "ADA@example.COM" }],
      'directory[1]: email "ADA@example.COM" is already user 7215545057281\'s',
    ],
    [
      [CAROL, ADA, { uid: 1, email: "z@example.com", username: "ada" }],
      'directory[2]: username "ada" is already user 7215545057281\'s',
    ],
    // A defaulted username is the email: it clashes with another entry's username like any other.
    [
      [
        { uid: 1, email: "a@example.com" },
        { uid: 2, email: "b@example.com", username: "a@example.com" },
      ],
      "directory[1]: username",
    ],
    [[{ uid: 0, email: "a@example.com" }], 'directory[0]: uid must be a positive int64, got "0"'],
    [[{ uid: "abc", email: "a@example.com" }], "directory[0]: uid must be a positive int64"],
    [[{ uid: 1, email: "not-an-email" }], "directory[0]: email must be an address"],
    [[{ uid: 1, email: "a@example.com,b@example.com" }], "directory[0]: email must be an address"],
    [[{ uid: 1, email: "a@example.com", username: "" }], "directory[0]: username must be a non-empty text"],
    [
      [{ uid: 1, email: "a@example.com", status: "ACTIVE" }],
      'directory[0]: status must be ENABLED or DISABLED, got "ACTIVE"',
    ],
  ])("refuses a bad directory at start, naming the entry (case %#)", async (directory, message) => {
    const options = { directory } as unknown as SimulatedPodOptions;
    await expect(startSimulatedPod(options)).rejects.toThrow(TypeError);
    await expect(startSimulatedPod(options)).rejects.toThrow(message);
  });

  it("refuses users and directory together", async () => {
    await expect(startSimulatedPod({ users: [1], directory: [ADA] })).rejects.toThrow(
      "give the pod's users as users or as directory, not both",
    );
  });
});

describe("users without a directory entry have a synthetic one", () => {
  const synthetic = (uid: string) => userV2(uid, `user.${uid}@example.com`, `User ${uid}`, `user.${uid}`);

  it("seeded `users`: found by uid, by user.<uid>@example.com (any case) and user.<uid>; listed in uid order", async () => {
    const pod = await start({ users: [BIG, 7, 1234] });
    const { text } = await answer(
      pod,
      `/v3/users?email=USER.7@example.COM,user.${BIG}@example.com,user.8@example.com,user.007@example.com`,
      "get /v3/users",
    );
    expect(text).toBe(`{"users":[${synthetic("7")},${synthetic(BIG)}]}`);
    expect((await answer(pod, "/v3/users?username=user.1234,USER.7,user.8", "get /v3/users")).text).toBe(
      `{"users":[${synthetic("1234")}]}`,
    );
    expect((await answer(pod, "/v3/users?uid=1234", "get /v3/users")).text).toBe(`{"users":[${synthetic("1234")}]}`);
    expect(await get(pod, "/v3/users?uid=8")).toMatchObject({ status: 204 });
    const list = await answer(pod, "/v2/admin/user/list", "get /v2/admin/user/list");
    expect([...list.text.matchAll(/"id":(\d+)/g)].map((match) => match[1])).toEqual(["7", "1234", BIG]);
    expect(pod.state.directoryEntry(7)).toEqual({
      uid: "7",
      email: "user.7@example.com",
      username: "user.7",
      displayName: "User 7",
      status: "ENABLED",
    });
  });

  it("the default mode: any uid's synthetic email finds it; the list holds the users with state, in uid order", async () => {
    const pod = await start();
    expect((await answer(pod, `/v3/users?email=user.${BIG2}@example.com`, "get /v3/users")).text).toBe(
      `{"users":[${synthetic(BIG2)}]}`,
    );
    expect((await answer(pod, "/v3/users?uid=5", "get /v3/users")).text).toBe(`{"users":[${synthetic("5")}]}`);
    expect(await get(pod, "/v3/users?email=someone@example.com")).toMatchObject({ status: 204 });
    expect((await answer(pod, "/v2/admin/user/list", "get /v2/admin/user/list")).text).toBe("[]");
    for (const uid of [BIG2, "300", "20"]) {
      const res = await fetch(`${pod.url}/v1/admin/user/${uid}/features/update`, {
        method: "POST",
        headers: { sessionToken: TOKEN },
        body: '[{"entitlment":"canCreatePublicRoom","enabled":true}]',
      });
      expect(res.status).toBe(200);
    }
    pod.state.setFeatures(1, { x: true });
    const ids = async () =>
      [...(await answer(pod, "/v2/admin/user/list", "get /v2/admin/user/list")).text.matchAll(/"id":(\d+)/g)].map(
        (match) => match[1],
      );
    expect(await ids()).toEqual(["1", "20", "300", BIG2]);
    expect(pod.state.directory().map((user) => user.uid)).toEqual(["1", "20", "300", BIG2]);
    pod.state.clear();
    expect(await ids()).toEqual([]);
  });
});

describe("the lookups go through the token check, the rate limit and the faults", () => {
  it("401 without a valid token, 429 over the rate limit, 503 and drops from faults", async () => {
    const pod = await start({ directory: DIRECTORY });
    expect((await get(pod, "/v3/users?uid=42", null)).status).toBe(401);
    expect((await get(pod, "/v2/admin/user/list", "wrong")).status).toBe(401);
    pod.setFaults({ serverError: 1 });
    expect((await get(pod, "/v3/users?uid=42")).status).toBe(503);
    expect((await get(pod, "/v2/admin/user/list")).status).toBe(503);
    pod.setFaults({ dropConnection: 1 });
    await expect(get(pod, "/v3/users?uid=42")).rejects.toThrow();
    pod.setFaults(undefined);
    const now = 1_700_000_000_500;
    pod.setRateLimit({ perSecond: 1, now: () => now });
    expect((await get(pod, "/v3/users?uid=42")).status).toBe(200);
    expect((await get(pod, "/v2/admin/user/list")).status).toBe(429);
    const stats = pod.stats();
    expect(stats.byStatus).toEqual({ 401: 2, 503: 2, 200: 1, 429: 1 });
    expect(stats.byOperation["GET /v3/users"]).toBe(3); // 401, 503, 200: the dropped one had no answer
    expect(stats.byOperation["GET /v2/admin/user/list"]).toBe(3); // 401, 503, 429
    expect(stats.faults.dropped).toBe(1);
  });

  it("405 for other methods, with Allow", async () => {
    const pod = await start();
    const res = await fetch(`${pod.url}/v3/users?uid=1`, { method: "POST", headers: { sessionToken: TOKEN } });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
  });
});

describe("stats by operation", () => {
  it("has every operation of the spec as a key, 0 when never called", async () => {
    const pod = await start();
    // The spec's operations, as the generated validators name them: a new one the simulator lacks fails here.
    const spec = Object.keys(responseValidators).map((key) => key.replace(/^\w+/, (method) => method.toUpperCase()));
    expect(Object.keys(pod.stats().byOperation).sort()).toEqual(spec.sort());
    expect(pod.stats().byOperation).toEqual({
      "POST /v1/admin/user/{uid}/features/update": 0,
      "GET /v1/admin/user/{uid}/features": 0,
      "POST /v1/admin/user/{uid}/delegates/update": 0,
      "GET /v1/admin/user/{uid}/delegates": 0,
      "GET /v1/admin/user/{uid}/app/entitlement/list": 0,
      "POST /v1/admin/user/{uid}/app/entitlement/list": 0,
      "PATCH /v1/admin/user/{uid}/app/entitlement/list": 0,
      "GET /v1/admin/user/{uid}/status": 0,
      "POST /v1/admin/user/{uid}/status/update": 0,
      "GET /v1/admin/system/features/list": 0,
      "GET /v3/users": 0,
      "GET /v2/admin/user/list": 0,
    });
  });

  it("counts every answer of each operation, whatever its status; not login, 405s or unknown routes", async () => {
    const pod = await start({ users: [1, 2] });
    const send = (method: string, path: string, body?: string) =>
      fetch(`${pod.url}${path}`, { method, headers: { sessionToken: TOKEN }, body: body ?? null }).then((res) =>
        res.text(),
      );
    await send("POST", "/v1/admin/user/1/features/update", '[{"entitlment":"a","enabled":true}]'); // 200
    await send("POST", "/v1/admin/user/1/features/update", "[{"); // 400
    await send("POST", "/v1/admin/user/3/features/update", "[]"); // 404
    await send("GET", "/v1/admin/user/2/features");
    await send("POST", "/v1/admin/user/1/delegates/update", '{"userId":2,"action":"ADD"}');
    await send("GET", "/v1/admin/user/1/delegates");
    await send("GET", "/v1/admin/user/1/app/entitlement/list");
    await send("POST", "/v1/admin/user/1/app/entitlement/list", "[]");
    await send("PATCH", "/v1/admin/user/1/app/entitlement/list", "[]");
    await send("PATCH", "/v1/admin/user/1/app/entitlement/list", "[]");
    await send("GET", "/v1/admin/system/features/list");
    await send("GET", "/v3/users?uid=1");
    await send("GET", "/v3/users?uid=3"); // 204
    await send("GET", "/v2/admin/user/list");
    await send("DELETE", "/v1/admin/user/1/delegates"); // 405: not an operation
    await send("GET", "/v1/admin/user/1/nope"); // unknown route
    await fetch(`${pod.origin}/login/pubkey/authenticate`, { method: "POST", body: "{}" });
    const { byOperation, requests, writes } = pod.stats();
    expect(byOperation).toEqual({
      "POST /v1/admin/user/{uid}/features/update": 3,
      "GET /v1/admin/user/{uid}/features": 1,
      "POST /v1/admin/user/{uid}/delegates/update": 1,
      "GET /v1/admin/user/{uid}/delegates": 1,
      "GET /v1/admin/user/{uid}/app/entitlement/list": 1,
      "POST /v1/admin/user/{uid}/app/entitlement/list": 1,
      "PATCH /v1/admin/user/{uid}/app/entitlement/list": 2,
      "GET /v1/admin/user/{uid}/status": 0,
      "POST /v1/admin/user/{uid}/status/update": 0,
      "GET /v1/admin/system/features/list": 1,
      "GET /v3/users": 2,
      "GET /v2/admin/user/list": 1,
    });
    expect(requests).toBe(17);
    expect(writes).toBe(5);
    const remote = (await (await fetch(`${pod.origin}/__simulator/stats`)).json()) as { byOperation: unknown };
    expect(remote.byOperation).toEqual(byOperation);
    pod.resetStats();
    expect(Object.values(pod.stats().byOperation).every((count) => count === 0)).toBe(true);
  });
});

describe("simulate --directory FILE", () => {
  const dir = mkdtempSync(join(tmpdir(), "sim-directory-"));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("reads a CSV file: uid and email required, the other columns optional, empty cells defaulted", async () => {
    const csv = file(
      "users.csv",
      "\uFEFFuid,email,username,displayName,status\n" +
        "7215545057281,ada@example.com,ada,Ada Lovelace,\n" +
        `${BIG},bob@example.com,,"Bob, Jr.",DISABLED\n\n`,
    );
    expect(await parseSimulatorArgs(["--directory", csv])).toEqual({
      directory: [
        { uid: "7215545057281", email: "ada@example.com", username: "ada", displayName: "Ada Lovelace" },
        { uid: BIG, email: "bob@example.com", displayName: "Bob, Jr.", status: "DISABLED" },
      ],
    });
    const minimal = file("minimal.csv", "email,uid\nc@example.com,42\n");
    expect(await parseSimulatorArgs(["--directory", minimal])).toEqual({
      directory: [{ uid: "42", email: "c@example.com" }],
    });
  });

  it("reads a JSON Lines file, uids beyond 2^53 exact whether numbers or strings", async () => {
    const jsonl = file(
      "users.jsonl",
      `{"uid":${BIG2},"email":"a@example.com","username":"a"}\n\n{"uid":"${BIG}","email":"b@example.com","status":"DISABLED"}\n`,
    );
    expect(await parseSimulatorArgs(["--directory", jsonl])).toEqual({
      directory: [
        { uid: BigInt(BIG2), email: "a@example.com", username: "a" },
        { uid: BIG, email: "b@example.com", status: "DISABLED" },
      ],
    });
  });

  it.each([
    ["missing.csv", null, "--directory: cannot read"],
    ["empty.csv", "", "empty.csv:1: the file is empty: expected a header row"],
    ["noemail.csv", "uid,username\n1,a\n", "noemail.csv:1: the header must have the email column"],
    ["typo.csv", "uid,emial\n1,a\n", 'typo.csv:1: unknown column "emial"; the columns are uid, email, username'],
    [
      "baduid.csv",
      "uid,email\n1,a@example.com\n\nx1,b@example.com\n",
      'baduid.csv:4: uid must be a positive int64, got "x1"',
    ],
    ["noemailcell.csv", "uid,email\n1,a@example.com\n2,\n", "noemailcell.csv:3: email is required"],
    [
      "badstatus.csv",
      "uid,email,status\n1,a@example.com,ON\n",
      'badstatus.csv:2: status must be ENABLED or DISABLED, got "ON"',
    ],
    ["columns.csv", "uid,email\n1,a@example.com,extra\n", "columns.csv:2: not valid CSV"],
    [
      "dupemail.csv",
      "uid,email\n1,a@example.com\n2,b@example.com\n3,A@EXAMPLE.com\n",
      'dupemail.csv:4: email "A@EXAMPLE.com" is already user 1\'s',
    ],
    ["dupuid.csv", "uid,email\n01,a@example.com\n1,b@example.com\n", "dupuid.csv:3: uid 1 is given twice"],
    ["badjson.jsonl", '{"uid":1,"email":"a@example.com"}\n{"uid":2,\n', "badjson.jsonl:2: not valid JSON"],
    ["array.jsonl", "[1]\n", "array.jsonl:1: each line must be a JSON object"],
    ["key.jsonl", '{"uid":1,"mail":"a@example.com"}\n', 'key.jsonl:1: unknown key "mail"'],
    ["nouid.jsonl", '{"email":"a@example.com"}\n', "nouid.jsonl:1: uid is required"],
    [
      "dupname.jsonl",
      '{"uid":1,"email":"a@example.com","username":"x"}\n{"uid":2,"email":"b@example.com","username":"x"}\n',
      'dupname.jsonl:2: username "x" is already user 1\'s',
    ],
  ])("refuses %s with a usage error naming file:line and the rule", async (name, text, message) => {
    const path = text === null ? join(dir, name) : file(name, text);
    await expect(parseSimulatorArgs(["--directory", path])).rejects.toMatchObject({ name: "UsageError" });
    await expect(parseSimulatorArgs(["--directory", path])).rejects.toThrow(message);
    const stderr: string[] = [];
    const io = { stdout: { write: () => true }, stderr: { write: (line: string) => stderr.push(line) } };
    expect(await runSimulatorCli(["--directory", path], io)).toBe(2);
    expect(stderr[0]).toContain(message);
  });

  it("refuses --users with --directory", async () => {
    const csv = file("one.csv", "uid,email\n1,a@example.com\n");
    await expect(parseSimulatorArgs(["--users", "1", "--directory", csv])).rejects.toThrow(
      "--users and --directory both name the pod's users: give one",
    );
  });

  it("serves the directory, and prints the counts by operation when stopped", async () => {
    const csv = file("serve.csv", `uid,email,username\n${BIG},ada@example.com,ada\n`);
    let out = "";
    let err = "";
    const stop = new AbortController();
    const done = runSimulatorCli(["--directory", csv, "--token", "t"], {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
      interrupt: stop.signal,
    });
    await expect.poll(() => out.split("\n").length).toBeGreaterThan(2);
    const url = (out.split("\n")[0] as string).slice("listening ".length);
    const res = await fetch(`${url}/v3/users?email=ADA@example.com`, { headers: { sessionToken: "t" } });
    expect(await res.text()).toBe(`{"users":[${userV2(BIG, "ada@example.com", "ada", "ada")}]}`);
    stop.abort();
    expect(await done).toBe(0);
    expect(err.trim().split("\n").at(-1)).toContain('by operation {"GET /v3/users":1}');
  });

  it("is in the help text", () => {
    expect(SIMULATOR_USAGE).toContain("--directory FILE");
    expect(SIMULATOR_USAGE).toContain("user.<uid>@example.com");
  });
});
