/**
 * The report is a journal (issue 13): written as outcomes settle, never lost once a call was sent, refused up front
 * where it cannot be written; and the exit codes and the second Ctrl-C around it.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";

const FEATURE = "canCreatePublicRoom";
const intended = (uid: number) => uid % 2 === 0;
const FIRST_UID = 1_000_000; // seven digits: every journal line of a user has a known length
/** util-linux's prlimit runs the process under a file size limit: writes past it fail (EFBIG), as on a full disk. */
const hasPrlimit = spawnSync("prlimit", ["--version"]).status === 0;

const workspace = useCliWorkspace("pod-admin-report-");
const simulate = workspace.simulate;

async function usersCsv(name: string, users: number): Promise<string> {
  const path = join(workspace.work, name);
  const out = createWriteStream(path);
  out.write("uid,entitlement,enabled\n");
  for (let i = 0; i < users; i++) out.write(`${FIRST_UID + i},${FEATURE},${intended(FIRST_UID + i)}\n`);
  await new Promise<void>((resolve) => out.end(() => resolve()));
  return path;
}

interface JournalLine {
  uid?: string;
  _report: { status: string; item: number };
}

/** The uids a report or journal marks applied. */
async function markedApplied(path: string): Promise<number[]> {
  const lines = (await readFile(path, "utf8"))
    .split("\n")
    .filter((line) => line.endsWith("}"))
    .map((line) => JSON.parse(line) as JournalLine);
  const uidOf = new Map<number, number>();
  for (const line of lines) if (line._report.status === "pending") uidOf.set(line._report.item, Number(line.uid));
  return lines.filter((l) => l._report.status === "succeeded").map((l) => uidOf.get(l._report.item) as number);
}

/**
 * Applies `report` again and checks the job is done: users it marks applied are flipped first and must still be
 * flipped (not sent again); every other user must hold the intended state.
 */
async function resumeAndCheck(pod: SimulatedPod, report: string, users: number) {
  const applied = new Set(await markedApplied(report));
  for (const uid of applied) {
    expect(pod.state.features(uid)[FEATURE]).toBe(intended(uid));
    pod.state.setFeatures(uid, { [FEATURE]: !intended(uid) });
  }
  pod.setFaults(undefined);
  const run = await startPodAdmin(
    ["features", "apply", report, "--pod", pod.url, "--report", `${report}.next`, "--quiet"],
    { env: { POD_SESSION_TOKEN: pod.currentToken() }, cwd: workspace.work },
  ).done;
  // A journal whose last write failed may end with a line cut short: it is ignored, with a warning.
  expect(run.stderr.replace(/^ {2}warning: .*: cut short .*\n/m, "")).toBe("");
  expect(run.code).toBe(0);
  const wrong: number[] = [];
  for (let uid = FIRST_UID; uid < FIRST_UID + users; uid++) {
    const expected = applied.has(uid) ? !intended(uid) : intended(uid);
    if (pod.state.features(uid)[FEATURE] !== expected) wrong.push(uid);
  }
  expect(wrong).toEqual([]);
  return applied.size;
}

