/**
 * End to end: the real `pod-admin` process against the real simulated pod on loopback.
 */
import { generateKeyPairSync } from "node:crypto";
import { createWriteStream } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_AVAILABLE_FEATURES, type SimulatedPodOptions } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-e2e-");
// The files here name a feature "a": the pod lists it, as the plan checks feature names against the pod's list.
const simulate = (options: SimulatedPodOptions = {}) =>
  workspace.simulate({ availableFeatures: [...DEFAULT_AVAILABLE_FEATURES, "a"], ...options });

function start(args: string[], env: Record<string, string | undefined> = {}, stdin?: string) {
  return startPodAdmin(args, { env, stdin, cwd: workspace.work });
}

const podAdmin = (args: string[], env?: Record<string, string | undefined>, stdin?: string) =>
  start(args, env, stdin).done;

async function featuresCsv(name: string, users: number, from = 1, extra = ""): Promise<string> {
  const path = join(workspace.work, name);
  const out = createWriteStream(path);
  out.write("uid,entitlement,enabled\n");
  for (let i = 0; i < users; i++) {
    out.write(`${from + i},canCreatePublicRoom,${i % 2 === 0}\n${from + i},sendFilesEnabled,true\n`);
  }
  out.write(extra);
  await new Promise<void>((resolve) => out.end(() => resolve()));
  return path;
}

const reportLines = async (path: string) =>
  (await readFile(path, "utf8"))
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { uid: string; _report: { status: string; line: number; message?: string } });

