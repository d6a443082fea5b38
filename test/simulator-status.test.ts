/**
 * User status in the simulated pod (`GET /v1/admin/user/{uid}/status`, `POST …/status/update`), at the wire: exact
 * bodies and status codes, the directory's view of the same status, and the state API. Also: every operation of the
 * table is routed at its method and path, and the simulator's wording of schema errors is the client's.
 */
import { afterEach, describe, expect, it } from "vitest";
import { responseValidators } from "../generated/schemas.js";
import { createPodClient, PodNotFoundError, ValidationError } from "../src/index.js";
import { OPERATIONS, type OperationName } from "../src/operations/index.js";
import { checkBody } from "../src/operations/wire.js";
import {
  type SimulatedPod,
  type SimulatedPodOptions,
  type SimulatorDirectoryEntry,
  startSimulatedPod,
} from "../src/simulator/index.js";

const TOKEN = "test-session-token";
const UID = "7215545057281";
const BIG = "9223372036854775807"; // int64 max: far beyond 2^53
const OK = '{"format":"TEXT","message":"OK"}';
const DIRECTORY: SimulatorDirectoryEntry[] = [
  { uid: UID, email: "ada@example.com", username: "ada", displayName: "Ada" },
  { uid: BIG, email: "bob@example.com", username: "bob", displayName: "Bob", status: "DISABLED" },
];

const pods: SimulatedPod[] = [];
async function start(options: SimulatedPodOptions = {}): Promise<SimulatedPod> {
  const pod = await startSimulatedPod({ sessionToken: TOKEN, ...options });
  pods.push(pod);
  return pod;
}
afterEach(async () => {
  await Promise.all(pods.splice(0).map((pod) => pod.close()));
});

/** A plain request: status, text, content type and Allow header. */
async function call(pod: SimulatedPod, method: string, path: string, body?: string, token: string | null = TOKEN) {
  const headers: Record<string, string> = {};
  if (token !== null) headers.sessionToken = token;
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(`${pod.url}${path}`, { method, headers, body: body ?? null });
  return {
    status: res.status,
    text: await res.text(),
    type: res.headers.get("content-type"),
    allow: res.headers.get("allow"),
  };
}
const getStatus = (pod: SimulatedPod, uid: string, token?: string | null) =>
  call(pod, "GET", `/v1/admin/user/${uid}/status`, undefined, token);
const updateStatus = (pod: SimulatedPod, uid: string, body: string, token?: string | null) =>
  call(pod, "POST", `/v1/admin/user/${uid}/status/update`, body, token);

/** The statuses `GET /v2/admin/user/list` shows, by uid. */
async function listed(pod: SimulatedPod): Promise<Record<string, string>> {
  const res = await call(pod, "GET", "/v2/admin/user/list");
  expect(res.status).toBe(200);
  const statuses: Record<string, string> = {};
  // Ids are int64s: read from the text, not through JSON.parse.
  for (const match of res.text.matchAll(/"userSystemInfo":\{"id":(\d+),"status":"(\w+)"\}/g)) {
    statuses[match[1] as string] = match[2] as string;
  }
  return statuses;
}

/** The uids `GET /v3/users?uid=…&active=…` finds. */
async function found(pod: SimulatedPod, uids: string[], active: boolean): Promise<string[]> {
  const res = await call(pod, "GET", `/v3/users?uid=${uids.join(",")}&active=${active}`);
  if (res.status === 204) return [];
  expect(res.status).toBe(200);
  return [...res.text.matchAll(/"id":(\d+)/g)].map((match) => match[1] as string);
}

describe("GET /v1/admin/user/{uid}/status", () => {
  it("answers ENABLED for a user never updated, as JSON the spec's validator accepts", async () => {
    const pod = await start();
    const res = await getStatus(pod, UID);
    expect(res).toMatchObject({ status: 200, text: '{"status":"ENABLED"}', type: "application/json" });
    expect(responseValidators["get /v1/admin/user/{uid}/status"](JSON.parse(res.text))).toBe(true);
  });

  it("answers DISABLED for a user the directory marks so, ENABLED for the others", async () => {
    const pod = await start({ directory: DIRECTORY });
    expect((await getStatus(pod, BIG)).text).toBe('{"status":"DISABLED"}');
    expect((await getStatus(pod, UID)).text).toBe('{"status":"ENABLED"}');
  });

  it("answers ENABLED for users seeded with `users`", async () => {
    const pod = await start({ users: [UID] });
    expect(await getStatus(pod, UID)).toMatchObject({ status: 200, text: '{"status":"ENABLED"}' });
  });
});

