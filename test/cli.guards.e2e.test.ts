/**
 * The plan's guards through the real pod-admin process against the simulated pod: feature names checked against
 * the pod's list, disabled users named and `--skip-disabled`, the `--max-changes` cap (nothing sent when refused),
 * and `--exact` end states for features and delegates, undone by their journal.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-guards-");
const FIRST = 8_000_000;
const USERS = 40;
const uids = Array.from({ length: USERS }, (_, i) => FIRST + i);
const FEATURES_WRITE = "POST /v1/admin/user/{uid}/features/update";
const FEATURES_LIST = "GET /v1/admin/system/features/list";
const DELEGATES_WRITE = "POST /v1/admin/user/{uid}/delegates/update";
const LOOKUP = "GET /v3/users";
// Runs in the workspace: a refused --only-changes run leaves its report (named by time) there.
const token = (pod: SimulatedPod, env: Record<string, string> = {}) => ({
  env: { POD_SESSION_TOKEN: pod.currentToken(), ...env },
  cwd: workspace.work,
});
const writes = (pod: SimulatedPod, operation = FEATURES_WRITE) => pod.stats().byOperation[operation] ?? 0;

/** A pod whose directory holds every user by email; every tenth is disabled. */
function simulate() {
  return workspace.simulate({
    directory: uids.map((uid) => ({
      uid,
      email: `user.${uid}@example.com`,
      ...((uid - FIRST) % 10 === 0 ? { status: "DISABLED" as const } : {}),
    })),
  });
}

async function featuresFile(name: string, rows: string[]): Promise<string> {
  const file = join(workspace.work, name);
  await writeFile(file, `uid,entitlement,enabled\n${rows.join("\n")}\n`);
  return file;
}

const everyone = (feature = "canCreatePublicRoom", value = "true") => uids.map((uid) => `${uid},${feature},${value}`);

