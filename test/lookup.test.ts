import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { PodApiError, ValidationError } from "../src/index.js";
import { BASE_URL, TOKEN, testClient, useMsw } from "./helpers.js";

const server = useMsw();

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  sessionToken: string | null;
}

/** A directory of users the msw pod answers lookups from, as a real pod does (emails whatever their case). */
const DIRECTORY = [
  { id: 9007199254740993n, emailAddress: "Ada@Acme.com", username: "ada", displayName: "Ada L." },
  { id: 7215545057282n, emailAddress: "grace@acme.com", username: "grace", displayName: "Grace H." },
];

function lookupRoute(answer?: (params: URLSearchParams) => Response): Seen[] {
  const seen: Seen[] = [];
  server.use(
    http.get(`${BASE_URL}/v3/users`, ({ request }) => {
      const url = new URL(request.url);
      seen.push({
        method: request.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        sessionToken: request.headers.get("sessionToken"),
      });
      if (answer) return answer(url.searchParams);
      const emails = (url.searchParams.get("email") ?? "").toLowerCase().split(",");
      const usernames = (url.searchParams.get("username") ?? "").split(",");
      const uids = (url.searchParams.get("uid") ?? "").split(",");
      const users = DIRECTORY.filter(
        (u) =>
          emails.includes(u.emailAddress.toLowerCase()) ||
          usernames.includes(u.username) ||
          uids.includes(String(u.id)),
      );
      if (users.length === 0) return new HttpResponse(null, { status: 204 });
      // int64 ids as bare JSON numbers, every digit: JSON.stringify cannot write a bigint.
      const body = `{"users":[${users.map((u) => JSON.stringify({ ...u, id: 0 }).replace('"id":0', `"id":${u.id}`)).join(",")}]}`;
      return new HttpResponse(body, { headers: { "content-type": "application/json" } });
    }),
  );
  return seen;
}

