// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the BDK config syntax under test
/**
 * The client's connections from a real network, with real parts: the simulated pod over HTTPS with its own CA, a
 * real mutual-TLS handshake for the certificate login, a real authenticating proxy; redirects refused whatever
 * sends the request; plain http:// refused off loopback; the BDK config file.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { rootCertificates } from "node:tls";
import { fileURLToPath } from "node:url";
import { Agent } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseBdkConfig, readBdkConfig } from "../src/core/bdk-config.js";
import { resolveConnection } from "../src/core/connection.js";
import {
  AuthenticationError,
  certificateAuthentication,
  createPodClient,
  loadBdkConfig,
  PodApiError,
  PodNetworkError,
  rsaAuthentication,
  type SessionTokenProvider,
} from "../src/index.js";
import { parseSimulatorArgs, type SimulatedPod, startSimulatedPod } from "../src/simulator/index.js";
import { generateCa } from "../src/simulator/tls.js";
import { type Redirector, startProxy, startRecorder, type TestProxy } from "./network-helpers.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
let pod: SimulatedPod;
let work: string;
const cleanups: (() => Promise<void>)[] = [];
beforeAll(async () => {
  pod = await startSimulatedPod({ tls: true });
  work = await mkdtemp(join(tmpdir(), "pod-admin-connection-"));
});
afterAll(async () => {
  await pod.close();
  await rm(work, { recursive: true, force: true });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const PROXY_PASSWORD = "pr0xy-Pa55";

describe("TLS with the pod's own CA", () => {
  it("ca is added to the system's CAs, never replacing them", () => {
    const { connect } = resolveConnection({ ca: pod.ca as string, proxy: false });
    expect(connect?.ca?.slice(0, rootCertificates.length)).toEqual([...rootCertificates]);
    expect(connect?.ca?.at(-1)).toBe(pod.ca);
  });

  it("a pod whose CA is given answers; without it, one clear error naming the fix, not retried", async () => {
    const trusted = createPodClient({ baseUrl: pod.url, sessionToken: pod.currentToken(), ca: pod.ca, proxy: false });
    cleanups.push(() => trusted.close());
    await trusted.users.updateFeatures(11, [{ entitlement: "canCreatePublicRoom", enabled: true }]);
    expect(pod.state.features(11)).toEqual({ canCreatePublicRoom: true });

    const untrusted = createPodClient({ baseUrl: pod.url, sessionToken: pod.currentToken(), proxy: false });
    cleanups.push(() => untrusted.close());
    const error = await untrusted.users.listFeatures(11).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodNetworkError);
    expect((error as PodNetworkError).connectionFailure).toBe("untrusted-certificate");
    expect((error as PodNetworkError).attempts).toBe(1);
    expect((error as Error).message).toMatch(
      /^GET \/v1\/admin\/user\/11\/features for user 11 could not reach the pod \(TLS: the server's certificate is not signed by a CA this machine trusts \(\w+\)\. .*--ca-file FILE, ssl\.trustStore\.path/,
    );
  });

  it("the simulated pod serves HTTPS with a CA it is given", async () => {
    const ca = generateCa("bank test root");
    const given = await startSimulatedPod({ tls: { ca } });
    cleanups.push(() => given.close());
    expect(given.ca).toBe(ca.cert);
    expect(given.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/pod$/);
    const client = createPodClient({
      baseUrl: given.url,
      sessionToken: given.currentToken(),
      ca: ca.cert,
      proxy: false,
    });
    cleanups.push(() => client.close());
    expect(await client.users.listFeatures(1)).toEqual([]);
  });

  it("the simulator's command line: --https, --ca-cert with --ca-key, and --tls-dir only with them", async () => {
    expect(await parseSimulatorArgs(["--https"])).toEqual({ tls: true });
    await expect(parseSimulatorArgs(["--tls-dir", "pki"])).rejects.toThrow(
      "--tls-dir and --client-user need --https (or --ca-cert and --ca-key)",
    );
    await expect(parseSimulatorArgs(["--ca-cert", "ca.pem"])).rejects.toThrow("--ca-cert and --ca-key go together");
  });

  it("a host the certificate does not name: hostname-mismatch", async () => {
    const other = await startSimulatedPod({ tls: { hosts: ["pod.bank.example"] } });
    cleanups.push(() => other.close());
    const client = createPodClient({ baseUrl: other.url, sessionToken: "t", ca: other.ca, proxy: false });
    cleanups.push(() => client.close());
    const error = (await client.users.listFeatures(1).catch((e: unknown) => e)) as PodNetworkError;
    expect(error.connectionFailure).toBe("hostname-mismatch");
    expect(error.message).toContain("the server's certificate is not for the host in the URL");
  });
});

/** A session token from the pod's certificate login host, asked through the client's own connections. */
const loginThroughClient: SessionTokenProvider = async (context) => {
  const answer = await context?.send({
    url: `${pod.sessionAuthUrl}/sessionauth/v1/authenticate`,
    body: () => "{}",
  });
  return JSON.parse(answer?.body ?? "{}").token;
};

