/**
 * Issue 22, the library's log: `logger` and `logLevel` on createPodClient. The events, their fields and levels;
 * a logger that throws; and a whole run (a provider token, an RSA login renewed after 401s, an authenticating proxy,
 * a lookup by email) in which no logged object holds a secret or a query string.
 */
import { generateKeyPairSync } from "node:crypto";
import { HttpResponse, http } from "msw";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPodClient, type Logger, POD_LOG_EVENTS, rsaAuthentication } from "../src/index.js";
import { type SimulatedPod, startSimulatedPod } from "../src/simulator/index.js";
import { BASE_URL, ON, TOKEN, testClient, useMsw } from "./helpers.js";
import { startProxy, type TestProxy } from "./network-helpers.js";

type Call = { level: string; fields: Record<string, unknown>; message: unknown };

/** A logger that records every call, arguments as given. */
function recorder(): Logger & { calls: Call[] } {
  const calls: Call[] = [];
  const at = (level: string) => (fields: object, message?: string) => {
    calls.push({ level, fields: fields as Record<string, unknown>, message });
  };
  return { calls, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

const server = useMsw();
const PATH = "/v1/admin/user/:uid/features/update";

describe("events of a call", () => {
  it("debug: request and answer with the path template, uid, attempt, trace id and ms; a retry says why and how long", async () => {
    const traceIds: (string | null)[] = [];
    let calls = 0;
    server.use(
      http.post(`${BASE_URL}${PATH}`, ({ request }) => {
        traceIds.push(request.headers.get("x-trace-id"));
        return ++calls === 1
          ? HttpResponse.json({ code: 503, message: "busy" }, { status: 503 })
          : HttpResponse.json({ code: 200, message: "OK" });
      }),
    );
    const logger = recorder();
    const pod = testClient({ logger, logLevel: "debug" });
    await pod.users.updateFeatures(7215545057281n, ON);

    const events = logger.calls.map((c) => [c.level, c.fields.event]);
    expect(events).toEqual([
      ["debug", "pod.request"],
      ["debug", "pod.answer"],
      ["info", "pod.retry"],
      ["debug", "pod.request"],
      ["debug", "pod.answer"],
    ]);
    const [request, refused, retry, , answer] = logger.calls.map((c) => c.fields);
    const call = { method: "POST", path: "/v1/admin/user/{uid}/features/update", uid: "7215545057281" };
    expect(request).toEqual({ event: "pod.request", ...call, attempt: 1, traceId: traceIds[0] });
    expect(refused).toMatchObject({ event: "pod.answer", ...call, attempt: 1, status: 503 });
    expect(retry).toMatchObject({ event: "pod.retry", ...call, attempt: 1, why: "status 503" });
    expect(retry?.delayMs).toBeGreaterThanOrEqual(0);
    expect(retry?.delayMs).toBeLessThanOrEqual(5);
    expect(answer).toMatchObject({ event: "pod.answer", ...call, attempt: 2, status: 200, traceId: traceIds[1] });
    expect(typeof answer?.ms).toBe("number");
    expect(logger.calls[4]?.message).toBe(
      "POST /v1/admin/user/{uid}/features/update for user 7215545057281 answered 200",
    );
  });

  it("default level info: no request or answer events, the retry is logged; logLevel off logs nothing", async () => {
    let calls = 0;
    server.use(
      http.post(`${BASE_URL}${PATH}`, () =>
        ++calls === 1 ? new HttpResponse(null, { status: 502 }) : HttpResponse.json({}),
      ),
    );
    const logger = recorder();
    await testClient({ logger }).users.updateFeatures(1, ON);
    expect(logger.calls.map((c) => c.fields.event)).toEqual(["pod.retry"]);

    calls = 0;
    const silent = recorder();
    await testClient({ logger: silent, logLevel: "off" }).users.updateFeatures(1, ON);
    expect(silent.calls).toEqual([]);
  });

  it("a raw call's concrete uid becomes {uid}; the query string of a lookup never appears", async () => {
    server.use(
      http.get(`${BASE_URL}/v1/admin/user/:uid/features`, () => HttpResponse.json([])),
      http.get(`${BASE_URL}/v3/users`, () => HttpResponse.json({ users: [] })),
    );
    const logger = recorder();
    const pod = testClient({ logger, logLevel: "debug" });
    await pod.raw.GET("/v1/admin/user/{uid}/features", { params: { path: { uid: 42 } } });
    await pod.users.lookup({ emails: ["jane.secret@acme.com"] });
    const paths = logger.calls.map((c) => c.fields.path);
    expect(paths).toEqual(["/v1/admin/user/{uid}/features", "/v1/admin/user/{uid}/features", "/v3/users", "/v3/users"]);
    expect(JSON.stringify(logger.calls)).not.toContain("jane.secret");
  });

  it("a logger that throws does not break the call", async () => {
    server.use(http.post(`${BASE_URL}${PATH}`, () => HttpResponse.json({})));
    const boom = () => {
      throw new Error("logger down");
    };
    const pod = testClient({ logger: { debug: boom, info: boom, warn: boom, error: boom }, logLevel: "debug" });
    await expect(pod.users.updateFeatures(1, ON)).resolves.toBeUndefined();
  });

  it("a logger without the four methods, or an unknown level, is refused when the client is made", () => {
    expect(() => testClient({ logger: { info() {} } as unknown as Logger })).toThrow(
      "logger.debug must be a function (pino, console and the like have all four)",
    );
    expect(() => testClient({ logLevel: "verbose" as never })).toThrow(
      "logLevel must be one of debug, info, warn, error, off, got verbose",
    );
  });

  it("POD_LOG_EVENTS names every event with its level", () => {
    expect(POD_LOG_EVENTS).toEqual({
      "pod.request": "debug",
      "pod.answer": "debug",
      "pod.retry": "info",
      "rate.hold": "info",
      "rate.change": "info",
      "breaker.open": "warn",
      "breaker.close": "info",
      "login.start": "info",
      "login.success": "info",
      "login.failure": "warn",
      "session.refresh": "info",
    });
  });
});

describe("no secret in any logged object, a whole run at debug", () => {
  const PROXY_PASSWORD = "pr0xy-L0g-Pa55";
  let pod: SimulatedPod;
  let proxy: TestProxy;
  beforeAll(async () => {
    server.close(); // msw off: real sockets through a real proxy
    proxy = await startProxy("svc", PROXY_PASSWORD);
  });
  afterEach(async () => pod?.close());
  afterAll(() => proxy.close());

  it("a rate-limited pod: the cut out of the unlimited start (rate.change), then the hold's length (rate.hold)", async () => {
    pod = await startSimulatedPod({ rateLimit: { perSecond: 300, windowMs: 100 } });
    const logger = recorder();
    const client = createPodClient({ baseUrl: pod.url, sessionToken: pod.currentToken(), proxy: false, logger });
    const report = await client.bulk.updateFeatures(
      Array.from({ length: 600 }, (_, i) => ({ uid: i + 1, features: ON })),
    );
    await client.close();
    expect(report.succeeded).toBe(600);
    const changes = logger.calls.filter((c) => c.fields.event === "rate.change");
    expect(changes[0]?.level).toBe("info");
    expect(changes[0]?.fields).toMatchObject({ from: null, why: "429" });
    expect(changes[0]?.fields.to).toBeGreaterThan(0);
    expect(changes[0]?.message).toBe(`rate unlimited -> ${changes[0]?.fields.to}/s (the pod answered 429)`);
    const holds = logger.calls.filter((c) => c.fields.event === "rate.hold");
    expect(holds.length).toBeGreaterThan(0);
    expect(holds[0]?.fields.ms).toBeGreaterThanOrEqual(0);
    // Each 429 answered is retried, and each retry is logged with its reason.
    const retries = logger.calls.filter((c) => c.fields.event === "pod.retry");
    expect(retries.length).toBe(pod.stats().rateLimiter.refused);
    expect(new Set(retries.map((c) => c.fields.why))).toEqual(new Set(["status 429"]));
  });

  it("provider token, RSA login renewed after 401s, authenticating proxy, lookup by email", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    pod = await startSimulatedPod({
      tls: true,
      login: { publicKey: publicKey.export({ type: "spki", format: "pem" }).toString() },
      expireTokenAfterRequests: 40,
    });
    const logger = recorder();
    const tokens: string[] = [];
    const login = rsaAuthentication({ podUrl: pod.url, username: "provisioning-bot", privateKey: pem });
    const proxyOption = `http://svc:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`;
    const rsaClient = createPodClient({
      baseUrl: pod.url,
      ca: pod.ca,
      proxy: proxyOption,
      logger,
      logLevel: "debug",
      sessionToken: async (context) => {
        const token = await login(context);
        tokens.push(token);
        return token;
      },
    });
    const items = Array.from({ length: 120 }, (_, i) => ({ uid: 1000 + i, features: ON }));
    const report = await rsaClient.bulk.updateFeatures(items, { concurrency: 8 });
    expect(report.succeeded).toBe(120);
    await rsaClient.users.lookup({ emails: ["jane.secret@acme.com"] });
    await rsaClient.close();

    // A plain provider: the simulator's own token, handed over by a function.
    const providerClient = createPodClient({
      baseUrl: pod.url,
      ca: pod.ca,
      proxy: proxyOption,
      logger,
      logLevel: "debug",
      sessionToken: async () => {
        const token = pod.currentToken();
        tokens.push(token);
        return token;
      },
    });
    await providerClient.users.updateFeatures(1, ON);
    await providerClient.close();

    expect(proxy.tunnels.length).toBeGreaterThan(0); // every call went through the proxy
    const events = new Set(logger.calls.map((c) => c.fields.event));
    for (const event of ["login.start", "login.success", "session.refresh", "pod.request", "pod.answer"]) {
      expect(events, event).toContain(event);
    }
    expect(logger.calls.find((c) => c.fields.event === "login.success")?.fields).toMatchObject({
      kind: "rsa",
      path: "/login/pubkey/authenticate",
      status: 200,
    });
    expect(tokens.length).toBeGreaterThanOrEqual(3); // renewed after the pod refused an expired token
    const logged = logger.calls.map((c) => JSON.stringify([c.fields, c.message])).join("\n");
    for (const token of new Set(tokens)) expect(logged).not.toContain(token);
    expect(logged).not.toContain(TOKEN);
    expect(logged).not.toContain(PROXY_PASSWORD);
    expect(logged).not.toMatch(/eyJ[\w-]+\.[\w-]+/); // a JWT
    expect(logged).not.toContain(pem.split("\n")[1] as string); // the private key
    expect(logged).not.toContain("PRIVATE KEY");
    expect(logged).not.toContain("jane.secret");
    expect(logged).not.toContain("?");
  }, 30_000);
});
