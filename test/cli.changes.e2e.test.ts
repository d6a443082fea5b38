/**
 * `--only-changes` through the real pod-admin process against the simulator, for each write command: a file where
 * 90 % of the users already hold the state sends writes for exactly the other 10 %, reads every user once, and the
 * dry run prints the `- old` / `+ new` lines; a user that cannot be read is listed and kept in the report.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";
import { SAMPLE_APP } from "./helpers.js";

const workspace = useCliWorkspace("pod-admin-changes-");
const USERS = 100;
const FIRST = 5_000_000;
const uids = Array.from({ length: USERS }, (_, i) => FIRST + i);
/** Every tenth user differs from the file. */
const differs = (uid: number) => (uid - FIRST) % 10 === 3;
/** The delegate: a user of the pod too (a delegate who is not one is refused). */
const DELEGATE = 9007199254740993n;
const POD_USERS = [...uids, DELEGATE];

const F = "canCreatePublicRoom";

interface Case {
  words: string[];
  write: string;
  read: string;
  csv: (uid: number) => string;
  header: string;
  /** The state before: the file's for 90 %, something else for the rest. */
  seed: (pod: SimulatedPod, uid: number) => void;
  /** The user now holds the file's state. */
  holds: (pod: SimulatedPod, uid: number) => void;
  /** The dry run's lines for user FIRST + 3. */
  lines: string[];
}

const CASES: Case[] = [
  {
    words: ["features", "apply"],
    write: "POST /v1/admin/user/{uid}/features/update",
    read: "GET /v1/admin/user/{uid}/features",
    header: "uid,entitlement,enabled",
    csv: (uid) => `${uid},${F},true\n${uid},sendFilesEnabled,false\n`,
    seed: (pod, uid) => pod.state.setFeatures(uid, { [F]: !differs(uid), sendFilesEnabled: false, other: true }),
    holds: (pod, uid) => expect(pod.state.features(uid)).toEqual({ [F]: true, sendFilesEnabled: false, other: true }),
    lines: [`    - ${F}: false`, `    + ${F}: true`],
  },
  {
    words: ["delegates", "apply"],
    write: "POST /v1/admin/user/{uid}/delegates/update",
    read: "GET /v1/admin/user/{uid}/delegates",
    header: "uid,userId,action",
    csv: (uid) => `${uid},9007199254740993,ADD\n`,
    seed: (pod, uid) => pod.state.setDelegates(uid, differs(uid) ? [7n] : [7n, 9007199254740993n]),
    holds: (pod, uid) => expect(pod.state.delegates(uid).sort()).toEqual([7n, 9007199254740993n]),
    lines: ["    + delegate 9007199254740993"],
  },
  {
    words: ["apps", "replace"],
    write: "POST /v1/admin/user/{uid}/app/entitlement/list",
    read: "GET /v1/admin/user/{uid}/app/entitlement/list",
    header: "uid,appId,listed,install,appName,productName,productType,productSubscribed,productSku",
    csv: (uid) => `${uid},djApp,true,false,"DJ, the app",pro,premium,true,S-1\n`,
    seed: (pod, uid) => pod.state.setApps(uid, differs(uid) ? [{ ...SAMPLE_APP, install: true }] : [SAMPLE_APP]),
    holds: (pod, uid) => expect(pod.state.apps(uid)).toEqual([SAMPLE_APP]),
    lines: [
      '    - app "djApp" listed=true install=true appName="DJ, the app" products=[{name="pro" type="premium" subscribed=true sku="S-1"}]',
      '    + app "djApp" listed=true install=false appName="DJ, the app" products=[{name="pro" type="premium" subscribed=true sku="S-1"}]',
    ],
  },
  {
    words: ["apps", "patch"],
    write: "PATCH /v1/admin/user/{uid}/app/entitlement/list",
    read: "GET /v1/admin/user/{uid}/app/entitlement/list",
    header: "uid,appId,listed,install",
    csv: (uid) => `${uid},djApp,KEEP,FALSE\n`,
    seed: (pod, uid) => pod.state.setApps(uid, differs(uid) ? [{ ...SAMPLE_APP, install: true }] : [SAMPLE_APP]),
    holds: (pod, uid) => expect(pod.state.apps(uid)).toEqual([SAMPLE_APP]),
    lines: ['    - app "djApp" install: true', '    + app "djApp" install: false'],
  },
];

