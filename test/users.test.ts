import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { BASE_URL, capture as captureRoute, type SeenRequest, see, TOKEN, testClient, useMsw } from "./helpers.js";

const server = useMsw();
const UID = "7215545057281";

const capture = (method: "get" | "post" | "patch", path: string, reply: unknown) =>
  captureRoute(server, method, path, reply);

describe("pod.users: the exact request and the mapped result of every method", () => {
  it("updateFeatures POSTs the features with the API's `entitlment` spelling", async () => {
    const seen = capture("post", `/v1/admin/user/${UID}/features/update`, { format: "TEXT", message: "OK" });
    const result = await testClient().users.updateFeatures(7215545057281, [
      { entitlement: "canCreatePublicRoom", enabled: true },
      { entitlement: "isExternalIMEnabled", enabled: false },
    ]);
    expect(result).toBeUndefined();
    expect(seen).toEqual([
      {
        method: "POST",
        path: `/pod/v1/admin/user/${UID}/features/update`,
        sessionToken: TOKEN,
        contentType: "application/json",
        body: '[{"entitlment":"canCreatePublicRoom","enabled":true},{"entitlment":"isExternalIMEnabled","enabled":false}]',
      },
    ]);
  });

  it("listFeatures GETs and renames `entitlment` back to `entitlement`", async () => {
    const seen = capture("get", `/v1/admin/user/${UID}/features`, [
      { entitlment: "canCreatePublicRoom", enabled: true },
      { entitlment: "sendFilesEnabled", enabled: false },
    ]);
    const features = await testClient().users.listFeatures(BigInt(UID));
    expect(features).toEqual([
      { entitlement: "canCreatePublicRoom", enabled: true },
      { entitlement: "sendFilesEnabled", enabled: false },
    ]);
    expect(seen).toEqual([
      { method: "GET", path: `/pod/v1/admin/user/${UID}/features`, sessionToken: TOKEN, contentType: null, body: "" },
    ]);
  });

  it.each([
    ["addDelegate", "ADD"],
    ["removeDelegate", "REMOVE"],
  ] as const)("%s POSTs delegates/update with action %s", async (method, action) => {
    const seen = capture("post", `/v1/admin/user/${UID}/delegates/update`, { format: "TEXT", message: "OK" });
    await expect(testClient().users[method](UID, 7215545057282)).resolves.toBeUndefined();
    expect(seen).toEqual([
      {
        method: "POST",
        path: `/pod/v1/admin/user/${UID}/delegates/update`,
        sessionToken: TOKEN,
        contentType: "application/json",
        body: `{"userId":7215545057282,"action":"${action}"}`,
      },
    ]);
  });

  it("updateDelegates sends the documented body", async () => {
    const seen = capture("post", `/v1/admin/user/${UID}/delegates/update`, { format: "TEXT", message: "OK" });
    await testClient().users.updateDelegates(UID, { userId: "7215545057282", action: "REMOVE" });
    expect(seen[0]?.body).toBe('{"userId":7215545057282,"action":"REMOVE"}');
  });

  it("listDelegates returns bigints", async () => {
    const seen: SeenRequest[] = [];
    server.use(
      http.get(`${BASE_URL}/v1/admin/user/${UID}/delegates`, async ({ request }) => {
        seen.push(await see(request));
        return new HttpResponse("[7215545057282, 9223372036854775807]", {
          headers: { "content-type": "application/json" },
        });
      }),
    );
    expect(await testClient().users.listDelegates(UID)).toEqual([7215545057282n, 9223372036854775807n]);
    expect(seen).toEqual([
      { method: "GET", path: `/pod/v1/admin/user/${UID}/delegates`, sessionToken: TOKEN, contentType: null, body: "" },
    ]);
  });

  it("replaceApps POSTs every app, products included, and returns the saved list", async () => {
    const apps = [
      { appId: "djApp", appName: "Dow Jones", listed: true, install: false },
      {
        appId: "selerity",
        appName: "Selerity Context",
        listed: true,
        install: true,
        products: [
          { appId: "selerity", name: "Standard", subscribed: true, type: "default" },
          { appId: "selerity", name: "Premium", sku: "AcDccU53SsY", subscribed: false, type: "premium" },
        ],
      },
    ];
    const seen = capture("post", `/v1/admin/user/${UID}/app/entitlement/list`, apps);
    expect(await testClient().users.replaceApps(UID, apps)).toEqual(apps);
    expect(seen).toEqual([
      {
        method: "POST",
        path: `/pod/v1/admin/user/${UID}/app/entitlement/list`,
        sessionToken: TOKEN,
        contentType: "application/json",
        body: JSON.stringify(apps),
      },
    ]);
  });

  it("patchApps PATCHes, sending booleans as TRUE/FALSE and settings as given", async () => {
    const saved = [{ appId: "djApp", listed: true, install: true }];
    const seen = capture("patch", `/v1/admin/user/${UID}/app/entitlement/list`, saved);
    const product = { appId: "selerity", name: "Premium", sku: "AcDccU53SsY", subscribed: true, type: "premium" };
    const result = await testClient().users.patchApps(UID, [
      { appId: "djApp", install: true, listed: false },
      { appId: "selerity", listed: "REMOVE", install: "KEEP", product },
    ]);
    expect(result).toEqual(saved);
    expect(seen).toEqual([
      {
        method: "PATCH",
        path: `/pod/v1/admin/user/${UID}/app/entitlement/list`,
        sessionToken: TOKEN,
        contentType: "application/json",
        body: JSON.stringify([
          { appId: "djApp", install: "TRUE", listed: "FALSE" },
          { appId: "selerity", listed: "REMOVE", install: "KEEP", product },
        ]),
      },
    ]);
  });

  it("listApps GETs the user's app entitlements", async () => {
    const apps = [{ appId: "djApp", appName: "Dow Jones", listed: true, install: false }];
    const seen = capture("get", `/v1/admin/user/${UID}/app/entitlement/list`, apps);
    expect(await testClient().users.listApps(UID)).toEqual(apps);
    expect(seen.map((s) => [s.method, s.path, s.sessionToken])).toEqual([
      ["GET", `/pod/v1/admin/user/${UID}/app/entitlement/list`, TOKEN],
    ]);
  });

  it("listAvailableFeatures GETs the pod-wide list", async () => {
    const seen = capture("get", "/v1/admin/system/features/list", ["canCreatePublicRoom", "delegatesEnabled"]);
    expect(await testClient().users.listAvailableFeatures()).toEqual(["canCreatePublicRoom", "delegatesEnabled"]);
    expect(seen.map((s) => [s.method, s.path, s.sessionToken])).toEqual([
      ["GET", "/pod/v1/admin/system/features/list", TOKEN],
    ]);
  });
});