describe("feature names", () => {
  it("a misspelt feature is refused with file:line and the nearest name, the list read once, nothing sent", async () => {
    const pod = await simulate();
    const rows = everyone();
    rows.splice(3, 0, `${FIRST + 2},canCreatePublicRooms,true`); // line 5: the third user's second row
    const file = await featuresFile("misspelt.csv", rows);
    for (const extra of [[], ["--dry-run", "--only-changes"]]) {
      const run = await startPodAdmin(["features", "apply", file, "--pod", pod.url, "--quiet", ...extra], token(pod))
        .done;
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        `${file}:5: column "entitlement": "canCreatePublicRooms" is not a feature of this pod ` +
          "(GET /v1/admin/system/features/list); did you mean canCreatePublicRoom?",
      );
      expect(run.stderr).toContain("Nothing was sent");
    }
    expect(pod.stats().byOperation[FEATURES_LIST]).toBe(2); // once per run
    expect(writes(pod)).toBe(0);
    expect(pod.stats().byOperation["GET /v1/admin/user/{uid}/features"] ?? 0).toBe(0);
  });

  it("a name far from every feature gets no suggestion; a dry run without a session says names were not checked", async () => {
    const pod = await simulate();
    const file = await featuresFile("far.csv", [`${FIRST + 1},somethingElseEntirely,true`]);
    const run = await startPodAdmin(["features", "apply", file, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${file}:2: column "entitlement": "somethingElseEntirely" is not a feature of this pod (GET /v1/admin/system/features/list)\n`,
    );
    const dry = await startPodAdmin(["features", "apply", file, "--dry-run", "--quiet"]).done;
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      "  feature names not checked: a dry run without a session cannot read the pod's list\n",
    );
    expect(pod.stats().byOperation[FEATURES_LIST]).toBe(1);
  });
});

describe("disabled users", () => {
  it("are named in the plan and written; --skip-disabled sends nothing to them and keeps them in the report", async () => {
    const pod = await simulate();
    const file = await featuresFile("all.csv", everyone());
    const run = await startPodAdmin(["features", "apply", file, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      `  4 disabled users: ${FIRST} (user.${FIRST}@example.com), ${FIRST + 10} (user.${FIRST + 10}@example.com), ` +
        `${FIRST + 20} (user.${FIRST + 20}@example.com), ${FIRST + 30} (user.${FIRST + 30}@example.com); ` +
        "written as well (--skip-disabled skips them)\n",
    );
    expect(writes(pod)).toBe(USERS);
    // One lookup call for the 40 uids (100 a call): GET /v3/users?uid=…&active=false.
    expect(pod.stats().byOperation[LOOKUP]).toBe(1);

    const report = join(workspace.work, "skip-report.jsonl");
    const skip = await startPodAdmin(
      ["features", "apply", file, "--pod", pod.url, "--quiet", "--skip-disabled", "--report", report],
      token(pod),
    ).done;
    expect(skip.stdout).toContain("; skipped (--skip-disabled): 4 items not sent, in the report as notAttempted\n");
    expect(writes(pod)).toBe(USERS + USERS - 4);
    // The summary counts them, so "0 not attempted" and a report of 4 items do not contradict each other.
    expect(skip.stdout).toMatch(
      new RegExp(`: ${USERS - 4} succeeded, 0 failed, 0 not attempted; 4 items of disabled users skipped\\.\n`),
    );
    const lines = (await readFile(report, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.uid)).toEqual([FIRST, FIRST + 10, FIRST + 20, FIRST + 30].map(String));
    expect(lines[0]._report).toMatchObject({
      status: "notAttempted",
      line: 2,
      reason: "disabledUser",
    });
    // The report is valid input: applied again, with --skip-disabled, its users are skipped again.
    const again = await startPodAdmin(
      ["features", "apply", report, "--pod", pod.url, "--quiet", "--skip-disabled"],
      token(pod),
    ).done;
    expect(again.stdout).toContain("4 disabled users");
    expect(writes(pod)).toBe(USERS + USERS - 4);
  });
});

describe("--max-changes", () => {
  it("refuses a run changing more users than N with nothing sent; --yes goes past; N% is of the file's users", async () => {
    const pod = await simulate();
    const file = await featuresFile("cap.csv", everyone());
    const refused = await startPodAdmin(
      ["features", "apply", file, "--pod", pod.url, "--quiet", "--max-changes", "39"],
      token(pod),
    ).done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      "pod-admin: this run changes 40 users named by the file (without --only-changes every one is counted), " +
        "more than --max-changes 39 allows; give --yes to go past the cap.\nNothing was sent.\n",
    );
    expect(writes(pod)).toBe(0);
    const env = await startPodAdmin(
      ["features", "apply", file, "--pod", pod.url, "--quiet"],
      token(pod, { POD_MAX_CHANGES: "50%" }),
    ).done;
    expect(env.code).toBe(2);
    expect(env.stderr).toContain("more than POD_MAX_CHANGES 50% of 40 (20) allows");
    expect(writes(pod)).toBe(0);
    const yes = await startPodAdmin(
      ["features", "apply", file, "--pod", pod.url, "--quiet", "--max-changes", "39", "--yes"],
      token(pod),
    ).done;
    expect(yes.code).toBe(0);
    expect(writes(pod)).toBe(USERS);
  });

  it("with --only-changes counts only the users that differ", async () => {
    const pod = await simulate();
    for (const uid of uids.slice(0, 30)) pod.state.setFeatures(uid, { canCreatePublicRoom: true });
    const file = await featuresFile("differ.csv", everyone());
    const args = ["features", "apply", file, "--pod", pod.url, "--quiet", "--only-changes"];
    const refused = await startPodAdmin([...args, "--max-changes", "20%"], token(pod)).done; // 10 differ, 8 allowed
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      "this run changes 10 users that differ from what the pod holds, more than --max-changes 20% of 40 (8) allows",
    );
    expect(refused.stderr).toMatch(/pod-admin-report-[^ ]+\.jsonl holds the run: apply it with --only-changes --yes/);
    expect(writes(pod)).toBe(0);
    const dry = await startPodAdmin([...args, "--max-changes", "20%", "--dry-run"], token(pod)).done;
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("  --max-changes: the run would be refused: this run changes 10 users");
    const passes = await startPodAdmin([...args, "--max-changes", "25%"], token(pod)).done;
    expect(passes.code).toBe(0);
    expect(writes(pod)).toBe(10);
  });

  it("a destructive run (delegate REMOVE rows) stops above 500 users by default; a non-destructive one does not", async () => {
    const many = Array.from({ length: 501 }, (_, i) => 9_000_000 + i);
    const pod = await workspace.simulate();
    const file = join(workspace.work, "remove.csv");
    await writeFile(file, `uid,userId,action\n${many.map((uid) => `${uid},5,REMOVE\n`).join("")}`);
    const run = await startPodAdmin(["delegates", "apply", file, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "this run changes 501 users named by the file (without --only-changes every one is counted), more than the cap of destructive runs, 500 allows",
    );
    expect(writes(pod, DELEGATES_WRITE)).toBe(0);
    const add = join(workspace.work, "add.csv");
    await writeFile(add, `uid,userId,action\n${many.map((uid) => `${uid},5,ADD\n`).join("")}`);
    const adds = await startPodAdmin(["delegates", "apply", add, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(adds.code).toBe(0);
    expect(writes(pod, DELEGATES_WRITE)).toBe(501);
  });

  it("refuses a malformed cap before anything is read", async () => {
    const run = await startPodAdmin(["features", "apply", "x.csv", "--dry-run", "--max-changes", "120%"]).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'pod-admin: --max-changes must be a number of users (e.g. 200) or a percentage of the file\'s users (e.g. 10%), got "120%"',
    );
  });
});

describe("--exact", () => {
  it("delegates: each listed user ends with exactly the listed delegates; others untouched; undo restores", async () => {
    const pod = await workspace.simulate();
    const [a, b, c] = [FIRST + 1, FIRST + 2, FIRST + 3];
    pod.state.setDelegates(a, [11n, 12n, 13n]);
    pod.state.setDelegates(b, [11n]);
    pod.state.setDelegates(c, [11n, 12n]);
    const file = join(workspace.work, "exact-delegates.csv");
    await writeFile(file, `uid,userId,action\n${a},11,ADD\n${a},14,ADD\n${c},12,REMOVE\n`);
    const args = ["delegates", "apply", file, "--pod", pod.url, "--quiet", "--exact"];
    const dry = await startPodAdmin([...args, "--dry-run"], token(pod)).done;
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("  --exact: 2 listed users read; 3 delegates removed that the file does not name");
    expect(dry.stdout).toContain(`  user ${a} (line 2):\n    - delegate 12\n`);
    expect(dry.stdout).toContain(`  user ${a} (line 2):\n    - delegate 13\n`);
    expect(dry.stdout).toContain(`  user ${c} (line 4):\n    - delegate 11\n`);
    expect(writes(pod, DELEGATES_WRITE)).toBe(0);

    const journal = join(workspace.work, "exact-delegates.journal");
    const run = await startPodAdmin([...args, "--journal", journal], token(pod)).done;
    expect(run.code).toBe(0);
    expect(pod.state.delegates(a).sort()).toEqual([11n, 14n]);
    expect(pod.state.delegates(b)).toEqual([11n]); // not in the file
    expect(pod.state.delegates(c)).toEqual([]);
    const undo = await startPodAdmin(["undo", journal, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(undo.code).toBe(0);
    expect(pod.state.delegates(a).sort()).toEqual([11n, 12n, 13n]);
    expect(pod.state.delegates(c).sort()).toEqual([11n, 12n]);
  });

  it("features: each listed user's features not named are turned off; others untouched; undo restores", async () => {
    const pod = await workspace.simulate();
    const [a, b] = [FIRST + 1, FIRST + 2];
    pod.state.setFeatures(a, {
      canCreatePublicRoom: false,
      sendFilesEnabled: true,
      canUpdateAvatar: true,
      mustBeRecorded: false,
    });
    pod.state.setFeatures(b, { sendFilesEnabled: true });
    const file = await featuresFile("exact.csv", [`${a},canCreatePublicRoom,true`]);
    const args = ["features", "apply", file, "--pod", pod.url, "--quiet", "--exact"];
    const dry = await startPodAdmin([...args, "--dry-run"], token(pod)).done;
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("  --exact: 1 listed user read; 2 features turned off that the file does not name");
    expect(dry.stdout).toContain("    - sendFilesEnabled: true\n    + sendFilesEnabled: false\n");
    expect(writes(pod)).toBe(0);
    const journal = join(workspace.work, "exact-features.journal");
    const run = await startPodAdmin([...args, "--journal", journal], token(pod)).done;
    expect(run.code).toBe(0);
    expect(pod.state.features(a)).toEqual({
      canCreatePublicRoom: true,
      sendFilesEnabled: false,
      canUpdateAvatar: false,
      mustBeRecorded: false,
    });
    expect(pod.state.features(b)).toEqual({ sendFilesEnabled: true });
    const undo = await startPodAdmin(["undo", journal, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(undo.code).toBe(0);
    expect(pod.state.features(a)).toEqual({
      canCreatePublicRoom: false,
      sendFilesEnabled: true,
      canUpdateAvatar: true,
      mustBeRecorded: false,
    });
  });
});