async function fileFor(c: Case): Promise<string> {
  const path = join(workspace.work, `${c.words.join("-")}.csv`);
  await writeFile(path, `${c.header}\n${uids.map(c.csv).join("")}`);
  return path;
}

describe.each(CASES)("$words.0 $words.1 --only-changes", (c) => {
  it("sends writes for exactly the 10 % of users who differ, after one read per user", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    for (const uid of uids) c.seed(pod, uid);
    const file = await fileFor(c);
    const report = join(workspace.work, `${c.words.join("-")}-report.jsonl`);
    const run = await startPodAdmin(
      [...c.words, file, "--pod", pod.url, "--only-changes", "--report", report, "--concurrency", "20", "--quiet"],
      { env: { POD_SESSION_TOKEN: pod.currentToken() } },
    ).done;
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const noun = c.words[0] === "delegates" ? "delegate changes" : "users";
    expect(run.stdout).toContain(`: 100 ${noun} of 100 read, 10 differ, 90 already hold it\n`);
    expect(run.stdout).toContain("  --only-changes: 10 calls to send");
    expect(run.stdout).toContain("10 succeeded, 0 failed, 0 not attempted; 90 already held it (not sent)");
    expect(pod.stats().byOperation[c.read]).toBe(USERS);
    expect(pod.stats().byOperation[c.write]).toBe(10);
    for (const uid of uids) c.holds(pod, uid);
    // Everything applied: the report is left empty, not holding the unchanged items.
    expect(await readFile(report, "utf8")).toBe("");
  });

  it("--dry-run prints the first differences as - old / + new lines and sends no write", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    for (const uid of uids) c.seed(pod, uid);
    const file = await fileFor(c);
    const run = await startPodAdmin([...c.words, file, "--pod", pod.url, "--only-changes", "--dry-run", "--quiet"], {
      env: { POD_SESSION_TOKEN: pod.currentToken() },
    }).done;
    expect(run.code).toBe(0);
    const line = c.words[0] === "features" ? 2 + 3 * 2 : 2 + 3;
    expect(run.stdout).toContain(`  user ${FIRST + 3} (line ${line}):\n${c.lines.join("\n")}\n  user ${FIRST + 13}`);
    // In input order whatever order the reads settle in: a dry run prints the same lines every time.
    const shown = [...run.stdout.matchAll(/^ {2}user (\d+) /gm)].map((match) => Number(match[1]));
    expect(shown).toEqual(Array.from({ length: 10 }, (_, i) => FIRST + 3 + 10 * i));
    expect(pod.stats().byOperation[c.write] ?? 0).toBe(0);
    expect(pod.stats().byOperation[c.read]).toBe(USERS);
  });
});