describe("pod.users.lookup", () => {
  it("GETs /v3/users with the emails comma-separated and local=true, and returns exact int64 ids", async () => {
    const seen = lookupRoute();
    const result = await testClient().users.lookup({ emails: ["ada@acme.com", "nobody@acme.com"] });
    expect(seen).toEqual([
      {
        method: "GET",
        path: "/pod/v3/users",
        query: { email: "ada@acme.com,nobody@acme.com", local: "true" },
        sessionToken: TOKEN,
      },
    ]);
    expect(result.users).toEqual([
      { id: 9007199254740993n, emailAddress: "Ada@Acme.com", username: "ada", displayName: "Ada L." },
    ]);
    expect(result.notFound).toEqual(["nobody@acme.com"]);
  });

  it("de-duplicates emails case-insensitively and sends at most 100 values per call", async () => {
    const seen = lookupRoute();
    const emails = ["GRACE@acme.com", "grace@ACME.com", ...Array.from({ length: 249 }, (_, i) => `u${i}@acme.com`)];
    const result = await testClient().users.lookup({ emails }, { concurrency: 1 });
    expect(seen.map((s) => s.query.email?.split(",").length)).toEqual([100, 100, 50]);
    expect(seen[0]?.query.email?.startsWith("GRACE@acme.com,u0@acme.com")).toBe(true);
    expect(result.users.map((u) => u.id)).toEqual([7215545057282n]);
    expect(result.notFound).toHaveLength(249);
    expect(result.notFound[0]).toBe("u0@acme.com");
  });

  it("looks up by username and by uid, with `active` when given", async () => {
    const seen = lookupRoute();
    const byName = await testClient().users.lookup({ usernames: ["grace", "Grace"] }, { active: true, local: false });
    expect(seen[0]?.query).toEqual({ username: "grace,Grace", local: "false", active: "true" });
    expect(byName.users.map((u) => u.username)).toEqual(["grace"]);
    expect(byName.notFound).toEqual(["Grace"]);
    const byUid = await testClient().users.lookup({ uids: [9007199254740993n, "7215545057282", 1] });
    expect(seen[1]?.query).toEqual({ uid: "9007199254740993,7215545057282,1", local: "true" });
    expect(byUid.users.map((u) => u.id)).toEqual([9007199254740993n, 7215545057282n]);
    expect(byUid.notFound).toEqual(["1"]);
  });

  it("reads 204 (no user found) as no users, not as an unreadable answer", async () => {
    lookupRoute(() => new HttpResponse(null, { status: 204 }));
    await expect(testClient().users.lookup({ emails: ["x@y.z"] })).resolves.toEqual({ users: [], notFound: ["x@y.z"] });
  });

  it("refuses a bad query before sending", async () => {
    const seen = lookupRoute();
    const users = testClient().users;
    const cases: [unknown, string, string][] = [
      [{}, "query", "exactly one of emails, usernames, uids"],
      [{ emails: ["a@b.c"], usernames: ["a"] }, "query", "exactly one of emails, usernames, uids"],
      [{ emails: "a@b.c" }, "query.emails", "type array"],
      [{ emails: ["a@b.c", ""] }, "query.emails[1]", "not empty"],
      [{ emails: ["a@b.c,d@e.f"] }, "query.emails[0]", "no comma"],
      [{ usernames: [7] }, "query.usernames[0]", "type string"],
      [{ uids: ["12x"] }, "query.uids[0]", "decimal"],
    ];
    for (const [query, field, rule] of cases) {
      const error = await users.lookup(query as never).catch((e: unknown) => e);
      expect(error, JSON.stringify(query)).toBeInstanceOf(ValidationError);
      expect(error).toMatchObject({ field });
      expect((error as ValidationError).rule).toContain(rule);
    }
    await expect(users.lookup({ emails: [] }, { concurrency: 0 })).rejects.toThrow(
      "options.concurrency must be an integer from 1 to 100, got 0",
    );
    expect(seen).toEqual([]);
  });

  it("a refused lookup rejects with the pod's error", async () => {
    lookupRoute(() => HttpResponse.json({ code: 403, message: "no entitlement" }, { status: 403 }));
    const error = await testClient()
      .users.lookup({ emails: ["a@b.c"] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodApiError);
    // The query string (up to 100 email addresses) stays out of the error.
    expect(error).toMatchObject({ status: 403, method: "GET", path: "/v3/users" });
    expect((error as Error).message).toBe("GET /v3/users failed with 403: no entitlement");
  });
});

describe("pod.users.list", () => {
  it("pages GET /v2/admin/user/list with skip and limit until a short page", async () => {
    const all = Array.from({ length: 5 }, (_, i) => ({
      userAttributes: {
        emailAddress: `u${i}@acme.com`,
        userName: `u${i}`,
        displayName: `U ${i}`,
        accountType: "NORMAL",
      },
      userSystemInfo: { id: 7215545057281 + i, status: i === 4 ? "DISABLED" : "ENABLED" },
    }));
    const seen: string[] = [];
    server.use(
      http.get(`${BASE_URL}/v2/admin/user/list`, ({ request }) => {
        const url = new URL(request.url);
        seen.push(url.search);
        const skip = Number(url.searchParams.get("skip"));
        const limit = Number(url.searchParams.get("limit"));
        return HttpResponse.json(all.slice(skip, skip + limit));
      }),
    );
    const users = [];
    for await (const user of testClient().users.list({ pageSize: 2 })) users.push(user);
    expect(seen).toEqual(["?skip=0&limit=2", "?skip=2&limit=2", "?skip=4&limit=2"]);
    expect(users[0]).toEqual({
      id: 7215545057281n,
      emailAddress: "u0@acme.com",
      username: "u0",
      displayName: "U 0",
      accountType: "NORMAL",
      status: "ENABLED",
    });
    expect(users.map((u) => u.status)).toEqual(["ENABLED", "ENABLED", "ENABLED", "ENABLED", "DISABLED"]);
  });

  it("refuses a page size the pod would refuse", async () => {
    const list = testClient().users.list({ pageSize: 1001 });
    await expect(list.next()).rejects.toThrow("options.pageSize must be an integer from 1 to 1000, got 1001");
  });
});
