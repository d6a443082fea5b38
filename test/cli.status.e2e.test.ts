/**
 * `pod-admin status apply | export` through the real process against the simulated pod: the proof that a write
 * declared in one module (src/operations/status.ts) works wherever the other writes do: apply (users by uid or
 * email), dry run, --only-changes, --journal and undo, export applied back, and the refusals of a bad file.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-status-");
const FIRST = 7_000_000;
const USERS = 40;
const uids = Array.from({ length: USERS }, (_, i) => FIRST + i);
const WRITE = "POST /v1/admin/user/{uid}/status/update";
const READ = "GET /v1/admin/user/{uid}/status";
const token = (pod: SimulatedPod) => ({ env: { POD_SESSION_TOKEN: pod.currentToken() } });

/** A pod whose directory names every user by email; every fourth one is disabled already. */
function simulate() {
  return workspace.simulate({
    directory: uids.map((uid) => ({
      uid,
      email: `user.${uid}@example.com`,
      ...((uid - FIRST) % 4 === 0 ? { status: "DISABLED" as const } : {}),
    })),
  });
}

const statuses = (pod: SimulatedPod) => uids.map((uid) => pod.state.status(uid));

describe("pod-admin status apply", () => {
  it("offboards users named by email: one status/update each, the directory agrees, exit 0", async () => {
    const pod = await simulate();
    const file = join(workspace.work, "offboard.csv");
    await writeFile(file, `email,status\n${uids.map((uid) => `user.${uid}@example.com,DISABLED\n`).join("")}`);
    const run = await startPodAdmin(["status", "apply", file, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(pod.stats().byOperation[WRITE]).toBe(USERS);
    expect(statuses(pod)).toEqual(uids.map(() => ({ status: "DISABLED" })));
    expect(pod.state.directoryEntry(FIRST + 1)?.status).toBe("DISABLED");
  });

  it("--only-changes reads each user's status and writes only those that differ; the dry run shows - old / + new", async () => {
    const pod = await simulate();
    const file = join(workspace.work, "only.csv");
    await writeFile(file, `uid,status\n${uids.map((uid) => `${uid},DISABLED\n`).join("")}`);
    const dry = await startPodAdmin(
      ["status", "apply", file, "--pod", pod.url, "--only-changes", "--dry-run", "--quiet"],
      token(pod),
    ).done;
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("(GET status): 40 users of 40 read, 30 differ, 10 already hold it");
    expect(dry.stdout).toContain(`  user ${FIRST + 1} (line 3):\n    - status: ENABLED\n    + status: DISABLED\n`);
    expect(pod.stats().byOperation[WRITE] ?? 0).toBe(0);
    const run = await startPodAdmin(
      ["status", "apply", file, "--pod", pod.url, "--only-changes", "--quiet"],
      token(pod),
    ).done;
    expect(run.code).toBe(0);
    expect(pod.stats().byOperation[READ]).toBe(2 * USERS);
    expect(pod.stats().byOperation[WRITE]).toBe(30);
  });

  it("--journal then undo returns every user to the status before, suspensions included", async () => {
    const pod = await simulate();
    pod.state.setStatus(FIRST + 1, { status: "ENABLED", suspended: true, suspendedUntil: 1_900_000_000 });
    const before = statuses(pod);
    const file = join(workspace.work, "suspend.csv");
    await writeFile(
      file,
      `uid,status,suspended,suspensionReason\n${uids.map((uid) => `${uid},ENABLED,true,leave\n`).join("")}`,
    );
    const journal = join(workspace.work, "status-undo.jsonl");
    const applied = await startPodAdmin(
      ["status", "apply", file, "--pod", pod.url, "--journal", journal, "--quiet"],
      token(pod),
    ).done;
    expect(applied.code).toBe(0);
    expect(pod.state.status(FIRST + 2)).toEqual({ status: "ENABLED", suspended: true, suspensionReason: "leave" });
    const lines = (await readFile(journal, "utf8")).trim().split("\n");
    expect(JSON.parse(lines[0] as string)._undo).toMatchObject({ operation: "status", command: "status apply" });
    expect(JSON.parse(lines[1] as string)).toEqual({ uid: String(FIRST), status: "DISABLED", suspended: false });
    const undo = await startPodAdmin(["undo", journal, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(undo.stderr).toBe("");
    expect(undo.code).toBe(0);
    expect(statuses(pod).map((s) => ({ ...s, suspended: s?.suspended ?? false }))).toEqual(
      before.map((s) => ({ ...s, suspended: s?.suspended ?? false })),
    );
  });

  it("refuses a bad status, a bad suspendedUntil and an unknown column with file:line, nothing sent (exit 2)", async () => {
    const pod = await simulate();
    const file = join(workspace.work, "bad.csv");
    await writeFile(file, `uid,status,suspendedUntil\n${FIRST},GONE,\n${FIRST + 1},ENABLED,soon\n`);
    const run = await startPodAdmin(["status", "apply", file, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${file}:2: column "status": expected one of ENABLED, DISABLED, got "GONE"`);
    expect(run.stderr).toContain(`${file}:3: column "suspendedUntil": expected a unix time in seconds, got "soon"`);
    const extra = join(workspace.work, "extra.csv");
    await writeFile(extra, `uid,status,reason\n${FIRST},ENABLED,x\n`);
    const unknown = await startPodAdmin(["status", "apply", extra, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('column "reason": unknown column');
    expect(pod.stats().requests).toBe(0);
  });
});

describe("pod-admin status export", () => {
  it("writes every user's status in the apply layout; applied back with --only-changes it sends nothing", async () => {
    const pod = await simulate();
    pod.state.setStatus(FIRST + 1, { status: "ENABLED", suspended: true, suspensionReason: "on leave, back soon" });
    const out = join(workspace.work, "status.csv");
    const run = await startPodAdmin(
      ["status", "export", "--all", "--pod", pod.url, "--out", out, "--quiet"],
      token(pod),
    ).done;
    expect(run.code).toBe(0);
    const text = await readFile(out, "utf8");
    const lines = text.trim().split("\n");
    expect(lines[0]).toBe("uid,status,suspended,suspendedUntil,suspensionReason");
    expect(lines).toHaveLength(USERS + 1);
    expect(lines).toContain(`${FIRST},DISABLED,,,`);
    expect(lines).toContain(`${FIRST + 1},ENABLED,true,,"on leave, back soon"`);
    pod.resetStats();
    const back = await startPodAdmin(
      ["status", "apply", out, "--pod", pod.url, "--only-changes", "--quiet"],
      token(pod),
    ).done;
    expect(back.code).toBe(0);
    expect(pod.stats().byOperation[WRITE] ?? 0).toBe(0);
  });
});
