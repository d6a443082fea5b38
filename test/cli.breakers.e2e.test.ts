/**
 * Issue 11, the CLI side, through the real `pod-admin` process: a run stops by itself when nothing can succeed (the
 * pod down, a disabled account, a service account without the privilege), says why and what to do, exits 1 and keeps
 * every user in the report; against a rate-limited pod the progress lines show the pace and everything applies.
 */
import { generateKeyPairSync } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type SimulatedPod, type SimulatedPodOptions, startSimulatedPod } from "../src/simulator/index.js";
import { type CliRun, startPodAdmin } from "./cli-process.js";

const FEATURE = "canCreatePublicRoom";
const TOKEN = "breaker-test-session-token-4f2a9c";

let work: string;
let pod: SimulatedPod | undefined;
const servers: Server[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pod-admin-breakers-"));
});
afterAll(() => rm(work, { recursive: true, force: true }));
afterEach(async () => {
  await pod?.close();
  pod = undefined;
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function simulate(options: SimulatedPodOptions = {}) {
  pod = await startSimulatedPod(options);
  return pod;
}

/** A loopback HTTP server; closed after the test. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A loopback port nobody listens on: a server is started, its port noted, and the server closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function usersCsv(name: string, users: number): Promise<string> {
  const path = join(work, name);
  const out = createWriteStream(path);
  out.write(`uid,entitlement,enabled\n`);
  for (let uid = 1; uid <= users; uid++) out.write(`${uid},${FEATURE},${uid % 2 === 0}\n`);
  await new Promise<void>((resolve) => out.end(() => resolve()));
  return path;
}

interface ReportLine {
  uid: string;
  features: { entitlement: string; enabled: boolean }[];
  _report: { status: string; error?: string; message?: string };
}

const reportLines = async (path: string): Promise<ReportLine[]> =>
  (await readFile(path, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ReportLine);

/** Every user 1..users exactly once, with its intended change, none marked applied. */
function expectEveryUserUnapplied(lines: ReportLine[], users: number) {
  expect(lines).toHaveLength(users);
  const uids = lines.map((line) => Number(line.uid)).sort((a, b) => a - b);
  expect(uids).toEqual(Array.from({ length: users }, (_, i) => i + 1));
  for (const line of lines) {
    expect(["failed", "notAttempted"]).toContain(line._report.status);
    expect(line.features).toEqual([{ entitlement: FEATURE, enabled: Number(line.uid) % 2 === 0 }]);
  }
}

/** The "Done in …" line's counts. */
function counts(run: CliRun) {
  const match = /(\d+) succeeded, (\d+) failed, (\d+) not attempted/.exec(run.stdout);
  expect(match, run.stdout).not.toBeNull();
  const [succeeded, failed, notAttempted] = (match as RegExpExecArray).slice(1).map(Number) as [number, number, number];
  return { succeeded, failed, notAttempted };
}

/** What the process printed, both streams. */
const output = (run: CliRun) => `${run.stdout}\n${run.stderr}`;

/**
 * `features apply` of 5,000 users against a pod that answers every call 403, as a pod does for a service account
 * without the User Provisioning role. The simulator has no such fault, so a loopback server plays the pod.
 */
async function forbiddenRun(name: string) {
  const requests = { pod: 0, other: 0 };
  const url = await serve((req, res) => {
    if (req.url?.startsWith("/pod/")) requests.pod++;
    else requests.other++; // nothing but the Pod API is asked
    req.resume();
    req.on("end", () => {
      const body = JSON.stringify({ code: 403, message: "Caller lacks necessary entitlement" });
      res.writeHead(403, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    });
  });
  const users = 5000;
  const csv = await usersCsv(`${name}.csv`, users);
  const report = join(work, `${name}-report.jsonl`);
  const run = await startPodAdmin(["features", "apply", csv, "--pod", `${url}/pod`, "--report", report], {
    env: { POD_SESSION_TOKEN: TOKEN },
    cwd: work,
  }).done;
  return { run, requests, report, users };
}

describe("pod-admin stops by itself when nothing can succeed", () => {
  it("a pod that is down (closed port): ends well within 30 s, exit 1, says the pod does not answer and what to check; every user in the report", async () => {
    const port = await closedPort();
    const users = 2000;
    const csv = await usersCsv("down.csv", users);
    const report = join(work, "down-report.jsonl");
    const started = Date.now();
    const run = await startPodAdmin(
      ["features", "apply", csv, "--pod", `http://127.0.0.1:${port}/pod`, "--report", report],
      { env: { POD_SESSION_TOKEN: TOKEN }, cwd: work },
    ).done;
    const seconds = (Date.now() - started) / 1000;

    expect(run.code).toBe(1);
    expect(seconds).toBeLessThan(25); // the breaker trips after 10 s without any answer
    // One message naming the cause and what to do; not one per user.
    const stopped = run.stderr.split("\n").filter((line) => line.startsWith("The run stopped"));
    expect(stopped).toHaveLength(1);
    expect(stopped[0]).toContain("The pod has not answered any call for over 10 s");
    expect(stopped[0]).toContain("ECONNREFUSED");
    expect(stopped[0]).toMatch(/Check the pod URL, the network/);
    const { succeeded, failed, notAttempted } = counts(run);
    expect(succeeded).toBe(0);
    expect(failed + notAttempted).toBe(users);
    expect(notAttempted).toBeGreaterThan(0); // it stopped taking users, rather than trying every one
    expect(run.stdout).toContain(
      `Report: ${report} (${users} items). Retry them with: pod-admin features apply ${report}`,
    );
    expectEveryUserUnapplied(await reportLines(report), users);
    expect(output(run)).not.toContain(TOKEN);
    expect(await readFile(report, "utf8")).not.toContain(TOKEN);
  }, 30_000);

  it("a disabled account (RSA login works, every session token refused): at most 5 logins, exit 1, says what to do; every user in the report", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const sim = await simulate({ login: { publicKey: publicKey.export({ type: "spki", format: "pem" }).toString() } });
    // The simulator cannot refuse the tokens its own login issued, so a proxy in front of it does what a pod does
    // for a disabled account: the login (forwarded to the simulator, which counts it) succeeds, and every user-admin
    // call reaches the simulator with a token it does not know, so it answers 401.
    const seenTokens = new Set<string>();
    let podCalls = 0;
    const proxy = await serve((req, res) => {
      const headers = { ...req.headers };
      if (req.url?.startsWith("/pod/")) {
        podCalls++;
        seenTokens.add(String(headers.sessiontoken));
        headers.sessiontoken = `disabled-${String(headers.sessiontoken)}`;
      }
      const upstream = request(
        { host: "127.0.0.1", port: sim.port, method: req.method, path: req.url, headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    });
    const keyFile = join(work, "disabled-bot.pem");
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    await writeFile(keyFile, pem, { mode: 0o600 });
    const users = 10_000;
    const csv = await usersCsv("disabled.csv", users);
    const report = join(work, "disabled-report.jsonl");

    const run = await startPodAdmin(
      [
        ...["features", "apply", csv, "--pod", `${proxy}/pod`, "--report", report],
        ...["--username", "provisioning-bot", "--private-key", keyFile],
      ],
      { cwd: work },
    ).done;

    expect(run.code).toBe(1);
    const stats = sim.stats();
    expect(stats.logins).toBeGreaterThanOrEqual(2); // the first login, and at least one renewal after a 401
    expect(stats.logins).toBeLessThanOrEqual(5);
    expect(stats.writes).toBe(0);
    expect(podCalls).toBeLessThan(1000);
    expect(run.stderr).toContain("The pod refused the session token (401), so the run stopped.");
    expect(run.stderr).toContain("check that the service account is enabled");
    const { succeeded, failed, notAttempted } = counts(run);
    expect(succeeded).toBe(0);
    expect(failed + notAttempted).toBe(users);
    expect(notAttempted).toBeGreaterThan(users / 2);
    expectEveryUserUnapplied(await reportLines(report), users);
    // No session token, JWT or key in any output or in the report.
    expect(seenTokens.size).toBeGreaterThanOrEqual(2);
    const written = `${output(run)}\n${await readFile(report, "utf8")}`;
    for (const token of seenTokens) expect(written).not.toContain(token);
    expect(written).not.toContain("PRIVATE KEY");
    expect(written).not.toContain(pem.split("\n")[1] as string);
    expect(written).not.toMatch(/eyJ[\w-]{10,}/); // a JWT's header
  }, 30_000);

  it("a service account without the privilege (every call 403): stops after a few hundred requests of 5,000, exit 1; every user in the report", async () => {
    const { run, requests, report, users } = await forbiddenRun("forbidden");

    expect(run.code).toBe(1);
    expect(requests.other).toBe(0);
    expect(requests.pod).toBeGreaterThanOrEqual(10);
    expect(requests.pod).toBeLessThanOrEqual(400);
    const { succeeded, failed, notAttempted } = counts(run);
    expect(succeeded).toBe(0);
    // 403 is final: one request per failed user, none retried; plus the plan's guard reads, refused too: the
    // feature list and the first 500 users' disabled-users lookup (5 calls), after which the plan says "not checked".
    expect(failed).toBe(requests.pod - 6);
    expect(failed + notAttempted).toBe(users);
    const lines = await reportLines(report);
    expectEveryUserUnapplied(lines, users);
    const forbidden = lines.filter((line) => line._report.status === "failed");
    expect(forbidden).toHaveLength(failed);
    for (const line of forbidden) expect(line._report.error).toBe("PodForbiddenError");
    expect(output(run)).not.toContain(TOKEN);
  }, 30_000);

  it("a service account without the privilege: one message names ACCESS_USER_PROVISIONING_API and what to do", async () => {
    const { run } = await forbiddenRun("forbidden-message");
    expect(run.code).toBe(1);
    const stopped = run.stderr.split("\n").filter((line) => line.startsWith("The run stopped"));
    expect(stopped, run.stderr).toHaveLength(1);
    expect(stopped[0]).toContain("ACCESS_USER_PROVISIONING_API");
    expect(stopped[0]).toMatch(/refused with 403/);
    expect(stopped[0]).toMatch(/Grant it/);
  }, 30_000);
});

describe("pod-admin against a rate-limited pod", () => {
  it("progress lines (stderr not a terminal) show the pace the client learned; everything applies, exit 0", async () => {
    const sim = await simulate({ rateLimit: { perSecond: 200, windowMs: 1000 } });
    const users = 1000;
    const csv = await usersCsv("paced.csv", users);
    const report = join(work, "paced-report.jsonl");

    const run = await startPodAdmin(["features", "apply", csv, "--pod", sim.url, "--report", report], {
      env: { POD_SESSION_TOKEN: sim.currentToken() },
      cwd: work,
    }).done;

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${users} succeeded, 0 failed, 0 not attempted`));
    expect(sim.stats().writes).toBe(users);
    expect(sim.stats().rateLimiter.refused).toBeGreaterThan(0); // the pod did push back
    for (let uid = 1; uid <= users; uid++) expect(sim.state.features(uid)).toEqual({ [FEATURE]: uid % 2 === 0 });
    const progress = run.stderr.split("\n").filter((line) => line.startsWith("progress: "));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.at(-1)).toMatch(new RegExp(`^progress: ${users}/${users} calls \\(100\\.0%\\) · 0 failed · `));
    // The pace the client learned from the 429s, in calls per second (an unlimited client shows none). Its first
    // estimate comes from the burst a 1 s window admits, so early lines may show several times the pod's 200/s.
    const paces = progress.flatMap((line) => {
      const match = / · paced at (\d+)\/s(?: · 429: \d+\.\d % of \d+ requests)?$/.exec(line);
      return match ? [Number(match[1])] : [];
    });
    expect(paces.length, run.stderr).toBeGreaterThanOrEqual(1);
    for (const pace of paces) {
      expect(pace).toBeGreaterThanOrEqual(1);
      expect(pace).toBeLessThanOrEqual(2000);
    }
    // A run that applied everything leaves an empty report, and prints no breaker message.
    expect(await readFile(report, "utf8")).toBe("");
    expect(run.stderr).not.toContain("The run stopped");
    expect(output(run)).not.toContain(sim.currentToken());
  }, 30_000);
});