describe("pod-admin features apply", () => {
  it("applies a CSV and exits 0; every user holds the intended features", async () => {
    const pod = await simulate();
    const csv = await featuresCsv("apply.csv", 200);
    const run = await podAdmin(["features", "apply", csv, "--pod", pod.url], { POD_SESSION_TOKEN: pod.currentToken() });
    expect(run.stderr).not.toContain(pod.currentToken());
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("200 users, 200 calls (POST features/update), concurrency 300");
    expect(run.stdout).toMatch(/200 succeeded, 0 failed, 0 not attempted/);
    for (let uid = 1; uid <= 200; uid++) {
      expect(pod.state.features(uid)).toEqual({ canCreatePublicRoom: (uid - 1) % 2 === 0, sendFilesEnabled: true });
    }
  });

  it("reads standard input with -", async () => {
    const pod = await simulate();
    const run = await podAdmin(
      ["features", "apply", "-", "--pod", pod.url],
      { POD_SESSION_TOKEN: pod.currentToken() },
      "uid,entitlement,enabled\n9007199254740993,delegatesEnabled,true\n",
    );
    expect(run.code).toBe(0);
    expect(pod.state.features("9007199254740993")).toEqual({ delegatesEnabled: true });
  });

  it("--dry-run validates and prints the plan, sending nothing", async () => {
    const pod = await simulate();
    const csv = await featuresCsv("dry.csv", 50);
    const run = await podAdmin(["features", "apply", csv, "--pod", pod.url, "--dry-run"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Plan (dry run, nothing sent)");
    expect(run.stdout).toContain("50 users, 50 calls");
    expect(pod.stats().requests).toBe(0);
  });

  it("a reader that goes away (| head) stops the run like a Ctrl-C: no crash, no temporary files left", async () => {
    const pod = await simulate({ faults: { latencyMs: 20 } });
    const csv = await featuresCsv("piped.csv", 300);
    const { child, done } = start(["features", "apply", csv, "--pod", pod.url, "--dry-run", "--only-changes"], {
      POD_SESSION_TOKEN: pod.currentToken(),
      TMPDIR: workspace.work,
    });
    child.stdout.once("data", () => child.stdout.destroy());
    const run = await done;
    expect(run.stderr).not.toContain("EPIPE");
    expect(run.stderr).not.toContain("Unhandled");
    expect(run.code).not.toBeNull();
    expect((await readdir(workspace.work)).filter((name) => name.startsWith("pod-admin-"))).toEqual([]);
  });

  it("bad rows: exit 2, file, line, column and rule named, nothing sent", async () => {
    const pod = await simulate();
    const csv = await featuresCsv("bad.csv", 3, 1, "4,canCreatePublicRoom,maybe\n0,sendFilesEnabled,true\n5,,true\n");
    const run = await podAdmin(["features", "apply", csv, "--pod", pod.url], { POD_SESSION_TOKEN: pod.currentToken() });
    expect(run.code).toBe(2);
    expect(run.stdout).toContain("3 invalid rows");
    expect(run.stderr).toContain(`${csv}:8: column "enabled": expected true or false, got "maybe"`);
    expect(run.stderr).toContain(`${csv}:9: column "uid": expected a positive int64 user id, got "0"`);
    expect(run.stderr).toContain(`${csv}:10: column "entitlement": is empty`);
    expect(run.stderr).toContain("Nothing was sent");
    expect(pod.stats().requests).toBe(0);
  });

  it("a row the spec refuses (JSON Lines) is reported with its line", async () => {
    const pod = await simulate();
    const file = join(workspace.work, "bad.jsonl");
    await writeFile(
      file,
      '{"uid":1,"features":[{"entitlement":"a","enabled":true}]}\n{"uid":2,"features":[{"entitlement":"a","enabled":"on"}]}\n',
    );
    const run = await podAdmin(["features", "apply", file, "--pod", pod.url], { POD_SESSION_TOKEN: "x" });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${file}:2: features[0].enabled: must be a boolean, got "on"`);
    expect(pod.stats().requests).toBe(0);
  });

  it("writes failures to --report; applying the report retries exactly those", async () => {
    const pod = await simulate({ users: Array.from({ length: 90 }, (_, i) => i + 1) }); // 91..100 unknown: 404
    const csv = await featuresCsv("partial.csv", 100);
    const report = join(workspace.work, "partial-report.jsonl");
    const token = { POD_SESSION_TOKEN: pod.currentToken() };
    const first = await podAdmin(["features", "apply", csv, "--pod", pod.url, "--report", report], token);
    expect(first.code).toBe(1);
    expect(first.stdout).toMatch(/90 succeeded, 10 failed, 0 not attempted/);
    expect(first.stdout).toContain(`Report: ${report} (10 items)`);
    const lines = await reportLines(report);
    expect(lines.map((l) => l.uid).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 10 }, (_, i) => String(91 + i)),
    );
    expect(lines[0]?._report).toMatchObject({ status: "failed", error: "PodNotFoundError", httpStatus: 404 });
    expect(lines.find((l) => l.uid === "91")?._report.line).toBe(182);

    for (let uid = 91; uid <= 100; uid++) pod.state.addUser(uid);
    pod.resetStats();
    const second = await podAdmin(["features", "apply", report, "--pod", pod.url], token);
    expect(second.code).toBe(0);
    // The 10 writes, plus the plan's guards: the feature list and one disabled-users lookup (10 uids).
    expect(pod.stats().writes).toBe(10);
    expect(pod.stats().requests).toBe(12);
    expect(pod.state.features(100)).toEqual({ canCreatePublicRoom: false, sendFilesEnabled: true });
  });

  it("a refused token (401): stops, says so, and keeps every unapplied item in the report", async () => {
    const pod = await simulate();
    const csv = await featuresCsv("unauthorized.csv", 500);
    const report = join(workspace.work, "unauthorized-report.jsonl");
    const run = await podAdmin(["features", "apply", csv, "--pod", pod.url, "--report", report, "--concurrency", "5"], {
      POD_SESSION_TOKEN: "not-the-token",
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("The pod refused the session token (401)");
    expect(run.stderr).not.toContain("not-the-token");
    const lines = await reportLines(report);
    expect(lines).toHaveLength(500);
    expect(new Set(lines.map((l) => l.uid)).size).toBe(500);
    expect(lines.some((l) => l._report.status === "notAttempted")).toBe(true);
    expect(pod.stats().requests).toBeLessThan(50);
  });

  it("Ctrl-C mid-run: finishes in-flight calls, writes the report, nothing lost or doubled", async () => {
    const pod = await simulate({ faults: { latencyMs: 20 } });
    const users = 2000;
    const csv = await featuresCsv("interrupt.csv", users);
    const report = join(workspace.work, "interrupt-report.jsonl");
    const { child, done } = start(
      ["features", "apply", csv, "--pod", pod.url, "--report", report, "--concurrency", "10"],
      {
        POD_SESSION_TOKEN: pod.currentToken(),
      },
    );
    await waitFor(() => pod.stats().writes >= 100);
    child.kill("SIGINT");
    const run = await done;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Interrupted");
    const lines = await reportLines(report);
    const applied = pod.state.users().filter((uid) => Object.keys(pod?.state.features(uid) ?? {}).length > 0);
    expect(lines.every((l) => l._report.status === "notAttempted")).toBe(true);
    expect(applied.length + lines.length).toBe(users);
    expect(new Set([...applied, ...lines.map((l) => l.uid)]).size).toBe(users);
    expect(run.stdout).toMatch(new RegExp(`${applied.length} succeeded, 0 failed, ${lines.length} not attempted`));
  });
});

describe("pod-admin: the report file", () => {
  it("refuses to write the report over its own input, sending nothing", async () => {
    const pod = await simulate();
    const file = join(workspace.work, "same.jsonl");
    await writeFile(file, '{"uid":1,"features":[{"entitlement":"a","enabled":true}]}\n');
    const run = await podAdmin(["features", "apply", file, "--pod", pod.url, "--report", file], {
      POD_SESSION_TOKEN: pod.currentToken(),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--report ${file} is the input file`);
    expect(pod.stats().requests).toBe(0);
    expect(await readFile(file, "utf8")).toBe('{"uid":1,"features":[{"entitlement":"a","enabled":true}]}\n');
  });

  it("an unwritable report is a usage error before anything is sent", async () => {
    const pod = await simulate();
    const csv = await featuresCsv("unwritable.csv", 5);
    const run = await podAdmin(
      ["features", "apply", csv, "--pod", pod.url, "--report", join(workspace.work, "no/such/dir/r.jsonl")],
      {
        POD_SESSION_TOKEN: pod.currentToken(),
      },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("cannot write the report");
    expect(pod.stats().requests).toBe(0);
  });

  it("a fully successful run leaves an empty report, never a stale one", async () => {
    const pod = await simulate();
    const csv = await featuresCsv("stale.csv", 20);
    const report = join(workspace.work, "stale-report.jsonl");
    // A report of an earlier run (--report replaces only a pod-admin report: its lines end with the _report key).
    await writeFile(report, '{"uid":"999","features":[],"_report":{"status":"failed","item":0,"line":2}}\n');
    const run = await podAdmin(["features", "apply", csv, "--pod", pod.url, "--report", report], {
      POD_SESSION_TOKEN: pod.currentToken(),
    });
    expect(run.code).toBe(0);
    expect(await readFile(report, "utf8")).toBe("");
  });
});

describe("pod-admin: one call per user", () => {
  it("gathers a user's split rows into one call, so a contradiction between them is refused (nothing sent)", async () => {
    const pod = await simulate();
    const csv = join(workspace.work, "split.csv");
    await writeFile(csv, "uid,entitlement,enabled\n1,a,true\n2,a,true\n1,a,false\n");
    const run = await podAdmin(["features", "apply", csv, "--pod", pod.url], { POD_SESSION_TOKEN: pod.currentToken() });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${csv}:4: column "enabled": user 1, feature "a", is "false" here but "true" at ${csv}:2 (column "enabled")`,
    );
    expect(pod.stats().requests).toBe(0);
  });

  it("refuses two different changes of one delegate for a user, also with the uid spelt two ways", async () => {
    const csv = join(workspace.work, "twice.csv");
    await writeFile(csv, "uid,userId,action\n1,5,ADD\n1,6,ADD\n01,5,REMOVE\n");
    const run = await podAdmin(["delegates", "apply", csv, "--dry-run"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${csv}:4: column "action": user 1, delegate 5, is "REMOVE" here but "ADD" at ${csv}:2; keep one of the two rows`,
    );
  });
});

describe("pod-admin with RSA authentication", () => {
  it("logs in with --username and --private-key, and logs in again when the session expires mid-run", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pod = await simulate({
      expireTokenAfterRequests: 150,
      login: { publicKey: publicKey.export({ type: "spki", format: "pem" }).toString() },
    });
    const keyFile = join(workspace.work, "bot.pem");
    await writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    const csv = await featuresCsv("rsa.csv", 400);
    const run = await podAdmin(
      ["features", "apply", csv, "--pod", pod.url, "--username", "provisioning-bot", "--private-key", keyFile],
      {},
    );
    expect(run.stderr).not.toContain("PRIVATE KEY");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/400 succeeded, 0 failed, 0 not attempted/);
    expect(pod.stats().tokenExpiries).toBeGreaterThanOrEqual(2);
    expect(pod.stats().logins).toBe(pod.stats().tokenExpiries + 1);
  });

  it("a refused login is a usage error before anything is sent", async () => {
    const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const { privateKey: otherKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pod = await simulate({ login: { publicKey: publicKey.export({ type: "spki", format: "pem" }).toString() } });
    const keyFile = join(workspace.work, "wrong.pem");
    await writeFile(keyFile, otherKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    const csv = await featuresCsv("refused.csv", 50);
    const run = await podAdmin([
      "features",
      "apply",
      csv,
      "--pod",
      pod.url,
      "--username",
      "bot",
      "--private-key",
      keyFile,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("RSA authentication failed");
    expect(run.stderr).toContain("bot");
    expect(pod.stats().writes).toBe(0);
    expect(pod.stats().logins).toBe(0);
  });

  it("a key that is not an RSA private key is a usage error naming the file, not its content", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const keyFile = join(workspace.work, "ec.pem");
    await writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
    const run = await podAdmin([
      "features",
      "apply",
      "x.csv",
      "--pod",
      "http://127.0.0.1:1/pod",
      "--username",
      "u",
      "--private-key",
      keyFile,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`cannot use --private-key ${keyFile}`);
    expect(run.stderr).not.toContain("PRIVATE KEY-----");
  });
});

describe("pod-admin usage", () => {
  it.each([
    [["features", "apply"], "give exactly one input FILE"],
    [["users", "apply", "x.csv"], 'unknown command "users apply"'],
    [
      ["features", "apply", "x.csv", "--concurrency", "0", "--dry-run"],
      "--concurrency must be an integer from 1 to 1000",
    ],
    [["features", "apply", "missing.csv", "--dry-run"], "cannot read missing.csv: no such file"],
    [["features", "apply", "x.csv", "--pod", "http://127.0.0.1:1/pod"], "no session token: set POD_SESSION_TOKEN"],
    [["features", "apply", "x.csv"], "--pod URL is required"],
    [["features", "apply", "x.csv", "--bogus"], "Unknown option '--bogus'"],
  ])("%j exits 2: %s", async (args, message) => {
    const run = await podAdmin(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
  });

  it("--help prints the usage and exits 0", async () => {
    const run = await podAdmin(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: pod-admin <command> FILE [options]");
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}