describe("--only-changes, the edges", () => {
  it("a user that cannot be read is listed with its reason, not written, and kept in the report", async () => {
    const pod = await workspace.simulate({ users: uids.slice(1) }); // the first user is unknown: 404
    for (const uid of uids.slice(1)) pod.state.setFeatures(uid, { [F]: true });
    const file = join(workspace.work, "one-unknown.csv");
    await writeFile(file, `uid,entitlement,enabled\n${uids.map((uid) => `${uid},${F},true\n`).join("")}`);
    const report = join(workspace.work, "one-unknown-report.jsonl");
    const run = await startPodAdmin(
      ["features", "apply", file, "--pod", pod.url, "--only-changes", "--report", report, "--quiet"],
      { env: { POD_SESSION_TOKEN: pod.currentToken() } },
    ).done;
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "Reads failed (users not written), by cause:\n" +
        `  1 failed: 404 user not found; e.g. user ${FIRST} (line 2, HTTP 404: `,
    );
    expect(run.stdout).toContain("99 users of 100 read, 0 differ, 99 already hold it, 1 read failed");
    expect(pod.stats().byOperation["POST /v1/admin/user/{uid}/features/update"] ?? 0).toBe(0);
    const lines = (await readFile(report, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({
      uid: String(FIRST),
      _report: { status: "failed", line: 2, httpStatus: 404 },
    });
  });

  it("a refused session stops the reads of a dry run, saying why (exit 1, nothing written)", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    const file = join(workspace.work, "refused.csv");
    await writeFile(file, `uid,entitlement,enabled\n${uids.map((uid) => `${uid},${F},true\n`).join("")}`);
    const run = await startPodAdmin(
      ["features", "apply", file, "--pod", pod.url, "--only-changes", "--dry-run", "--quiet", "--concurrency", "1"],
      { env: { POD_SESSION_TOKEN: "not-the-token" } },
    ).done;
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^The reads stopped: .*401/m);
    expect(run.stdout).toContain("0 users of 100 read, 0 differ, 0 already hold it");
    expect(pod.stats().byOperation["POST /v1/admin/user/{uid}/features/update"] ?? 0).toBe(0);
  });

  it("a report of a run stopped after the reads resumes: unchanged items are never sent, the rest are", async () => {
    // The token serves the plan's 2 guard reads (feature list, disabled users), the 100 reads and one write: the
    // write after is refused (401) and the run stops.
    const pod = await workspace.simulate({ users: uids, expireTokenAfterRequests: 2 + USERS + 1 });
    for (const uid of uids) pod.state.setFeatures(uid, { [F]: !differs(uid) });
    const file = join(workspace.work, "resume.csv");
    await writeFile(file, `uid,entitlement,enabled\n${uids.map((uid) => `${uid},${F},true\n`).join("")}`);
    const report = join(workspace.work, "resume-report.jsonl");
    const first = await startPodAdmin(
      [
        "features",
        "apply",
        file,
        "--pod",
        pod.url,
        "--only-changes",
        "--report",
        report,
        "--quiet",
        "--concurrency",
        "1",
      ],
      { env: { POD_SESSION_TOKEN: pod.currentToken() } },
    ).done;
    expect(first.code).toBe(1);
    expect(first.stdout).toContain("1 succeeded, 1 failed, 8 not attempted; 90 already held it (not sent).");
    pod.resetStats();
    const second = await startPodAdmin(
      ["features", "apply", report, "--pod", pod.url, "--report", `${report}.2`, "--quiet"],
      { env: { POD_SESSION_TOKEN: pod.currentToken() } },
    ).done;
    expect(second.stderr).toBe("");
    expect(second.code).toBe(0);
    // One was applied before the stop: the other 9 are sent, the 90 unchanged never.
    expect(pod.stats().byOperation["POST /v1/admin/user/{uid}/features/update"]).toBe(9);
    for (const uid of uids) expect(pod.state.features(uid)).toEqual({ [F]: true });
  });
});

describe("delegates apply --only-changes, several rows per user", () => {
  const users = uids.slice(0, 40);
  const [D1, D2] = [9007199254740993n, 9007199254740995n];
  /** Even users already hold D1 (ADD changes nothing); users divisible by 4 hold D2 too (REMOVE changes it). */
  const seed = (pod: SimulatedPod) => {
    for (const uid of users) pod.state.setDelegates(uid, uid % 2 === 0 ? (uid % 4 === 0 ? [D1, D2] : [D1]) : []);
  };
  const layouts = {
    consecutive: users.flatMap((uid) => [`${uid},${D1},ADD`, `${uid},${D2},REMOVE`]),
    apart: [...users.map((uid) => `${uid},${D1},ADD`), ...users.map((uid) => `${uid},${D2},REMOVE`)],
  };

  it.each(Object.keys(layouts) as (keyof typeof layouts)[])(
    "reads each user once (rows %s), and writes the same as a plain run",
    async (layout) => {
      const pod = await workspace.simulate({ users: [...users, D1, D2] });
      seed(pod);
      const file = join(workspace.work, `delegates-${layout}.csv`);
      await writeFile(file, `uid,userId,action\n${layouts[layout].join("\n")}\n`);
      const run = await startPodAdmin(
        ["delegates", "apply", file, "--pod", pod.url, "--only-changes", "--concurrency", "8", "--quiet"],
        { env: { POD_SESSION_TOKEN: pod.currentToken() }, cwd: workspace.work },
      ).done;
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      // 80 rows: 20 ADDs to send (odd users), 10 REMOVEs (users divisible by 4); 50 already hold it.
      expect(run.stdout).toContain(": 80 delegate changes of 80 read, 30 differ, 50 already hold it\n");
      expect(pod.stats().byOperation["GET /v1/admin/user/{uid}/delegates"]).toBe(40);
      expect(pod.stats().byOperation["POST /v1/admin/user/{uid}/delegates/update"]).toBe(30);
      for (const uid of users) expect(pod.state.delegates(uid)).toEqual([D1]);
    },
  );
});