describe("certificateAuthentication (mutual TLS)", () => {
  it("logs in with a PKCS#12 certificate inside a client, with the client's lifecycle: one login, renewed after a 401", async () => {
    const bot = pod.issueClientCertificate("cert-bot", "s3cret");
    const client = createPodClient({
      baseUrl: pod.url,
      ca: pod.ca,
      proxy: false,
      sessionToken: certificateAuthentication({
        sessionAuthUrl: pod.sessionAuthUrl as string,
        pfx: bot.pfx,
        passphrase: "s3cret",
      }),
    });
    cleanups.push(() => client.close());
    const before = pod.stats().logins;
    await Promise.all([1, 2, 3, 4, 5].map((uid) => client.users.listFeatures(uid)));
    expect(pod.stats().logins - before).toBe(1);
    pod.expireTokens();
    await Promise.all([1, 2, 3].map((uid) => client.users.listFeatures(uid)));
    expect(pod.stats().logins - before).toBe(2);
  });

  it("PEM cert and key work too; without a certificate the server's refusal is named", async () => {
    const bot = pod.issueClientCertificate("pem-bot");
    const login = certificateAuthentication({
      sessionAuthUrl: pod.sessionAuthUrl as string,
      cert: bot.cert,
      key: bot.key,
      ca: pod.ca,
      proxy: false,
    });
    expect(await login()).toMatch(/^sim-session-/);

    // A handshake without a client certificate: the server closes the connection.
    const client = createPodClient({
      baseUrl: pod.url,
      ca: pod.ca,
      proxy: false,
      retry: { maxAttempts: 1 },
      sessionToken: loginThroughClient,
    });
    cleanups.push(() => client.close());
    const error = await client.users.listFeatures(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodNetworkError);
    expect((error as PodNetworkError).connectionFailure).toBe("client-certificate");
    expect((error as Error).message).toContain("no client certificate was offered");
  });

  it("the same closed handshake through the caller's own dispatcher is not blamed on a missing certificate", async () => {
    // The dispatcher's connect options are its own: this client cannot tell whether it offered a certificate.
    const dispatcher = new Agent({ connect: { ca: pod.ca } });
    const client = createPodClient({
      baseUrl: pod.url,
      dispatcher,
      retry: { maxAttempts: 1 },
      sessionToken: loginThroughClient,
    });
    cleanups.push(async () => {
      await client.close();
      await dispatcher.close();
    });
    const error = await client.users.listFeatures(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodNetworkError);
    expect((error as PodNetworkError).connectionFailure).not.toBe("client-certificate");
    expect((error as Error).message).not.toContain("client certificate");
  });

  it("a plain-http server that closes the connection before a byte is not blamed on a missing certificate", async () => {
    const server = createServer((socket) => {
      socket.once("data", () => socket.end()); // reads the request, then closes without answering
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const client = createPodClient({
      baseUrl: `http://127.0.0.1:${port}/pod`,
      sessionToken: "tok",
      proxy: false,
      retry: { maxAttempts: 1 },
    });
    cleanups.push(() => client.close());
    const error = await client.users.listFeatures(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodNetworkError);
    expect((error as { cause?: { code?: unknown } }).cause?.code).toBe("UND_ERR_SOCKET");
    expect((error as PodNetworkError).connectionFailure).not.toBe("client-certificate");
    expect((error as Error).message).not.toContain("client certificate");
  });

  it("a wrong PKCS#12 password fails the login with an AuthenticationError that never holds it", async () => {
    const bot = pod.issueClientCertificate("bad-bot", "right-Pa55");
    const login = certificateAuthentication({
      sessionAuthUrl: pod.sessionAuthUrl as string,
      pfx: bot.pfx,
      passphrase: "wrong-Pa55",
      ca: pod.ca,
      proxy: false,
      retry: { maxAttempts: 1 },
    });
    const error = await login().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).method).toBe("certificate");
    expect((error as Error).message).toMatch(
      /^Certificate login at https:\/\/127\.0\.0\.1:\d+\/sessionauth\/v1\/authenticate /,
    );
    expect((error as Error).message).not.toContain("wrong-Pa55");
  });
});

