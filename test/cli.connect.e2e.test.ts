// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is the BDK config syntax under test
/**
 * End to end from a real network's point of view: the real `pod-admin` process, a BDK config file, the simulated
 * pod serving HTTPS with its own CA (and the certificate login over mutual TLS on a second port), and a real
 * authenticating CONNECT proxy in between.
 */
import { generateKeyPairSync } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";
import { type Redirector, startProxy, startRecorder, type TestProxy } from "./network-helpers.js";

const workspace = useCliWorkspace("pod-admin-connect-");
const PROXY_PASSWORD = "pr0xy-s3cret-Pa55";
const P12_PASSWORD = "p12-s3cret-Pa55";
/** No proxy variable of the outer environment leaks into a run. */
const CLEAN = {
  HTTPS_PROXY: undefined,
  HTTP_PROXY: undefined,
  https_proxy: undefined,
  http_proxy: undefined,
  NO_PROXY: undefined,
  no_proxy: undefined,
};

let proxy: TestProxy | undefined;
let recorder: Redirector | undefined;
afterEach(async () => {
  await proxy?.close();
  await recorder?.close();
  proxy = recorder = undefined;
});

const run = (args: string[], env: Record<string, string | undefined> = {}) =>
  startPodAdmin([...args, "--quiet"], { env: { ...CLEAN, ...env }, cwd: workspace.work }).done;

async function featuresCsv(users: number): Promise<string> {
  const path = join(workspace.work, "features.csv");
  const rows = ["uid,entitlement,enabled"];
  for (let uid = 1; uid <= users; uid++) rows.push(`${uid},canCreatePublicRoom,${uid % 2 === 0}`);
  await writeFile(path, `${rows.join("\n")}\n`);
  return path;
}

function expectApplied(pod: SimulatedPod, users: number) {
  for (let uid = 1; uid <= users; uid++) {
    expect(pod.state.features(uid)).toEqual({ canCreatePublicRoom: uid % 2 === 0 });
  }
}

/** The files of a real BDK config: the trust store (the pod's CA), the bot's RSA key and its PKCS#12 certificate. */
async function bdkFiles(pod: SimulatedPod) {
  await writeFile(join(workspace.work, "ca.pem"), pod.ca as string);
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  await writeFile(join(workspace.work, "bot.pem"), privateKey.export({ type: "pkcs8", format: "pem" }), {
    mode: 0o600,
  });
  await writeFile(join(workspace.work, "bot.p12"), pod.issueClientCertificate("bot", P12_PASSWORD).pfx, {
    mode: 0o600,
  });
}

/** A BDK config of the real shape; `login` picks the bot's RSA key or its certificate. */
async function bdkConfig(
  name: string,
  pod: SimulatedPod,
  options: { login: "rsa" | "certificate"; proxy: boolean; trustStore: boolean },
): Promise<string> {
  const sessionAuthPort = new URL(pod.sessionAuthUrl as string).port;
  const lines = [
    "scheme: https",
    "host: 127.0.0.1",
    "port: 443",
    "context: ''",
    ...(options.proxy
      ? [
          "proxy:",
          "  host: 127.0.0.1",
          "  port: ${PROXY_PORT}",
          "  username: svc-pod-admin",
          "  password: ${PROXY_PASSWORD}",
        ]
      : []),
    "pod:",
    `  port: ${pod.port}`,
    "sessionAuth:",
    `  port: \${SESSION_AUTH_PORT:-${sessionAuthPort}}`,
    "agent:",
    "  host: agent.bank.example",
    "keyManager:",
    "  host: km.bank.example",
    "bot:",
    "  username: bot",
    ...(options.login === "rsa"
      ? ["  privateKey:", "    path: bot.pem"]
      : ["  certificate:", "    path: bot.p12", "    password: ${P12_PASSWORD}"]),
    ...(options.trustStore ? ["ssl:", "  trustStore:", "    path: ca.pem"] : []),
    "retry:",
    "  maxAttempts: 3",
    "  initialIntervalMillis: 100",
    "  multiplier: 2",
    "  maxIntervalMillis: 1000",
    "connectionTimeout: 15000",
    "readTimeout: 30000",
  ];
  const path = join(workspace.work, name);
  await writeFile(path, `${lines.join("\n")}\n`);
  return path;
}