describe("Ctrl-C during the reads", () => {
  it("prints one summary (users read, nothing written, how to resume), no write-pass line, and exits 130", async () => {
    const pod = await workspace.simulate({ users: uids, faults: { latencyMs: 50 } });
    for (const uid of uids) pod.state.setFeatures(uid, { [F]: !differs(uid) });
    const file = join(workspace.work, "ctrl-c-reads.csv");
    await writeFile(file, `uid,entitlement,enabled\n${uids.map((uid) => `${uid},${F},true\n`).join("")}`);
    const report = join(workspace.work, "ctrl-c-reads.jsonl");
    const journal = join(workspace.work, "ctrl-c-reads.undo.jsonl");
    const { child, done } = startPodAdmin(
      [
        ...["features", "apply", file, "--pod", pod.url, "--report", report, "--journal", journal],
        ...["--only-changes", "--concurrency", "2", "--quiet"],
      ],
      { env: { POD_SESSION_TOKEN: pod.currentToken() }, cwd: workspace.work },
    );
    const READ = "GET /v1/admin/user/{uid}/features";
    while ((pod.stats().byOperation[READ] ?? 0) < 4) await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGINT");
    const run = await done;
    expect(run.code).toBe(130);
    // The reads in flight finish: the first `read` users, in order.
    const read = pod.stats().byOperation[READ] as number;
    const differ = uids.slice(0, read).filter(differs).length;
    expect(run.stderr).toBe("\nInterrupted while reading the users' state: nothing will be written.\n");
    expect(run.stdout.slice(run.stdout.indexOf("Interrupted"))).toBe(
      `Interrupted while reading (GET features): ${read} users of ${USERS} read, ${differ} differ, ` +
        `${read - differ} already hold it; nothing was written.\n` +
        // --only-changes: the journal records the users that differ.
        `  journal: ${journal} (${differ} state${differ === 1 ? "" : "s"} recorded, no write after them; a resumed ` +
        "run takes a new --journal FILE)\n" +
        `Report: ${report} (${USERS - (read - differ)} items). Resume with: pod-admin features apply ${report} ` +
        "--only-changes --journal FILE\n",
    );
    expect(pod.stats().writes).toBe(0);
    // The report resumes the run: the users that differ are written, no other.
    const resumed = await startPodAdmin(
      ["features", "apply", report, "--pod", pod.url, "--only-changes", "--report", `${report}.2`, "--quiet"],
      { env: { POD_SESSION_TOKEN: pod.currentToken() }, cwd: workspace.work },
    ).done;
    expect(resumed.code).toBe(0);
    expect(pod.stats().writes).toBe(uids.filter(differs).length);
    for (const uid of uids) expect(pod.state.features(uid)).toEqual({ [F]: true });
  });
});

describe("the dry run's differences", () => {
  it("are the first 20 users by input line, whatever order the reads settle in, then a count of the rest", async () => {
    // Latency spread over 1-40 ms: the reads settle out of order.
    const pod = await workspace.simulate({ users: uids, faults: { latencyMs: [1, 40] } });
    const file = join(workspace.work, "all-differ.csv");
    await writeFile(file, `uid,entitlement,enabled\n${uids.map((uid) => `${uid},${F},true\n`).join("")}`);
    const run = await startPodAdmin(["features", "apply", file, "--pod", pod.url, "--only-changes", "--dry-run"], {
      env: { POD_SESSION_TOKEN: pod.currentToken() },
    }).done;
    expect(run.code).toBe(0);
    const shown = [...run.stdout.matchAll(/^ {2}user (\d+) \(line (\d+)\):$/gm)].map((match) => Number(match[1]));
    expect(shown).toEqual(uids.slice(0, 20));
    expect(run.stdout).toContain(`  … and ${USERS - 20} more users\n`);
  });
});
