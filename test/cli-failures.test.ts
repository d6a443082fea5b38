/**
 * Issue 22, "Why, on screen": the cause each failure is grouped under, which failures count as never sent, and the
 * lines of the summary (3 examples per cause, at most 10 causes listed).
 */
import { describe, expect, it } from "vitest";
import { causeOf, FailureCauses, neverSent } from "../src/cli/failures.js";
import { AuthenticationError, PodApiError, PodNetworkError, ValidationError } from "../src/index.js";

const PATH = "/v1/admin/user/7/features/update";
const api = (status: number, podMessage?: string, attempts = 1) =>
  new PodApiError({ status, method: "POST", path: PATH, uid: "7", attempts, podMessage });
const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });

describe("causeOf", () => {
  it("names each kind of failure in a few words", () => {
    expect(causeOf(api(400))).toBe("400 bad request");
    expect(causeOf(api(401))).toBe("401 session refused");
    expect(causeOf(api(403))).toBe("403 forbidden");
    expect(causeOf(api(404))).toBe("404 user not found");
    expect(causeOf(api(503))).toBe("503 pod error");
    expect(causeOf(api(418))).toBe("418 refused");
    const network = (timedOut: boolean, cause?: unknown) =>
      new PodNetworkError({ method: "POST", path: PATH, timedOut, attempts: 5 }, { cause });
    expect(causeOf(network(false, new TypeError("fetch failed", { cause: refused })))).toBe(
      "could not reach the pod (ECONNREFUSED)",
    );
    expect(causeOf(network(true))).toBe("timed out");
    const untrusted = Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
    expect(causeOf(network(false, untrusted))).toBe("could not reach the pod (untrusted-certificate)");
    expect(
      causeOf(new AuthenticationError({ username: "bot", url: "https://a/login", status: 401, attempts: 1 })),
    ).toBe("login refused (401)");
    expect(causeOf(new ValidationError("features[0].entitlement", "minLength 1", "must not be empty"))).toBe(
      "invalid input (features[0].entitlement: minLength 1)",
    );
  });

  it("a call stopped before its first attempt was never sent; one the pod answered was", () => {
    expect(neverSent(api(401, undefined, 0))).toBe(true);
    expect(neverSent(new PodNetworkError({ method: "POST", path: PATH, timedOut: false, attempts: 0 }))).toBe(true);
    expect(neverSent(api(401))).toBe(false);
    expect(neverSent(new ValidationError("uid", "int64", "not a uid"))).toBe(false);
  });
});

describe("FailureCauses", () => {
  it("one line per cause, in order of appearance, with its count and the first 3 examples", () => {
    const causes = new FailureCauses();
    for (let i = 1; i <= 5; i++) causes.add(api(404, `user ${i} not found`), String(i), i + 1);
    causes.add(api(403), "9", undefined);
    expect(causes.total).toBe(6);
    expect(causes.lines("failed")).toEqual([
      '  5 failed: 404 user not found; e.g. user 1 (line 2, HTTP 404: "user 1 not found"), user 2 (line 3, HTTP 404: "user 2 not found"), user 3 (line 4, HTTP 404: "user 3 not found")\n',
      "  1 failed: 403 forbidden; e.g. user 9 (HTTP 403)\n",
    ]);
  });

  it("lists 10 causes; the rest are summed in one line", () => {
    const causes = new FailureCauses();
    for (let status = 400; status < 413; status++) causes.add(api(status), "1", 2);
    const lines = causes.lines("failed");
    expect(lines).toHaveLength(11);
    expect(lines[10]).toBe("  3 failed: 3 other causes (see the report)\n");
  });
});
