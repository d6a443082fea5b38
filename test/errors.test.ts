import { inspect } from "node:util";
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import {
  PodApiError,
  PodBadRequestError,
  PodForbiddenError,
  PodNetworkError,
  PodNotFoundError,
  PodRateLimitError,
  PodServerError,
  PodUnauthorizedError,
} from "../src/index.js";
import { BASE_URL, TOKEN, testClient, useMsw } from "./helpers.js";

const server = useMsw();
const UID = "7215545057281";
const FEATURES = `${BASE_URL}/v1/admin/user/${UID}/features/update`;
const noRetry = { retry: { maxAttempts: 1 } };

/** Every way an error could end up in a log. */
function everySerialization(error: unknown): string {
  const e = error as Error;
  return [e.message, e.stack, JSON.stringify(e), inspect(e, { depth: 10 }), String(e)].join("\n");
}

describe("each error status maps to its class, with the pod's details", () => {
  it.each([
    [400, PodBadRequestError],
    [401, PodUnauthorizedError],
    [403, PodForbiddenError],
    [404, PodNotFoundError],
    [429, PodRateLimitError],
    [500, PodServerError],
    [503, PodServerError],
    [409, PodApiError],
  ])("%i → %o", async (status, ErrorClass) => {
    server.use(
      http.post(FEATURES, () =>
        HttpResponse.json(
          { code: status, message: `pod says ${status}` },
          { status, headers: { "x-trace-id": "t-1" } },
        ),
      ),
    );
    const call = testClient(noRetry).users.updateFeatures(UID, [{ entitlement: "canCreatePublicRoom", enabled: true }]);
    const error = await call.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrorClass);
    expect(error).toBeInstanceOf(PodApiError);
    expect(error).toMatchObject({
      name: ErrorClass.name,
      status,
      code: status,
      podMessage: `pod says ${status}`,
      method: "POST",
      path: `/v1/admin/user/${UID}/features/update`,
      uid: UID,
      requestId: "t-1",
      attempts: 1,
    });
    // A static token cannot be renewed: its first 401 trips the session breaker, and the message says what to do.
    const note =
      status === 401
        ? ". The pod refused the session token and there is no provider to renew it: create the client with a fresh " +
          "token, or with a provider (e.g. rsaAuthentication)"
        : "";
    expect((error as Error).message).toBe(
      `POST /v1/admin/user/${UID}/features/update for user ${UID} failed with ${status}: pod says ${status}${note}`,
    );
    expect((error as PodApiError).circuitBreaker).toBe(status === 401 ? "session" : undefined);
    expect(everySerialization(error)).not.toContain(TOKEN);
  });

  it("keeps the start of a non-JSON error body as the message", async () => {
    server.use(http.post(FEATURES, () => new HttpResponse("<html>Bad gateway</html>", { status: 502 })));
    const error = await testClient(noRetry)
      .users.updateFeatures(UID, [{ entitlement: "a", enabled: true }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodServerError);
    expect(error).toMatchObject({ status: 502, code: undefined, podMessage: "<html>Bad gateway</html>" });
  });

  it("redacts the session token when a pod echoes it back", async () => {
    server.use(
      http.post(FEATURES, ({ request }) =>
        HttpResponse.json({ message: `bad token ${request.headers.get("sessionToken")}` }, { status: 400 }),
      ),
    );
    const error = await testClient(noRetry)
      .users.updateFeatures(UID, [{ entitlement: "a", enabled: true }])
      .catch((e: unknown) => e);
    expect((error as PodApiError).podMessage).toBe("bad token [redacted]");
    expect(everySerialization(error)).not.toContain(TOKEN);
  });

  it("a connection failure is a PodNetworkError with the cause and no token", async () => {
    server.use(http.post(FEATURES, () => HttpResponse.error()));
    const error = await testClient({ retry: { maxAttempts: 2 } })
      .users.updateFeatures(UID, [{ entitlement: "a", enabled: true }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodNetworkError);
    expect(error).toMatchObject({ timedOut: false, attempts: 2, uid: UID, method: "POST" });
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(everySerialization(error)).not.toContain(TOKEN);
  });

  it("a slow pod is a PodNetworkError with timedOut", async () => {
    server.use(
      http.post(FEATURES, async () => {
        await new Promise((r) => setTimeout(r, 300));
        return HttpResponse.json({});
      }),
    );
    const error = await testClient({ timeoutMs: 20, retry: { maxAttempts: 2 } })
      .users.updateFeatures(UID, [{ entitlement: "a", enabled: true }])
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodNetworkError);
    expect(error).toMatchObject({ timedOut: true, attempts: 2 });
    expect((error as Error).message).toBe(
      `POST /v1/admin/user/${UID}/features/update for user ${UID} timed out after 2 attempts`,
    );
  });

  it("an aborted call rejects with the signal's reason and stops retrying", async () => {
    let calls = 0;
    server.use(
      http.post(FEATURES, () => {
        calls++;
        return HttpResponse.json({}, { status: 503 });
      }),
    );
    const controller = new AbortController();
    const call = testClient({ retry: { initialDelayMs: 10_000, maxDelayMs: 10_000 } }).users.updateFeatures(
      UID,
      [{ entitlement: "a", enabled: true }],
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error("stop")), 50);
    await expect(call).rejects.toThrow("stop");
    expect(calls).toBe(1);
  });
});

describe("answers that are not what the spec says", () => {
  it("redacts the token before cutting a long non-JSON error body, so no part of it leaks", async () => {
    server.use(
      http.post(FEATURES, ({ request }) =>
        HttpResponse.text(`<html>${"x".repeat(180)}token=${request.headers.get("sessionToken")}</html>`, {
          status: 400,
        }),
      ),
    );
    const error = await testClient(noRetry)
      .users.updateFeatures(UID, [{ entitlement: "a", enabled: true }])
      .catch((e: unknown) => e);
    expect((error as PodApiError).podMessage).toMatch(/token=\[redact/); // cut at 200 characters, after redaction
    expect(everySerialization(error)).not.toContain(TOKEN.slice(0, 8));
  });

  it("a 200 that is not JSON (a proxy's page) is a PodApiError with the status, never a bare SyntaxError", async () => {
    server.use(
      http.get(`${BASE_URL}/v1/admin/user/${UID}/features`, ({ request }) =>
        HttpResponse.text(`${request.headers.get("sessionToken")} <html>login</html>`, { status: 200 }),
      ),
    );
    const error = await testClient()
      .users.listFeatures(UID)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodApiError);
    expect(error).toMatchObject({ status: 200, uid: UID, method: "GET" });
    expect((error as PodApiError).podMessage).toBe("the answer is not JSON: [redacted] <html>login</html>");
    expect(everySerialization(error)).not.toContain(TOKEN);
  });

  it("a delegates answer that is not an array of integers is a PodApiError", async () => {
    server.use(http.get(`${BASE_URL}/v1/admin/user/${UID}/delegates`, () => HttpResponse.json({ delegates: [] })));
    await expect(testClient().users.listDelegates(UID)).rejects.toMatchObject({
      name: "PodApiError",
      status: 200,
      podMessage: 'the answer does not match the spec\'s response schema (must be array): {"delegates":[]}',
    });
  });
});