describe("proxy", () => {
  let proxy: TestProxy;
  beforeAll(async () => {
    proxy = await startProxy("svc", PROXY_PASSWORD);
  });
  afterAll(() => proxy.close());

  it("every call tunnels through an authenticating proxy given as { host, port, username, password }", async () => {
    const client = createPodClient({
      baseUrl: pod.url,
      sessionToken: pod.currentToken(),
      ca: pod.ca,
      proxy: { host: "127.0.0.1", port: proxy.port, username: "svc", password: PROXY_PASSWORD },
    });
    cleanups.push(() => client.close());
    const before = proxy.tunnels.length;
    const report = await client.bulk.updateFeatures(
      Array.from({ length: 50 }, (_, i) => ({
        uid: 100 + i,
        features: [{ entitlement: "sendFilesEnabled", enabled: true }],
      })),
    );
    expect(report.succeeded).toBe(50);
    expect(proxy.tunnels.length).toBeGreaterThan(before);
    expect(new Set(proxy.tunnels.slice(before))).toEqual(new Set([`127.0.0.1:${pod.port}`]));
  });

  it("a refused proxy login is named, not retried, and the password is not in the error", async () => {
    const client = createPodClient({
      baseUrl: pod.url,
      sessionToken: pod.currentToken(),
      ca: pod.ca,
      proxy: `http://svc:not-${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`,
    });
    cleanups.push(() => client.close());
    const error = (await client.users.listFeatures(1).catch((e: unknown) => e)) as PodNetworkError;
    expect(error.connectionFailure).toBe("proxy-refused");
    expect(error.attempts).toBe(1);
    expect(error.message).toContain("the proxy asked for authentication (407)");
    expect(JSON.stringify(error) + error.message).not.toContain(PROXY_PASSWORD);
  });

  it("HTTPS_PROXY from the environment by default; NO_PROXY bypasses it; proxy: false ignores both", () => {
    const env = { HTTPS_PROXY: `http://u:${PROXY_PASSWORD}@proxy:3128`, NO_PROXY: "localhost,.bank.example" };
    const fromEnv = resolveConnection({}, env);
    expect(fromEnv.proxy).toEqual({ httpsProxy: env.HTTPS_PROXY, httpProxy: "", noProxy: "localhost,.bank.example" });
    expect(fromEnv.proxyShown).toBe("http://proxy:3128");
    expect(resolveConnection({ proxy: false }, env).proxy).toBeUndefined();
  });
});