describe("POST /v1/admin/user/{uid}/status/update", () => {
  it("stores the status and the suspension; GET answers them exactly, in the spec's field order", async () => {
    const pod = await start();
    const body = '{"suspensionReason":"On leave","suspendedUntil":1767225600,"suspended":true,"status":"DISABLED"}';
    const res = await updateStatus(pod, UID, body);
    expect(res).toMatchObject({ status: 200, text: OK, type: "application/json" });
    const read = await getStatus(pod, UID);
    expect(read).toMatchObject({
      status: 200,
      text: '{"status":"DISABLED","suspended":true,"suspendedUntil":1767225600,"suspensionReason":"On leave"}',
    });
    expect(responseValidators["get /v1/admin/user/{uid}/status"](JSON.parse(read.text))).toBe(true);
    expect(pod.state.status(UID)).toEqual({
      status: "DISABLED",
      suspended: true,
      suspendedUntil: 1767225600,
      suspensionReason: "On leave",
    });
    const { writes, byOperation } = pod.stats();
    expect(writes).toBe(1);
    expect(byOperation["POST /v1/admin/user/{uid}/status/update"]).toBe(1);
    expect(byOperation["GET /v1/admin/user/{uid}/status"]).toBe(1);
  });

  it("replaces the whole status: suspension fields left out are dropped", async () => {
    const pod = await start();
    await updateStatus(pod, UID, '{"status":"ENABLED","suspended":true,"suspendedUntil":1767225600}');
    expect((await updateStatus(pod, UID, '{"status":"ENABLED"}')).status).toBe(200);
    expect((await getStatus(pod, UID)).text).toBe('{"status":"ENABLED"}');
  });

  it("keeps every digit of an int64 uid", async () => {
    const pod = await start({ users: [BIG] });
    expect((await updateStatus(pod, BIG, '{"status":"DISABLED"}')).status).toBe(200);
    expect((await getStatus(pod, BIG)).text).toBe('{"status":"DISABLED"}');
    expect(pod.state.status(BigInt(BIG))).toEqual({ status: "DISABLED" });
    expect(pod.state.status("9223372036854775806")).toBeUndefined(); // not a user: nothing rounded onto it
  });

  it("changes nothing else of the user", async () => {
    const pod = await start();
    pod.state.setFeatures(UID, { canCreatePublicRoom: true });
    await updateStatus(pod, UID, '{"status":"DISABLED"}');
    expect(pod.state.features(UID)).toEqual({ canCreatePublicRoom: true });
    expect((await call(pod, "GET", `/v1/admin/user/${UID}/features`)).text).toBe(
      '[{"entitlment":"canCreatePublicRoom","enabled":true}]',
    );
  });
});

describe("the directory says what the status says", () => {
  it("GET /v2/admin/user/list and GET /v3/users?active= follow an update, both ways", async () => {
    const pod = await start({ directory: DIRECTORY });
    expect(await listed(pod)).toEqual({ [UID]: "ENABLED", [BIG]: "DISABLED" });
    expect(await found(pod, [UID, BIG], true)).toEqual([UID]);

    await updateStatus(pod, UID, '{"status":"DISABLED"}');
    await updateStatus(pod, BIG, '{"status":"ENABLED"}');
    expect(await listed(pod)).toEqual({ [UID]: "DISABLED", [BIG]: "ENABLED" });
    expect(await found(pod, [UID, BIG], true)).toEqual([BIG]);
    expect(await found(pod, [UID, BIG], false)).toEqual([UID]);
    expect(pod.state.directoryEntry(UID)?.status).toBe("DISABLED");
    expect(pod.state.userByEmail("BOB@example.com")?.status).toBe("ENABLED");
    expect(pod.state.userByUsername("ada")?.status).toBe("DISABLED");
    expect(pod.state.directory().map((user) => user.status)).toEqual(["DISABLED", "ENABLED"]);
  });

  it("a lookup by email or username finds users by their current status", async () => {
    const pod = await start({ directory: DIRECTORY });
    await updateStatus(pod, BIG, '{"status":"ENABLED"}');
    const res = await call(pod, "GET", "/v3/users?email=bob@example.com&active=true");
    expect(res.status).toBe(200);
    expect(res.text).toContain(`"id":${BIG}`);
    expect((await call(pod, "GET", "/v3/users?username=bob&active=false")).status).toBe(204);
  });

  it("suspension alone does not change the directory's status", async () => {
    const pod = await start({ directory: DIRECTORY });
    await updateStatus(pod, UID, '{"status":"ENABLED","suspended":true}');
    expect(await listed(pod)).toEqual({ [UID]: "ENABLED", [BIG]: "DISABLED" });
  });

  it("with no users seeded, a user whose status was set is listed with it", async () => {
    const pod = await start();
    await updateStatus(pod, "77", '{"status":"DISABLED"}');
    expect(await listed(pod)).toEqual({ "77": "DISABLED" });
    expect(await found(pod, ["77"], false)).toEqual(["77"]);
  });
});

