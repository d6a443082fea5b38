import { HttpResponse, http } from "msw";
import { type SetupServer, setupServer } from "msw/node";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type AppEntitlement, createPodClient, type FeatureUpdateItem, type PodClientOptions } from "../src/index.js";

export const BASE_URL = "https://acme.pod.test/pod";
export const TOKEN = "tok-5f1e9c-secret-session-token";

/** One msw server for the file; unhandled requests fail the test. */
export function useMsw() {
  const server = setupServer();
  beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
  afterEach(() => server.resetHandlers());
  afterAll(() => server.close());
  return server;
}

/** What a handler saw, so tests assert the exact request on the wire. */
export interface SeenRequest {
  method: string;
  path: string;
  sessionToken: string | null;
  contentType: string | null;
  body: string;
}

export async function see(request: Request): Promise<SeenRequest> {
  return {
    method: request.method,
    path: new URL(request.url).pathname,
    sessionToken: request.headers.get("sessionToken"),
    contentType: request.headers.get("content-type"),
    body: await request.text(),
  };
}

/** A client sending through the global fetch (which msw intercepts), with fast retries. */
export function testClient(options: Partial<PodClientOptions> = {}) {
  return createPodClient({
    baseUrl: BASE_URL,
    sessionToken: TOKEN,
    fetch: (input, init) => fetch(input, init),
    ...options,
    retry: { initialDelayMs: 1, maxDelayMs: 5, ...options.retry },
  });
}

/** The features/update route as msw matches it. */
export const FEATURES = `${BASE_URL}/v1/admin/user/:uid/features/update`;
/** One feature turned on: the body of most bulk items in tests. */
export const ON = [{ entitlement: "canCreatePublicRoom", enabled: true }];
/** `n` feature items for uids `from`, `from + 1`, … */
export const items = (n: number, from = 1): FeatureUpdateItem[] =>
  Array.from({ length: n }, (_, i) => ({ uid: from + i, features: ON }));
/** Resolves after `ms` of real time. */
export const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Answers one route of `server` with `reply` (JSON) and records what was sent, for exact wire assertions. */
export function capture(
  server: SetupServer,
  method: "get" | "post" | "patch",
  path: string,
  reply: unknown,
): SeenRequest[] {
  const seen: SeenRequest[] = [];
  server.use(
    http[method](`${BASE_URL}${path}`, async ({ request }) => {
      seen.push(await see(request));
      return HttpResponse.json(reply as never);
    }),
  );
  return seen;
}

/** An app entitlement with a product, for the tests of the apps commands. */
export const SAMPLE_APP: AppEntitlement = {
  appId: "djApp",
  appName: "DJ, the app",
  listed: true,
  install: false,
  products: [{ name: "pro", type: "premium", subscribed: true, sku: "S-1" }],
};