describe("issue 21 item 1: redirects are never followed, whatever sends the request", () => {
  let target: Redirector;
  let redirector: Redirector;
  beforeAll(async () => {
    target = await startRecorder();
    redirector = await startRecorder(307, `${"http://127.0.0.1"}:1/elsewhere`);
  });
  afterAll(async () => {
    await target.close();
    await redirector.close();
  });

  async function redirecting(): Promise<Redirector> {
    const r = await startRecorder(307, `${target.url}/pod/v1/admin/user/1/features`);
    cleanups.push(() => r.close());
    return r;
  }

  it("the library with fetch: globalThis.fetch: a 307 is a non-retried PodApiError; no sessionToken reaches the target", async () => {
    const r = await redirecting();
    const client = createPodClient({
      baseUrl: `${r.url}/pod`,
      sessionToken: "secret-session",
      fetch: globalThis.fetch,
    });
    const error = await client.users.listFeatures(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PodApiError);
    expect((error as PodApiError).status).toBe(307);
    expect((error as PodApiError).attempts).toBe(1);
    expect((error as Error).message).toContain(`a redirect to "${target.url}/pod/v1/admin/user/1/features"`);
    expect(r.received).toHaveLength(1);
    expect(target.received).toEqual([]);
  });

  it("the default undici path and a dispatcher of the caller's refuse it the same way", async () => {
    for (const extra of [{}, { dispatcher: new Agent() }]) {
      const r = await redirecting();
      const client = createPodClient({ baseUrl: `${r.url}/pod`, sessionToken: "secret-session", ...extra });
      cleanups.push(() => client.close());
      const error = (await client.users.listFeatures(1).catch((e: unknown) => e)) as PodApiError;
      expect(error.status).toBe(307);
      expect(error.message).toContain("redirects are never followed");
    }
    expect(target.received).toEqual([]);
  });

  it("a standalone rsaAuthentication (the global fetch): the JWT never reaches the target", async () => {
    const r = await startRecorder(307, `${target.url}/login/pubkey/authenticate`);
    cleanups.push(() => r.close());
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const login = rsaAuthentication({
      podUrl: r.url,
      username: "bot",
      privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    });
    const error = await login().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as AuthenticationError).status).toBe(307);
    expect((error as Error).message).toContain("redirects are never followed");
    expect(r.received).toHaveLength(1);
    expect(target.received).toEqual([]);
  });
});

describe("issue 21 item 12: plain http:// off loopback", () => {
  it("is refused by createPodClient, rsaAuthentication and certificateAuthentication unless insecureHttp", () => {
    expect(() => createPodClient({ baseUrl: "http://pod.bank.example/pod", sessionToken: "t" })).toThrow(
      new TypeError(
        "baseUrl is plain http:// to pod.bank.example, which is not this machine: the session token would cross the network unencrypted. Use https://, or allow it with insecureHttp: true if you really mean to",
      ),
    );
    expect(() =>
      createPodClient({ baseUrl: "http://pod.bank.example/pod", sessionToken: "t", insecureHttp: true }),
    ).not.toThrow();
    for (const loopback of ["http://127.0.0.1:8080/pod", "http://localhost/pod", "http://[::1]:9/pod"]) {
      expect(() => createPodClient({ baseUrl: loopback, sessionToken: "t" })).not.toThrow();
    }
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    expect(() =>
      rsaAuthentication({
        podUrl: "http://pod.bank.example",
        username: "b",
        privateKey: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      }),
    ).toThrow(/^podUrl is plain http:\/\/ to pod\.bank\.example/);
    expect(() =>
      certificateAuthentication({ sessionAuthUrl: "http://auth.bank.example", pfx: Buffer.from("x") }),
    ).toThrow(/^sessionAuthUrl is plain http:\/\/ to auth\.bank\.example/);
  });
});

describe("issue 21 item 6 (library): a key given where a path is expected", () => {
  it("readPrivateKeyFile refuses PEM content without quoting it", async () => {
    const { readPrivateKeyFile } = await import("../src/index.js");
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const error = (await readPrivateKeyFile(pem).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(
      `the private key file's path must be the path of a file, but it holds a PEM "PRIVATE KEY" block (${pem.length} characters, not shown): write it to a file (readable only by you) and give that file's path`,
    );
  });
});

describe("encrypted PEM keys", () => {
  it("rsaAuthentication opens one with its passphrase, and says so without one", () => {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey
      .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "k3y-Pa55" })
      .toString();
    expect(() =>
      rsaAuthentication({
        podUrl: "https://acme.symphony.com",
        username: "b",
        privateKey: pem,
        passphrase: "k3y-Pa55",
      }),
    ).not.toThrow();
    expect(() => rsaAuthentication({ podUrl: "https://acme.symphony.com", username: "b", privateKey: pem })).toThrow(
      /^privateKey is encrypted: give its passphrase/,
    );
    expect(() =>
      rsaAuthentication({ podUrl: "https://acme.symphony.com", username: "b", privateKey: pem, passphrase: "nope" }),
    ).toThrow("privateKey could not be decrypted: the passphrase is wrong");
  });
});

