/**
 * Redirects refused (src/core/redirects.ts), through a client: which statuses are redirects, and how the refusal
 * names where the redirect pointed (origin and path only, resolved, cut, quoted) without following it.
 * test/connection.test.ts checks the same refusal over real sockets, for every transport.
 */
import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { type FetchLike, PodApiError, PodBadRequestError } from "../src/index.js";
import { BASE_URL, testClient, useMsw } from "./helpers.js";

const server = useMsw();
const UID = "7215545057281";
const LIST = `${BASE_URL}/v1/admin/user/${UID}/features`;
const WHY =
  "; redirects are never followed, since they would carry the session token or the login's JWT to another address. Use the address the redirect names as the URL, if you trust it";

/** The error of one listFeatures call answered `status` with these headers, and how many requests were made. */
async function answered(status: number, headers: Record<string, string> = {}) {
  let requests = 0;
  let traceId: string | null = null;
  server.use(
    http.get(LIST, ({ request }) => {
      requests++;
      traceId = request.headers.get("x-trace-id");
      return new HttpResponse(null, { status, headers });
    }),
  );
  const error = await testClient()
    .users.listFeatures(UID)
    .catch((e: unknown) => e);
  return { error: error as PodApiError, requests, traceId };
}

describe("a redirect is refused, never followed or retried", () => {
  it.each([300, 301, 302, 303, 307, 308, 399])("%d is a redirect: a PodApiError with that status", async (status) => {
    const { error, requests, traceId } = await answered(status, { location: "https://acme.pod.test/pod2/x" });
    expect(error).toBeInstanceOf(PodApiError);
    expect(error).toMatchObject({
      status,
      method: "GET",
      path: `/v1/admin/user/${UID}/features`,
      uid: UID,
      attempts: 1,
      podMessage: `the server answered ${status}, a redirect to "https://acme.pod.test/pod2/x"${WHY}`,
    });
    expect(error.requestId).toBe(traceId); // the trace id it was sent with
    expect(requests).toBe(1);
  });

  it("a 400 is not a redirect, even with a Location", async () => {
    const { error } = await answered(400, { location: "https://elsewhere.example/" });
    expect(error).toBeInstanceOf(PodBadRequestError);
    expect(error.podMessage).toBeUndefined();
  });

  it.each([
    [
      "credentials, query and fragment left out",
      "https://user:pw@evil.example:8443/a/b?token=x#f",
      '"https://evil.example:8443/a/b"',
    ],
    ["a relative one resolved against the call's URL", "/elsewhere/x", '"https://acme.pod.test/elsewhere/x"'],
    ["a path-relative one too", "other", `"https://acme.pod.test/pod/v1/admin/user/${UID}/other"`],
    [
      "an @ in the path shown as it is, not read as credentials",
      "https://evil.example/a@b/c",
      '"https://evil.example/a@b/c"',
    ],
    ["plain http named as such", "http://acme.pod.test/pod", '"http://acme.pod.test/pod"'],
    ["an empty one", "", "an address it did not give"],
    ["one no URL parser reads", "http://[not-a-host/", "an unreadable address"],
  ])("the target it names: %s", async (_what, location, shown) => {
    const { error } = await answered(302, { location });
    expect(error.podMessage).toBe(`the server answered 302, a redirect to ${shown}${WHY}`);
  });

  it("a redirect without a Location says it gave no address", async () => {
    const { error } = await answered(301);
    expect(error.podMessage).toBe(`the server answered 301, a redirect to an address it did not give${WHY}`);
  });

  it("a long target is cut at 200 characters, and a hostile one is quoted with its control characters escaped", async () => {
    const long = `https://evil.example/${"a".repeat(300)}`;
    const { error } = await answered(307, { location: long });
    const shown = `https://evil.example/${"a".repeat(200 - "https://evil.example/".length)}…`;
    expect(error.podMessage).toBe(`the server answered 307, a redirect to ${JSON.stringify(shown)}${WHY}`);
    const exact = `https://evil.example/${"b".repeat(200 - "https://evil.example/".length)}`;
    const atLimit = await answered(307, { location: exact });
    expect(atLimit.error.podMessage).toBe(`the server answered 307, a redirect to "${exact}"${WHY}`);
  });

  it("a fetch that followed one although asked not to: refused, naming where it ended", async () => {
    const calls: RequestInit[] = [];
    const followed: FetchLike = async (_url, init) => {
      calls.push(init);
      return {
        status: 200,
        redirected: true,
        url: "https://user:pw@evil.example/login?jwt=x",
        headers: new Headers({ "content-type": "application/json" }),
        body: null,
        text: async () => "[]",
      } as unknown as Response;
    };
    const error = (await testClient({ fetch: followed })
      .users.listFeatures(UID)
      .catch((e: unknown) => e)) as PodApiError;
    expect(error).toBeInstanceOf(PodApiError);
    expect(error).toMatchObject({ status: 200, attempts: 1 });
    expect(error.podMessage).toBe(
      `the fetch given to the client followed a redirect to "https://evil.example/login" although asked not to (redirect: "manual")${WHY}`,
    );
    expect(calls).toHaveLength(1);
    expect(calls[0]?.redirect).toBe("manual");
  });
});