const podHost = (pod: SimulatedPod) => `127.0.0.1:${pod.port}`;
const authHost = (pod: SimulatedPod) => `127.0.0.1:${new URL(pod.sessionAuthUrl as string).port}`;

function expectNoSecret(out: string) {
  expect(out).not.toContain(PROXY_PASSWORD);
  expect(out).not.toContain(P12_PASSWORD);
  expect(out).not.toMatch(/sim-session-/);
}

describe("pod-admin --config bdk.yaml: an HTTPS pod behind an authenticating proxy with an internal CA", () => {
  it("RSA login: every user applied, every connection through the proxy, CA from ssl.trustStore.path, ${VAR} password", async () => {
    const pod = await workspace.simulate({ tls: true });
    proxy = await startProxy("svc-pod-admin", PROXY_PASSWORD);
    await bdkFiles(pod);
    const config = await bdkConfig("bdk.yaml", pod, { login: "rsa", proxy: true, trustStore: true });
    const csv = await featuresCsv(40);
    const report = join(workspace.work, "rsa-report.jsonl");
    const journal = join(workspace.work, "rsa-undo.jsonl");
    const result = await run(["features", "apply", csv, "--config", config, "--report", report, "--journal", journal], {
      PROXY_PORT: String(proxy.port),
      PROXY_PASSWORD,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/40 succeeded, 0 failed, 0 not attempted/);
    expectApplied(pod, 40);
    expect(pod.stats().logins).toBe(1);
    // The files the run wrote: 0600, and no secret in them.
    for (const file of [report, journal]) {
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expectNoSecret(await readFile(file, "utf8"));
    }
    expect((await readFile(journal, "utf8")).trim().split("\n")).toHaveLength(41);
    // The login and the pod calls: each connection a tunnel through the proxy, to the pod and nowhere else.
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(2);
    expect(new Set(proxy.tunnels)).toEqual(new Set([podHost(pod)]));
    expect(proxy.refused).toBe(0);
    expectNoSecret(result.stdout + result.stderr);
  });

  it("certificate login over mutual TLS (PKCS#12 from bot.certificate.path), through the proxy to both hosts", async () => {
    const pod = await workspace.simulate({ tls: true });
    proxy = await startProxy("svc-pod-admin", PROXY_PASSWORD);
    await bdkFiles(pod);
    const config = await bdkConfig("bdk-cert.yaml", pod, { login: "certificate", proxy: true, trustStore: true });
    const csv = await featuresCsv(40);
    const result = await run(["features", "apply", csv, "--config", config], {
      PROXY_PORT: String(proxy.port),
      PROXY_PASSWORD,
      P12_PASSWORD,
    });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expectApplied(pod, 40);
    expect(pod.stats().logins).toBe(1);
    expect(new Set(proxy.tunnels)).toEqual(new Set([podHost(pod), authHost(pod)]));
    expectNoSecret(result.stdout + result.stderr);
  });

  it("the proxy from HTTPS_PROXY when the config names none; NO_PROXY bypasses it", async () => {
    const pod = await workspace.simulate({ tls: true });
    proxy = await startProxy("svc-pod-admin", PROXY_PASSWORD);
    await bdkFiles(pod);
    const config = await bdkConfig("bdk-env.yaml", pod, { login: "rsa", proxy: false, trustStore: true });
    const csv = await featuresCsv(10);
    const HTTPS_PROXY = `http://svc-pod-admin:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`;
    const viaProxy = await run(["features", "apply", csv, "--config", config], { HTTPS_PROXY });
    expect(viaProxy.stderr).toBe("");
    expect(viaProxy.code).toBe(0);
    expectApplied(pod, 10);
    expect(new Set(proxy.tunnels)).toEqual(new Set([podHost(pod)]));
    expectNoSecret(viaProxy.stdout + viaProxy.stderr);

    const tunnels = proxy.tunnels.length;
    const bypass = await run(["features", "apply", csv, "--config", config], { HTTPS_PROXY, NO_PROXY: "127.0.0.1" });
    expect(bypass.code).toBe(0);
    expect(proxy.tunnels.length).toBe(tunnels);
    expect(pod.stats().logins).toBe(2);
  });

  it("without the trust store: one clear TLS error naming the fix, exit 2, nothing sent to the pod", async () => {
    const pod = await workspace.simulate({ tls: true });
    proxy = await startProxy("svc-pod-admin", PROXY_PASSWORD);
    await bdkFiles(pod);
    const config = await bdkConfig("bdk-no-ca.yaml", pod, { login: "rsa", proxy: true, trustStore: false });
    const csv = await featuresCsv(10);
    const result = await run(["features", "apply", csv, "--config", config], {
      PROXY_PORT: String(proxy.port),
      PROXY_PASSWORD,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("RSA authentication failed");
    expect(result.stderr).toMatch(
      /TLS: the server's certificate is not signed by a CA this machine trusts \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/,
    );
    expect(result.stderr).toContain("--ca-file FILE, ssl.trustStore.path");
    // Not retried: one tunnel, one handshake.
    expect(proxy.tunnels.length).toBe(1);
    expect(pod.stats().requests).toBe(0);
    expectNoSecret(result.stdout + result.stderr);
  });

  it("a wrong proxy password: the proxy's refusal named, the password never printed, nothing sent", async () => {
    const pod = await workspace.simulate({ tls: true });
    proxy = await startProxy("svc-pod-admin", PROXY_PASSWORD);
    await bdkFiles(pod);
    const config = await bdkConfig("bdk-bad-proxy.yaml", pod, { login: "rsa", proxy: true, trustStore: true });
    const result = await run(["features", "apply", await featuresCsv(3), "--config", config], {
      PROXY_PORT: String(proxy.port),
      PROXY_PASSWORD: "wrong-Pa55word",
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("the proxy asked for authentication (407)");
    expect(result.stderr).not.toContain("wrong-Pa55word");
    expect(pod.stats().requests).toBe(0);
  });

  it("flags override the file: --ca-file, --proxy, --certificate with POD_CERTIFICATE_PASSWORD", async () => {
    const pod = await workspace.simulate({ tls: true });
    proxy = await startProxy("svc-pod-admin", PROXY_PASSWORD);
    await bdkFiles(pod);
    const csv = await featuresCsv(5);
    const result = await run(
      [
        "features",
        "apply",
        csv,
        "--pod",
        pod.url,
        "--auth-url",
        pod.sessionAuthUrl as string,
        "--certificate",
        "bot.p12",
        "--ca-file",
        "ca.pem",
        "--proxy",
        `http://svc-pod-admin:${PROXY_PASSWORD}@127.0.0.1:${proxy.port}`,
      ],
      { POD_CERTIFICATE_PASSWORD: P12_PASSWORD },
    );
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expectApplied(pod, 5);
    expect(new Set(proxy.tunnels)).toEqual(new Set([podHost(pod), authHost(pod)]));
  });
});

describe("an encrypted RSA key", () => {
  it("is opened with POD_PRIVATE_KEY_PASSPHRASE (never a flag); without it, exit 2 saying so; never printed", async () => {
    const pod = await workspace.simulate();
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const passphrase = "k3y-pa55-Phrase";
    await writeFile(
      join(workspace.work, "encrypted.pem"),
      privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }),
    );
    const csv = await featuresCsv(3);
    const args = ["features", "apply", csv, "--pod", pod.url, "--username", "bot", "--private-key", "encrypted.pem"];
    const opened = await run(args, { POD_PRIVATE_KEY_PASSPHRASE: passphrase });
    expect(opened.stderr).toBe("");
    expect(opened.code).toBe(0);
    expectApplied(pod, 3);
    const missing = await run(args);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("is encrypted: give its passphrase");
    const wrong = await run(args, { POD_PRIVATE_KEY_PASSPHRASE: "not-the-Phrase" });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("could not be decrypted: the passphrase is wrong");
    expect(opened.stdout + missing.stderr + wrong.stderr).not.toContain(passphrase);
    expect(wrong.stderr).not.toContain("not-the-Phrase");
  });
});

describe("hardening (issue 21) through the pod-admin process", () => {
  it("item 1: the RSA login is never redirected: the JWT does not reach the target, exit 2 naming the redirect", async () => {
    recorder = await startRecorder();
    const redirector = await startRecorder(307, `${recorder.url}/login/pubkey/authenticate`);
    try {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      await writeFile(join(workspace.work, "key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }));
      const result = await run([
        "features",
        "apply",
        await featuresCsv(2),
        "--pod",
        `${redirector.url}/pod`,
        "--username",
        "bot",
        "--private-key",
        "key.pem",
      ]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("failed with 307");
      expect(result.stderr).toContain(`a redirect to "${recorder.url}/login/pubkey/authenticate"`);
      expect(result.stderr).toContain("redirects are never followed");
      expect(redirector.received).toHaveLength(1); // not retried
      expect(recorder.received).toEqual([]);
    } finally {
      await redirector.close();
    }
  });

  it("item 6: a key given where its path is expected is refused without printing it (flag and variable)", async () => {
    const pod = await workspace.simulate();
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const body = pem.split("\n")[5] as string; // a line of the key's base64
    const csv = await featuresCsv(2);
    const byFlag = await run(["features", "apply", csv, "--pod", pod.url, "--username", "bot", `--private-key=${pem}`]);
    expect(byFlag.code).toBe(2);
    expect(byFlag.stderr).toContain('--private-key must be the path of a file, but it holds a PEM "PRIVATE KEY" block');
    expect(byFlag.stderr).not.toContain(body);
    const byEnv = await run(["features", "apply", csv, "--pod", pod.url, "--username", "bot"], {
      POD_PRIVATE_KEY_FILE: pem,
    });
    expect(byEnv.code).toBe(2);
    expect(byEnv.stderr).toContain("POD_PRIVATE_KEY_FILE must be the path of a file");
    expect(byEnv.stderr).not.toContain(body);
    expect(pod.stats().requests).toBe(0);
  });

  it("item 12: a plain http:// pod that is not loopback is refused unless --insecure-http or POD_INSECURE_HTTP", async () => {
    const csv = await featuresCsv(2);
    const refused = await run(["features", "apply", csv, "--pod", "http://pod.bank.example/pod"], {
      POD_SESSION_TOKEN: "t0ken",
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      "--pod is plain http:// to pod.bank.example, which is not this machine: the session token would cross the network unencrypted",
    );
    expect(refused.stderr).toContain("--insecure-http");
    const login = await run([
      "features",
      "apply",
      csv,
      "--pod",
      "https://pod.bank.example/pod",
      "--auth-url",
      "http://auth.bank.example",
      "--dry-run",
    ]);
    expect(login.code).toBe(2);
    expect(login.stderr).toContain("--auth-url is plain http:// to auth.bank.example");
    // Allowed on request (a dry run: nothing is sent either way).
    const allowed = await run([
      "features",
      "apply",
      csv,
      "--pod",
      "http://pod.bank.example/pod",
      "--dry-run",
      "--insecure-http",
    ]);
    expect(allowed.stderr).toBe("");
    expect(allowed.code).toBe(0);
    const byEnv = await run(["features", "apply", csv, "--pod", "http://pod.bank.example/pod", "--dry-run"], {
      POD_INSECURE_HTTP: "1",
    });
    expect(byEnv.code).toBe(0);
  });
});