describe("the BDK config file", () => {
  it("docs/examples/bdk-config.yaml (every section) loads with no warning", () => {
    const settings = readBdkConfig(join(root, "docs/examples/bdk-config.yaml"), { PROXY_PASSWORD: "x" });
    expect(settings.warnings).toEqual([]);
    expect(settings.podUrl).toBe("https://acme.symphony.com/pod");
    expect(settings.loginUrl).toBe("https://acme.symphony.com");
    expect(settings.sessionAuthUrl).toBe("https://acme-api.symphony.com:8444");
    expect(settings.proxy).toEqual({ host: "proxy.bank.example", port: 3128, username: "svc-symphony", password: "x" });
    expect(settings.certificate?.password).toBe("changeit");
    expect(settings.retry).toEqual({ maxAttempts: 5, initialDelayMs: 500, maxDelayMs: 8000 });
    expect(settings.timeoutMs).toBe(30_000);
    expect(settings.trustStore).toBe(join(root, "docs/examples/secrets/bank-root-ca.pem"));
  });

  const parse = (yaml: string, env: Record<string, string> = {}) => parseBdkConfig(yaml, "bdk.yaml", env);

  it("per-service values override the global ones; ${VAR:-default}", () => {
    const settings = parse(
      "host: a.example\nport: 8443\ncontext: /sym/\npod:\n  port: ${POD_PORT:-9443}\nsessionAuth:\n  host: b.example\n",
    );
    expect(settings.podUrl).toBe("https://a.example:9443/sym/pod");
    expect(settings.sessionAuthUrl).toBe("https://b.example:8443/sym");
  });

  it("a misspelt key is warned about; unused BDK sections are accepted silently", () => {
    const settings = parse(
      "host: a.example\nagent:\n  host: x\ndatafeed:\n  version: v2\nbot:\n  usernme: bot\nretry:\n  maxAttemps: 3\n",
    );
    expect(settings.warnings).toEqual([
      "bdk.yaml: bot.usernme is not a key of the BDK config (did you mean bot.username?); it is ignored",
      "bdk.yaml: retry.maxAttemps is not a key of the BDK config (did you mean retry.maxAttempts?); it is ignored",
    ]);
  });

  it("a value of the wrong type, or an unset ${VAR}, is an error naming the key and the file; secrets never quoted", () => {
    expect(() => parse("host: a.example\npod:\n  port: eighty\n")).toThrow(
      new TypeError("bdk.yaml: pod.port must be a number, got a string"),
    );
    expect(() =>
      parse("host: a.example\nproxy:\n  host: p\n  port: 1\n  username: u\n  password: ${PROXY_PASSWORD}\n"),
    ).toThrow(
      new TypeError(
        "bdk.yaml: proxy.password uses ${PROXY_PASSWORD}, which is not set (set it, or write ${PROXY_PASSWORD:-default})",
      ),
    );
    expect(() => parse("host: a.example\nbot: [1, 2]\n")).toThrow(
      new TypeError("bdk.yaml: bot must be a mapping (key: value lines), got a list"),
    );
    const bad = "host: a.example\nproxy:\n  password: 'hunter2\n";
    expect(() => parse(bad)).toThrow(/^bdk\.yaml: is not valid YAML or JSON \(line \d+, column \d+\)$/);
  });

  it("loadBdkConfig builds the client options: RSA login through the client, the trust store as ca", async () => {
    await writeFile(join(work, "ca.pem"), pod.ca as string);
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await writeFile(join(work, "bot.pem"), privateKey.export({ type: "pkcs8", format: "pem" }));
    const { port } = pod;
    await writeFile(
      join(work, "bdk.json"),
      JSON.stringify({
        host: "127.0.0.1",
        port,
        bot: { username: "bot", privateKey: { path: "bot.pem" } },
        ssl: { trustStore: { path: "ca.pem" } },
      }),
    );
    const warnings: string[] = [];
    const options = await loadBdkConfig(join(work, "bdk.json"), { env: {}, onWarning: (w) => warnings.push(w) });
    const client = createPodClient({ ...options, proxy: false });
    cleanups.push(() => client.close());
    const before = pod.stats().logins;
    await client.users.listFeatures(1);
    expect(pod.stats().logins - before).toBe(1);
    expect(warnings).toEqual([]);
  });
});