describe("a report that cannot be written", () => {
  it("--report naming a directory is refused before anything is sent (exit 2)", async () => {
    const pod = await simulate();
    const csv = await usersCsv("dir-report.csv", 5);
    const dir = join(workspace.work, "reports");
    await mkdir(dir, { recursive: true });
    const run = await startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--report", dir], {
      env: { POD_SESSION_TOKEN: pod.currentToken() },
      cwd: workspace.work,
    }).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--report ${dir} is a directory`);
    expect(run.stderr).toContain("Nothing was sent");
    expect(pod.stats().requests).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });

  it("--report naming a pipe (a FIFO) is refused before anything is sent, and the pipe is left as it was", async () => {
    const pod = await simulate();
    const csv = await usersCsv("fifo-report.csv", 5);
    const fifo = join(workspace.work, "report.fifo");
    execFileSync("mkfifo", [fifo]);
    const run = await startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--report", fifo], {
      env: { POD_SESSION_TOKEN: pod.currentToken() },
      cwd: workspace.work,
    }).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--report ${fifo} is not a regular file`);
    expect(pod.stats().requests).toBe(0);
    expect((await stat(fifo)).isFIFO()).toBe(true);
  });

  it.skipIf(!hasPrlimit)(
    "a write failing mid-run (file size limit, as a full disk): stops taking work, says where the report is, exit 1; applying it finishes the job",
    async () => {
      const pod = await simulate({ faults: { latencyMs: 2 } });
      const users = 2000;
      const csv = await usersCsv("full-disk.csv", users);
      const report = join(workspace.work, "full-disk.jsonl");
      // The plan's pending lines fit under the limit; the outcomes run into it after a few hundred.
      let pendingBytes = 0;
      for (let i = 0; i < users; i++) {
        const uid = FIRST_UID + i;
        pendingBytes +=
          `{"uid":"${uid}","features":[{"entitlement":"${FEATURE}","enabled":${intended(uid)}}],"_report":{"status":"pending","item":${i},"line":${i + 2}}}\n`
            .length;
      }
      const run = await startPodAdmin(
        ["features", "apply", csv, "--pod", pod.url, "--report", report, "--quiet", "--concurrency", "20"],
        {
          env: { POD_SESSION_TOKEN: pod.currentToken() },
          cwd: workspace.work,
          wrap: ["prlimit", `--fsize=${pendingBytes + 15_000}`],
        },
      ).done;
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`cannot write the report ${report}`);
      expect(run.stderr).toContain("The run stopped taking work");
      expect(run.stderr).toContain(`pod-admin features apply ${report} finishes the job`);
      expect(pod.stats().writes).toBeLessThan(users); // it stopped
      const applied = await resumeAndCheck(pod, report, users);
      expect(applied).toBeGreaterThan(50);
    },
  );
});

describe("Ctrl-C", () => {
  it("a second Ctrl-C with calls in flight: exits 1 at once, the calls in flight stay in the report, which finishes the job", async () => {
    const pod = await simulate({ faults: { latencyMs: 300 } });
    const users = 400;
    const csv = await usersCsv("second-ctrl-c.csv", users);
    const report = join(workspace.work, "second-ctrl-c.jsonl");
    const { child, done } = startPodAdmin(
      ["features", "apply", csv, "--pod", pod.url, "--report", report, "--concurrency", "20"],
      { env: { POD_SESSION_TOKEN: pod.currentToken() }, cwd: workspace.work },
    );
    await waitFor(() => pod.stats().writes >= 40);
    child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 50));
    child.kill("SIGINT");
    const run = await done;
    expect(run.code).toBe(1); // calls were sent: not 130
    expect(run.stderr).toMatch(/Quit with \d+ calls? in flight/);
    expect(run.stderr).toContain(`${report} holds everything not applied`);
    await resumeAndCheck(pod, report, users);
  });

  it("a second Ctrl-C while the input is read: exits 130, nothing sent, no report left", async () => {
    const pod = await simulate();
    const csv = await usersCsv("ctrl-c-plan.csv", 300_000);
    const report = join(workspace.work, "ctrl-c-plan.jsonl");
    const { child, done } = startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--report", report], {
      env: { POD_SESSION_TOKEN: pod.currentToken() },
      cwd: workspace.work,
    });
    await new Promise((r) => setTimeout(r, 1500));
    child.kill("SIGINT");
    child.kill("SIGINT");
    const run = await done;
    expect(run.stdout).not.toContain("Done");
    expect(run.code).toBe(130);
    // Nothing written; the plan's guards may have read (the feature list, which users are disabled) before Ctrl-C.
    expect(pod.stats().writes).toBe(0);
    expect((await readdir(workspace.work)).filter((name) => name.startsWith("ctrl-c-plan.jsonl"))).toEqual([]);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
