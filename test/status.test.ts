import { describe, expect, it } from "vitest";
import { ValidationError } from "../src/index.js";
import { capture as captureRoute, TOKEN, testClient, useMsw } from "./helpers.js";

const server = useMsw();
const UID = "7215545057281";
const OK = { format: "TEXT", message: "OK" };

const capture = (method: "get" | "post" | "patch", path: string, reply: unknown) =>
  captureRoute(server, method, path, reply);

describe("user status: the facade and bulk, on the wire", () => {
  it("updateStatus POSTs status/update with the status and the suspension fields given", async () => {
    const seen = capture("post", `/v1/admin/user/${UID}/status/update`, OK);
    const pod = testClient();
    await expect(pod.users.updateStatus(UID, { status: "DISABLED" })).resolves.toBeUndefined();
    await pod.users.updateStatus(BigInt(UID), {
      status: "ENABLED",
      suspended: true,
      suspendedUntil: 1801546400,
      suspensionReason: "Leave",
    });
    expect(seen).toEqual([
      {
        method: "POST",
        path: `/pod/v1/admin/user/${UID}/status/update`,
        sessionToken: TOKEN,
        contentType: "application/json",
        body: '{"status":"DISABLED"}',
      },
      {
        method: "POST",
        path: `/pod/v1/admin/user/${UID}/status/update`,
        sessionToken: TOKEN,
        contentType: "application/json",
        body: '{"status":"ENABLED","suspended":true,"suspendedUntil":1801546400,"suspensionReason":"Leave"}',
      },
    ]);
  });

  it("getStatus GETs status and returns the pod's answer", async () => {
    const seen = capture("get", `/v1/admin/user/${UID}/status`, { status: "DISABLED", suspended: false });
    await expect(testClient().users.getStatus(UID)).resolves.toEqual({ status: "DISABLED", suspended: false });
    expect(seen).toEqual([
      { method: "GET", path: `/pod/v1/admin/user/${UID}/status`, sessionToken: TOKEN, contentType: null, body: "" },
    ]);
  });

  it.each([
    [{ status: "SUSPENDED" }, "status.status", "enum ENABLED|DISABLED"],
    [{}, "status.status", "required"],
    [{ status: "ENABLED", suspendedUntil: 1.5 }, "status.suspendedUntil", "unix time"],
    [{ status: "ENABLED", suspended: "yes" }, "status.suspended", "type boolean"],
    [{ status: "ENABLED", reason: "x" }, "status.reason", "known field"],
  ])("refuses %j before sending: %s breaks %s", async (input, field, rule) => {
    const seen = capture("post", `/v1/admin/user/${UID}/status/update`, OK);
    const error = await testClient()
      .users.updateStatus(UID, input as never)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field, rule });
    expect(seen).toEqual([]);
  });

  it("bulk.updateStatus sends one status/update per item and reports each", async () => {
    const seen = capture("post", "/v1/admin/user/:uid/status/update", OK);
    const report = await testClient().bulk.updateStatus([
      { uid: 1n, status: "DISABLED" },
      { uid: "2", status: "ENABLED", suspended: true },
      { uid: 3, status: "GONE" as never },
    ]);
    expect(report).toMatchObject({ total: 3, succeeded: 2, notAttempted: [] });
    expect(report.failed).toEqual([
      { uid: "3", input: { uid: 3, status: "GONE" }, error: expect.any(ValidationError) },
    ]);
    expect(seen.map((s) => [s.path, s.body]).sort()).toEqual([
      ["/pod/v1/admin/user/1/status/update", '{"status":"DISABLED"}'],
      ["/pod/v1/admin/user/2/status/update", '{"status":"ENABLED","suspended":true}'],
    ]);
  });
});