describe("int64 user ids beyond 2^53", () => {
  const BIG = "9007199254740993"; // 2^53 + 1: a float would round it to ...992

  it("keeps every digit on the path and in the body, from a bigint or a string", async () => {
    const seen = capture("post", `/v1/admin/user/${BIG}/delegates/update`, { message: "OK" });
    await testClient().users.addDelegate(BigInt(BIG), "9223372036854775807");
    await testClient().users.addDelegate(BIG, 9223372036854775806n);
    expect(seen.map((s) => [s.path, s.body])).toEqual([
      [`/pod/v1/admin/user/${BIG}/delegates/update`, '{"userId":9223372036854775807,"action":"ADD"}'],
      [`/pod/v1/admin/user/${BIG}/delegates/update`, '{"userId":9223372036854775806,"action":"ADD"}'],
    ]);
  });

  it("reads delegate ids beyond 2^53 without rounding", async () => {
    server.use(
      http.get(`${BASE_URL}/v1/admin/user/${BIG}/delegates`, () =>
        HttpResponse.text(`[${BIG},9223372036854775807]`, { headers: { "content-type": "application/json" } }),
      ),
    );
    const delegates = await testClient().users.listDelegates(BIG);
    expect(delegates.map(String)).toEqual([BIG, "9223372036854775807"]);
  });
});

describe("pod.raw: the typed openapi-fetch client over the same pipeline", () => {
  it("adds the session token and returns typed data", async () => {
    const seen = capture("post", `/v1/admin/user/${UID}/features/update`, { format: "TEXT", message: "OK" });
    const { data, error, response } = await testClient().raw.POST("/v1/admin/user/{uid}/features/update", {
      params: { path: { uid: Number(UID) } },
      body: [{ entitlment: "canCreatePublicRoom", enabled: true }],
    });
    expect(error).toBeUndefined();
    expect(response.status).toBe(200);
    expect(data).toEqual({ format: "TEXT", message: "OK" });
    expect(seen).toEqual([
      {
        method: "POST",
        path: `/pod/v1/admin/user/${UID}/features/update`,
        sessionToken: TOKEN,
        contentType: "application/json",
        body: '[{"entitlment":"canCreatePublicRoom","enabled":true}]',
      },
    ]);
  });

  it("returns the pod's Error body for a refused call instead of throwing", async () => {
    server.use(
      http.get(`${BASE_URL}/v1/admin/user/${UID}/features`, () =>
        HttpResponse.json({ code: 403, message: "Caller lacks entitlement" }, { status: 403 }),
      ),
    );
    const { data, error, response } = await testClient().raw.GET("/v1/admin/user/{uid}/features", {
      params: { path: { uid: Number(UID) } },
    });
    expect(data).toBeUndefined();
    expect(response.status).toBe(403);
    expect(error).toEqual({ code: 403, message: "Caller lacks entitlement" });
  });
});

describe("client options", () => {
  it("normalises the base URL, so raw and facade calls reach the same paths", async () => {
    const seen = capture("get", "/v1/admin/system/features/list", ["a"]);
    const pod = testClient({ baseUrl: "https://acme.pod.test:443/./pod/" });
    await pod.users.listAvailableFeatures();
    await pod.raw.GET("/v1/admin/system/features/list");
    expect(seen.map((s) => s.path)).toEqual([
      "/pod/v1/admin/system/features/list",
      "/pod/v1/admin/system/features/list",
    ]);
  });

  it("raw bodies keep every digit of a bigint", async () => {
    const seen = capture("post", `/v1/admin/user/${UID}/delegates/update`, { message: "OK" });
    await testClient().raw.POST("/v1/admin/user/{uid}/delegates/update", {
      params: { path: { uid: Number(UID) } },
      body: { userId: 9007199254740993n as unknown as number, action: "ADD" },
    });
    expect(seen[0]?.body).toBe('{"userId":9007199254740993,"action":"ADD"}');
  });

  it.each([
    [{ baseUrl: "ftp://x/pod" }, "baseUrl must be an http(s) URL"],
    [{ baseUrl: "https://x/pod?a=1" }, "baseUrl must not have a query or a fragment"],
    [{ baseUrl: "not a url" }, "baseUrl is not a valid URL"],
    [{ timeoutMs: 0 }, "timeoutMs must be a number of milliseconds from 1 to 2147483647, got 0"],
    [{ timeoutMs: Number.POSITIVE_INFINITY }, "timeoutMs must be a number of milliseconds from 1 to 2147483647"],
    [{ sessionToken: "" }, "sessionToken must not be empty"],
    [{ sessionToken: 42 as never }, "sessionToken must be a string or a function returning one"],
  ])("refuses %j", (options, message) => {
    expect(() => testClient(options)).toThrow(message);
  });
});