describe("refusals", () => {
  it.each([
    ['{"status":"SUSPENDED"}', 'body.status must be one of ENABLED|DISABLED, got "SUSPENDED"'],
    ['{"status":1}', "body.status must be a string, got number 1"],
    ["{}", "body.status is required"],
    ['{"suspended":true}', "body.status is required"],
    ['{"status":"DISABLED","suspended":"yes"}', 'body.suspended must be a boolean, got "yes"'],
    ['{"status":"DISABLED","suspendedUntil":1.5}', "body.suspendedUntil must be an integer, got number 1.5"],
    [
      '{"status":"DISABLED","suspendedUntil":9007199254740993}',
      "body.suspendedUntil must be unix seconds, an integer below 2^53",
    ],
    ['{"status":"DISABLED","suspensionReason":false}', "body.suspensionReason must be a string, got boolean false"],
    ['["DISABLED"]', "body must be an object, got an array"],
    ["null", "body must be an object, got null"],
    ['{"status":', "request body is not valid JSON"],
    ["", "request body is not valid JSON"],
  ])("%s → 400 %j, nothing changed", async (body, message) => {
    const pod = await start({ directory: DIRECTORY });
    const res = await updateStatus(pod, BIG, body);
    expect(res).toMatchObject({ status: 400, type: "application/json" });
    expect(JSON.parse(res.text)).toEqual({ code: 400, message });
    expect(pod.state.status(BIG)).toEqual({ status: "DISABLED" });
    expect(pod.stats().writes).toBe(0);
  });

  it.each([
    ["missing", null, "missing sessionToken header"],
    ["wrong", "not-the-token", "invalid session token (unknown)"],
  ])("a %s sessionToken → 401, and the update changes nothing", async (_, token, message) => {
    const pod = await start();
    const write = await updateStatus(pod, UID, '{"status":"DISABLED"}', token);
    expect(write).toMatchObject({ status: 401, text: JSON.stringify({ code: 401, message }) });
    const read = await getStatus(pod, UID, token);
    expect(read).toMatchObject({ status: 401, text: JSON.stringify({ code: 401, message }) });
    expect(pod.state.status(UID)).toEqual({ status: "ENABLED" });
  });

  it("an unknown user → 404 on both, as for the other operations", async () => {
    const pod = await start({ directory: DIRECTORY });
    const expected = { status: 404, text: '{"code":404,"message":"user 99 not found"}' };
    expect(await updateStatus(pod, "99", '{"status":"DISABLED"}')).toMatchObject(expected);
    expect(await getStatus(pod, "99")).toMatchObject(expected);
    expect(pod.state.status(99)).toBeUndefined();
  });

  it.each(["abc", "0", "9223372036854775808"])("uid %j → 400", async (uid) => {
    const pod = await start();
    const message = `uid must be a positive int64, got ${JSON.stringify(uid)}`;
    expect(await getStatus(pod, uid)).toMatchObject({ status: 400, text: JSON.stringify({ code: 400, message }) });
    expect(await updateStatus(pod, uid, '{"status":"ENABLED"}')).toMatchObject({ status: 400 });
  });

  it.each([
    ["POST", "status", "GET"],
    ["GET", "status/update", "POST"],
    ["DELETE", "status", "GET"],
  ])("%s on %s → 405 with Allow: %s", async (method, route, allow) => {
    const pod = await start();
    const res = await call(pod, method, `/v1/admin/user/${UID}/${route}`, method === "GET" ? undefined : "{}");
    expect(res).toMatchObject({ status: 405, allow });
    expect(JSON.parse(res.text)).toEqual({ code: 405, message: `method not allowed; allowed: ${allow}` });
  });

  it("the schema's refusal is worded as the client's own check words it (two implementations, one wording)", async () => {
    const pod = await start();
    for (const body of [{ status: "SUSPENDED" }, { status: "ENABLED", suspendedUntil: "soon" }, []]) {
      const res = await updateStatus(pod, UID, JSON.stringify(body));
      let client: ValidationError | undefined;
      try {
        checkBody(body, "post /v1/admin/user/{uid}/status/update", "body");
      } catch (error) {
        client = error as ValidationError;
      }
      expect(client).toBeInstanceOf(ValidationError);
      const words = `${client?.field} ${client?.message.slice(`${client?.field}: `.length)}`;
      expect(JSON.parse(res.text)).toEqual({ code: 400, message: words });
    }
  });
});

