import { HttpResponse, http } from "msw";
import type { Middleware } from "openapi-fetch";
import { describe, expect, it } from "vitest";
import { createPodClient, PodServerError } from "../src/index.js";
import { startSimulatedPod } from "../src/simulator/index.js";
import { BASE_URL, TOKEN, testClient, useMsw } from "./helpers.js";

const server = useMsw();
const ON = [{ entitlement: "canCreatePublicRoom", enabled: true }];

describe("pod.raw.use(): middleware sees every call of the client", () => {
  it("facade, bulk and raw calls alike, under their spec paths, as real Request and Response objects", async () => {
    server.use(
      http.post(`${BASE_URL}/v1/admin/user/:uid/features/update`, () => HttpResponse.json({ message: "OK" })),
      http.get(`${BASE_URL}/v1/admin/user/:uid/delegates`, () => HttpResponse.text("[9007199254740993]")),
      http.get(`${BASE_URL}/v1/admin/system/features/list`, () => HttpResponse.json(["canCreatePublicRoom"])),
    );
    const pod = testClient();
    const seen: string[] = [];
    const middleware: Middleware = {
      onRequest({ request, schemaPath }) {
        expect(request).toBeInstanceOf(Request);
        expect(request.headers.get("sessionToken")).toBeNull(); // the pipeline adds it after middleware
        seen.push(`${request.method} ${schemaPath} ${new URL(request.url).pathname}`);
        const headers = new Headers(request.headers);
        headers.set("x-audit", "provisioning-2026-11");
        return new Request(request, { headers });
      },
      onResponse({ response, schemaPath }) {
        expect(response).toBeInstanceOf(Response);
        seen.push(`${response.status} ${schemaPath}`);
      },
    };
    pod.raw.use(middleware);
    const audit: (string | null)[] = [];
    server.events.on("request:start", ({ request }) => audit.push(request.headers.get("x-audit")));

    await pod.users.updateFeatures(7215545057281n, ON);
    expect(await pod.users.listDelegates(7215545057281n)).toEqual([9007199254740993n]); // still int64-exact
    await pod.bulk.updateFeatures([{ uid: 7215545057282n, features: ON }]);
    const { data } = await pod.raw.GET("/v1/admin/system/features/list");
    server.events.removeAllListeners();

    expect(data).toEqual(["canCreatePublicRoom"]);
    expect(seen).toEqual([
      "POST /v1/admin/user/{uid}/features/update /pod/v1/admin/user/7215545057281/features/update",
      "200 /v1/admin/user/{uid}/features/update",
      "GET /v1/admin/user/{uid}/delegates /pod/v1/admin/user/7215545057281/delegates",
      "200 /v1/admin/user/{uid}/delegates",
      "POST /v1/admin/user/{uid}/features/update /pod/v1/admin/user/7215545057282/features/update",
      "200 /v1/admin/user/{uid}/features/update",
      "GET /v1/admin/system/features/list /pod/v1/admin/system/features/list",
      "200 /v1/admin/system/features/list",
    ]);
    expect(audit).toEqual(Array(4).fill("provisioning-2026-11"));

    // Ejected: calls go back to the light path and the middleware sees nothing more.
    pod.raw.eject(middleware);
    await pod.users.updateFeatures(7215545057281n, ON);
    expect(seen).toHaveLength(8);
  });

  it("errors stay the facade's own classes with middleware registered", async () => {
    server.use(
      http.post(`${BASE_URL}/v1/admin/user/:uid/features/update`, () =>
        HttpResponse.json({ code: 500, message: "boom" }, { status: 500, headers: { "x-trace-id": "pod-trace-1" } }),
      ),
    );
    const pod = testClient({ retry: { maxAttempts: 2 } });
    pod.raw.use({ onResponse: () => undefined });
    const error = await pod.users.updateFeatures(42, ON).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodServerError);
    expect(error).toMatchObject({
      status: 500,
      podMessage: "boom",
      method: "POST",
      path: "/v1/admin/user/42/features/update",
      uid: "42",
      attempts: 2,
      requestId: "pod-trace-1",
    });
  });
});

describe("pod.close()", () => {
  it("closes the client's own connection pool: calls after it fail, the pod keeps serving others", async () => {
    const pod = await startSimulatedPod();
    try {
      const client = createPodClient({ baseUrl: pod.url, sessionToken: pod.currentToken() });
      await client.users.updateFeatures(1, ON);
      await client.close();
      await expect(client.users.listFeatures(1, { retry: { maxAttempts: 1 } })).rejects.toThrow();
      await using other = createPodClient({ baseUrl: pod.url, sessionToken: pod.currentToken() });
      expect(await other.users.listFeatures(1)).toContainEqual({ entitlement: "canCreatePublicRoom", enabled: true });
    } finally {
      await pod.close();
    }
  });

  it("with a fetch of your own, close() leaves your connections alone", async () => {
    const pod = createPodClient({ baseUrl: BASE_URL, sessionToken: TOKEN, fetch: (input, init) => fetch(input, init) });
    await expect(pod.close()).resolves.toBeUndefined();
  });
});