describe("state.status and state.setStatus", () => {
  it("setStatus is what an update does: GET and the directory answer it", async () => {
    const pod = await start({ directory: DIRECTORY });
    pod.state.setStatus(BIG, { status: "ENABLED", suspended: true, suspendedUntil: 1767225600 });
    expect((await getStatus(pod, BIG)).text).toBe('{"status":"ENABLED","suspended":true,"suspendedUntil":1767225600}');
    expect(await listed(pod)).toEqual({ [UID]: "ENABLED", [BIG]: "ENABLED" });
  });

  it("status answers a copy", async () => {
    const pod = await start();
    pod.state.setStatus(UID, { status: "DISABLED" });
    const status = pod.state.status(UID);
    if (status !== undefined) status.status = "ENABLED";
    expect(pod.state.status(UID)).toEqual({ status: "DISABLED" });
  });

  it("setStatus refuses a status that is neither ENABLED nor DISABLED", async () => {
    const pod = await start();
    expect(() => pod.state.setStatus(UID, { status: "GONE" as "ENABLED" })).toThrow(
      new TypeError("status must be ENABLED or DISABLED, got GONE"),
    );
    expect(() => pod.state.setStatus("x", { status: "ENABLED" })).toThrow(TypeError);
  });

  it("clear forgets every set status: the directory's holds again", async () => {
    const pod = await start({ directory: DIRECTORY });
    await updateStatus(pod, BIG, '{"status":"ENABLED"}');
    pod.state.clear();
    expect(pod.state.status(BIG)).toEqual({ status: "DISABLED" });
    expect(await listed(pod)).toEqual({ [UID]: "ENABLED", [BIG]: "DISABLED" });
  });
});

describe("the project client against the simulated pod", () => {
  it("users.updateStatus and users.getStatus round-trip; bulk.updateStatus writes every user; the directory follows", async () => {
    const pod = await start({ directory: DIRECTORY });
    const client = createPodClient({ baseUrl: pod.url, sessionToken: TOKEN });
    expect(await client.users.getStatus(BigInt(BIG))).toEqual({ status: "DISABLED" });
    await client.users.updateStatus(UID, { status: "DISABLED", suspended: true, suspensionReason: "Leave" });
    expect(await client.users.getStatus(UID)).toEqual({
      status: "DISABLED",
      suspended: true,
      suspensionReason: "Leave",
    });
    const report = await client.bulk.updateStatus([
      { uid: UID, status: "ENABLED" },
      { uid: BigInt(BIG), status: "ENABLED" },
    ]);
    expect(report.succeeded).toBe(2);
    expect(pod.state.status(UID)).toEqual({ status: "ENABLED" });
    expect(pod.state.directory().map((user) => user.status)).toEqual(["ENABLED", "ENABLED"]);
    await expect(client.users.getStatus(99)).rejects.toBeInstanceOf(PodNotFoundError);
  });
});

describe("routes come from the operation table", () => {
  it("every operation of the table is served at its method and path, and counted under it", async () => {
    const pod = await start({ users: [UID, "2"] });
    const names = Object.keys(OPERATIONS) as OperationName[];
    for (const name of names) {
      const { method, path } = OPERATIONS[name];
      const res = await call(
        pod,
        method.toUpperCase(),
        path.replace("{uid}", UID),
        method === "get" ? undefined : "[]",
      );
      // Reached its handler: neither an unknown route nor a wrong method (a body check may still say 400).
      expect([404, 405], `${name}: ${res.status} ${res.text}`).not.toContain(res.status);
    }
    const { byOperation } = pod.stats();
    expect(Object.keys(byOperation).sort()).toEqual(
      names.map((name) => `${OPERATIONS[name].method.toUpperCase()} ${OPERATIONS[name].path}`).sort(),
    );
    expect(Object.values(byOperation)).toEqual(names.map(() => 1));
  });
});
