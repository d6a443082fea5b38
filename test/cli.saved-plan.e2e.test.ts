/**
 * Saved plans through the real pod-admin process against the simulated pod: `--dry-run --save-plan PLAN` writes the
 * plan (JSON Lines, 0600) and its full diff; applying PLAN sends exactly its items, refusing the users whose state
 * changed behind it (listed, counted, in the report), for every write command; a plan for another pod or command,
 * cut short or edited, is refused with nothing sent; `--detailed-exitcode` says 0 / 2 / 1.
 */
import { readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";
import { SAMPLE_APP } from "./helpers.js";

const workspace = useCliWorkspace("pod-admin-plan-");
const USERS = 30;
const FIRST = 6_000_000;
const uids = Array.from({ length: USERS }, (_, i) => FIRST + i);
/** The users changed on the pod behind the plan. */
const CHANGED = [FIRST + 4, FIRST + 11, FIRST + 25];
const DELEGATE = 9007199254740993n;
const F = "canCreatePublicRoom";
const token = (pod: SimulatedPod) => ({ env: { POD_SESSION_TOKEN: pod.currentToken() } });

interface Case {
  words: string[];
  write: string;
  header: string;
  csv: (uid: number) => string;
  /** The state the plan sees: every user differs from the file. */
  seed: (pod: SimulatedPod, uid: number) => void;
  /** Someone changes the user behind the plan. */
  change: (pod: SimulatedPod, uid: number) => void;
  /** The user holds the file's state. */
  applied: (pod: SimulatedPod, uid: number) => unknown;
  /** The user holds what `change` set. */
  changed: (pod: SimulatedPod, uid: number) => unknown;
  /** What the refusal says changed. */
  refusal: string;
}

const CASES: Case[] = [
  {
    words: ["features", "apply"],
    write: "POST /v1/admin/user/{uid}/features/update",
    header: "uid,entitlement,enabled",
    csv: (uid) => `${uid},${F},true\n`,
    seed: (pod, uid) => pod.state.setFeatures(uid, { [F]: false, other: true }),
    change: (pod, uid) => pod.state.setFeatures(uid, { [F]: true, other: true }),
    applied: (pod, uid) => expect(pod.state.features(uid)).toEqual({ [F]: true, other: true }),
    // The user now holds what the plan would set: still refused, the plan saw false.
    changed: (pod, uid) => expect(pod.state.features(uid)).toEqual({ [F]: true, other: true }),
    refusal: `features was [{"entitlement":"${F}","enabled":false}] in the plan, is [{"entitlement":"${F}","enabled":true}] now`,
  },
  {
    words: ["delegates", "apply"],
    write: "POST /v1/admin/user/{uid}/delegates/update",
    header: "uid,userId,action",
    csv: (uid) => `${uid},${DELEGATE},ADD\n`,
    seed: (pod, uid) => pod.state.setDelegates(uid, [7n]),
    change: (pod, uid) => pod.state.setDelegates(uid, [7n, DELEGATE]),
    applied: (pod, uid) => expect(pod.state.delegates(uid).sort()).toEqual([7n, DELEGATE]),
    changed: (pod, uid) => expect(pod.state.delegates(uid).sort()).toEqual([7n, DELEGATE]),
    refusal: "held was false in the plan, is true now",
  },
  {
    words: ["apps", "replace"],
    write: "POST /v1/admin/user/{uid}/app/entitlement/list",
    header: "uid,appId,listed,install,appName,productName,productType,productSubscribed,productSku",
    csv: (uid) => `${uid},djApp,true,false,"DJ, the app",pro,premium,true,S-1\n`,
    seed: (pod, uid) => pod.state.setApps(uid, [{ ...SAMPLE_APP, install: true }]),
    change: (pod, uid) => pod.state.setApps(uid, [{ ...SAMPLE_APP, listed: false, install: true }]),
    applied: (pod, uid) => expect(pod.state.apps(uid)).toEqual([SAMPLE_APP]),
    changed: (pod, uid) => expect(pod.state.apps(uid)).toEqual([{ ...SAMPLE_APP, listed: false, install: true }]),
    refusal: '"listed":true',
  },
  {
    words: ["apps", "patch"],
    write: "PATCH /v1/admin/user/{uid}/app/entitlement/list",
    header: "uid,appId,listed,install",
    csv: (uid) => `${uid},djApp,KEEP,FALSE\n`,
    seed: (pod, uid) => pod.state.setApps(uid, [{ ...SAMPLE_APP, install: true }]),
    change: (pod, uid) => pod.state.setApps(uid, [{ ...SAMPLE_APP, listed: false, install: true }]),
    applied: (pod, uid) => expect(pod.state.apps(uid)).toEqual([SAMPLE_APP]),
    changed: (pod, uid) => expect(pod.state.apps(uid)).toEqual([{ ...SAMPLE_APP, listed: false, install: true }]),
    refusal: '"listed":false',
  },
  {
    words: ["status", "apply"],
    write: "POST /v1/admin/user/{uid}/status/update",
    header: "uid,status",
    csv: (uid) => `${uid},DISABLED\n`,
    seed: (pod, uid) => pod.state.setStatus(uid, { status: "ENABLED" }),
    change: (pod, uid) => pod.state.setStatus(uid, { status: "ENABLED", suspended: true, suspensionReason: "leave" }),
    applied: (pod, uid) => expect(pod.state.status(uid)).toEqual({ status: "DISABLED" }),
    changed: (pod, uid) =>
      expect(pod.state.status(uid)).toEqual({ status: "ENABLED", suspended: true, suspensionReason: "leave" }),
    refusal: 'suspended was (none) in the plan, is true now; suspensionReason was (none) in the plan, is "leave" now',
  },
];

async function inputFor(c: Case, name = c.words.join("-")): Promise<string> {
  const path = join(workspace.work, `${name}.csv`);
  await writeFile(path, `${c.header}\n${uids.map(c.csv).join("")}`);
  return path;
}

async function seeded(c: Case): Promise<SimulatedPod> {
  const pod = await workspace.simulate({ users: [...uids, DELEGATE] });
  for (const uid of uids) c.seed(pod, uid);
  return pod;
}

/** Saves the plan of `c`'s file on `pod`, checks the run, and returns the plan's path. */
async function savePlan(c: Case, pod: SimulatedPod, name = c.words.join("-")): Promise<string> {
  const plan = join(workspace.work, `${name}.plan.jsonl`);
  const run = await startPodAdmin(
    [...c.words, await inputFor(c, name), "--pod", pod.url, "--dry-run", "--save-plan", plan, "--quiet"],
    token(pod),
  ).done;
  expect(run.stderr).toBe("");
  expect(run.code).toBe(0);
  expect(run.stdout).toContain(`Plan saved: ${plan} (30 changes; JSON Lines) and ${plan}.diff (the full diff).`);
  expect(pod.stats().byOperation[c.write] ?? 0).toBe(0);
  return plan;
}

const CASE = CASES[0] as Case;

describe.each(CASES)("$words.0 $words.1: a saved plan applied after 3 users changed behind it", (c) => {
  it("refuses exactly those 3 (listed, in the report), sends the other 27, exit 1", async () => {
    const pod = await seeded(c);
    const plan = await savePlan(c, pod);
    for (const uid of CHANGED) c.change(pod, uid);
    pod.resetStats();
    const report = join(workspace.work, `${c.words.join("-")}.report.jsonl`);
    const run = await startPodAdmin([...c.words, plan, "--pod", pod.url, "--report", report, "--quiet"], token(pod))
      .done;
    expect(run.code).toBe(1);
    const refused = run.stderr.match(/^ {2}refused: user (\d+) /gm)?.map((line) => Number(line.split(" ")[4]));
    expect(refused?.sort()).toEqual(CHANGED);
    expect(run.stderr).toContain(c.refusal);
    expect(run.stderr).toContain("3 items of the plan refused: their users changed since it was saved.");
    expect(run.stdout).toContain("30 read, 27 differ, 0 already hold it, 3 refused (not written; in the report)");
    expect(run.stdout).toContain("27 succeeded, 0 failed, 0 not attempted");
    expect(pod.stats().byOperation[c.write]).toBe(27);
    for (const uid of uids) (CHANGED.includes(uid) ? c.changed : c.applied)(pod, uid);
    const lines = (await readFile(report, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => Number(line.uid)).sort()).toEqual(CHANGED);
    for (const line of lines) {
      expect(line._report).toMatchObject({ status: "failed", error: "StateChanged" });
      expect(line._report.message).toContain("its state changed since the plan was saved");
      // The line is the plan's: the header is line 1, user FIRST + i is change i + 1.
      expect(line._report.line).toBe(Number(line.uid) - FIRST + 2);
    }
  });
});

describe("applying a plan with --journal", () => {
  it("records the states before, and pod-admin undo puts them back", async () => {
    const pod = await seeded(CASE);
    const plan = await savePlan(CASE, pod, "journal");
    const journal = join(workspace.work, "journal.undo.jsonl");
    const run = await startPodAdmin(
      [...CASE.words, plan, "--pod", pod.url, "--journal", journal, "--quiet"],
      token(pod),
    ).done;
    expect(run.code).toBe(0);
    for (const uid of uids) CASE.applied(pod, uid);
    const undo = await startPodAdmin(["undo", journal, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(undo.code).toBe(0);
    for (const uid of uids) expect(pod.state.features(uid)).toEqual({ [F]: false, other: true });
  });
});

describe("the plan files", () => {
  it("PLAN is JSON Lines with the documented fields, PLAN.diff lists every user (no 20-user cut); both 0600", async () => {
    const pod = await seeded(CASE);
    const plan = await savePlan(CASE, pod, "fields");
    for (const path of [plan, `${plan}.diff`]) {
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(await readFile(path, "utf8")).not.toContain(pod.currentToken());
    }
    const [header, ...changes] = (await readFile(plan, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(header._plan).toEqual({
      format: 1,
      command: "features apply",
      pod: pod.url,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      input: join(workspace.work, "fields.csv"),
      counts: { changes: 30, users: 30, unchanged: 0, unknownUsers: 0 },
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(changes).toHaveLength(30);
    const first = changes.find((change) => change.uid === String(FIRST));
    expect(first).toEqual({
      _plan: { change: 1 },
      uid: String(FIRST),
      line: 2,
      item: { uid: String(FIRST), features: [{ entitlement: F, enabled: true }] },
      before: { uid: String(FIRST), features: [{ entitlement: F, enabled: false }] },
      diff: [`- ${F}: false`, `+ ${F}: true`],
    });
    expect(changes.map((change) => change._plan.change)).toEqual(changes.map((_, i) => i + 1));
    const diff = await readFile(`${plan}.diff`, "utf8");
    expect(diff).toMatch(/^# pod-admin plan: pod-admin features apply /);
    for (const uid of uids) {
      expect(diff).toContain(`user ${uid} (line ${uid - FIRST + 2}):\n  - ${F}: false\n  + ${F}: true\n`);
    }
  });

  it("an existing PLAN that is not a plan is refused and left as it was; a plan is replaced; a link is refused", async () => {
    const pod = await seeded(CASE);
    const input = await inputFor(CASE, "exists");
    const other = join(workspace.work, "precious.txt");
    await writeFile(other, "not a plan\n");
    const save = (plan: string) =>
      startPodAdmin([...CASE.words, input, "--pod", pod.url, "--dry-run", "--save-plan", plan, "--quiet"], token(pod))
        .done;
    const refused = await save(other);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${other} exists and is not a pod-admin plan: the plan would replace it`);
    expect(await readFile(other, "utf8")).toBe("not a plan\n");
    expect(pod.stats().byOperation["GET /v1/admin/user/{uid}/features"] ?? 0).toBe(0);
    const plan = await savePlan(CASE, pod, "exists");
    const before = await readFile(plan, "utf8");
    CASE.seed(pod, FIRST); // unchanged pod: the same changes, a new time
    expect((await save(plan)).code).toBe(0);
    expect(await readFile(plan, "utf8")).not.toBe(before);
    const link = join(workspace.work, "link.plan.jsonl");
    await symlink(other, link);
    const linked = await save(link);
    expect(linked.code).toBe(2);
    expect(linked.stderr).toContain("is a symbolic link");
    expect(await readFile(other, "utf8")).toBe("not a plan\n");
  });

  it("is not saved when a user cannot be read (it would miss a change): exit 1, no PLAN", async () => {
    const pod = await workspace.simulate({ users: uids.slice(1) }); // the first user is unknown: 404
    for (const uid of uids.slice(1)) CASE.seed(pod, uid);
    const plan = join(workspace.work, "unread.plan.jsonl");
    const run = await startPodAdmin(
      [...CASE.words, await inputFor(CASE, "unread"), "--pod", pod.url, "--dry-run", "--save-plan", plan, "--quiet"],
      token(pod),
    ).done;
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("Plan not saved: 1 item could not be read, so it would not hold every change.\n");
    expect(run.stderr).toContain(`  1 failed: 404 user not found; e.g. user ${FIRST} (line 2, HTTP 404`);
    for (const path of [plan, `${plan}.diff`, `${plan}.lock`, `${plan}.partial`]) {
      await expect(stat(path)).rejects.toThrow(/ENOENT/);
    }
  });

  it("--save-plan without --dry-run is a usage error", async () => {
    const run = await startPodAdmin([
      ...CASE.words,
      await inputFor(CASE, "nodry"),
      "--pod",
      "http://127.0.0.1:9/pod",
      "--save-plan",
      join(workspace.work, "nodry.plan"),
    ]).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("pod-admin: --save-plan writes the plan of a dry run: add --dry-run");
  });
});

describe("a plan that does not fit is refused, nothing sent", () => {
  async function refusedRun(pod: SimulatedPod, args: string[]) {
    pod.resetStats();
    const run = await startPodAdmin([...args, "--quiet"], token(pod)).done;
    expect(run.code).toBe(2);
    expect(pod.stats().requests).toBe(0);
    return run.stderr;
  }

  it("a plan saved against another pod, or for another command", async () => {
    const pod = await seeded(CASE);
    const plan = await savePlan(CASE, pod, "other");
    const elsewhere = pod.url.replace("/pod", "/other-pod");
    expect(await refusedRun(pod, [...CASE.words, plan, "--pod", elsewhere])).toContain(
      `pod-admin: ${plan} was saved against "${pod.url}", not "${elsewhere}": a plan applies to the pod it read\n`,
    );
    expect(await refusedRun(pod, ["delegates", "apply", plan, "--pod", pod.url])).toContain(
      `pod-admin: ${plan} is a plan for "features apply", not "delegates apply": apply it with pod-admin features apply ${plan}\n`,
    );
  });

  it("a plan cut short (a line lost, or mid-line) or edited after it was saved", async () => {
    const pod = await seeded(CASE);
    const plan = await savePlan(CASE, pod, "edited");
    const text = await readFile(plan, "utf8");
    const lines = text.split("\n");
    const lost = join(workspace.work, "lost.plan.jsonl");
    await writeFile(lost, `${lines.slice(0, -2).join("\n")}\n`);
    expect(await refusedRun(pod, [...CASE.words, lost, "--pod", pod.url])).toContain(
      `pod-admin: ${lost}: 29 changes found, the header says 30: the plan was cut short or edited;`,
    );
    const cut = join(workspace.work, "cut.plan.jsonl");
    await writeFile(cut, text.slice(0, text.length - 40));
    expect(await refusedRun(pod, [...CASE.words, cut, "--pod", pod.url])).toContain(
      `pod-admin: ${cut}: line 31 is not JSON: the plan was cut short or edited;`,
    );
    const edited = join(workspace.work, "edited2.plan.jsonl");
    await writeFile(edited, text.replace(`"enabled":true}]`, `"enabled":false}]`));
    expect(await refusedRun(pod, [...CASE.words, edited, "--pod", pod.url])).toContain(
      `pod-admin: ${edited}: its changes do not match the header's SHA-256: the plan was edited after it was saved;`,
    );
  });
});

describe("--detailed-exitcode (a dry run)", () => {
  const dry = async (pod: SimulatedPod, file: string, env = token(pod)) =>
    startPodAdmin([...CASE.words, file, "--pod", pod.url, "--dry-run", "--detailed-exitcode", "--quiet"], env).done;

  it("0 when every user holds the file, 2 when changes are pending, nothing sent", async () => {
    const pod = await seeded(CASE);
    const file = await inputFor(CASE, "detailed");
    const pending = await dry(pod, file);
    expect(pending.code).toBe(2);
    expect(pending.stdout).toContain("30 users of 30 read, 30 differ, 0 already hold it");
    for (const uid of uids) pod.state.setFeatures(uid, { [F]: true });
    const none = await dry(pod, file);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain("0 differ, 30 already hold it");
    const plan = join(workspace.work, "none.plan.jsonl");
    const saved = await startPodAdmin(
      [...CASE.words, file, "--pod", pod.url, "--dry-run", "--detailed-exitcode", "--save-plan", plan, "--quiet"],
      token(pod),
    ).done;
    expect(saved.code).toBe(0);
    expect(saved.stdout).toContain(
      `Plan saved: ${plan} (0 changes; JSON Lines) and ${plan}.diff (the full diff). Nothing to apply.\n`,
    );
    expect(pod.stats().byOperation[CASE.write] ?? 0).toBe(0);
  });

  it("1 on an error: a refused token, an invalid row, bad usage (never 2, which means changes pending)", async () => {
    const pod = await seeded(CASE);
    const file = await inputFor(CASE, "errors");
    const refused = await dry(pod, file, { env: { POD_SESSION_TOKEN: "not-the-token" } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^ {2}\d+ failed: 401 session refused; /m);
    expect(refused.stderr).toMatch(/^The reads stopped: .*The pod refused the session token/m);
    const invalid = join(workspace.work, "invalid.csv");
    await writeFile(invalid, `uid,entitlement,enabled\n${FIRST},${F},maybe\n`);
    const bad = await dry(pod, invalid);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Nothing was sent: fix the rows above");
    const usage = await startPodAdmin([...CASE.words, file, "--pod", pod.url, "--detailed-exitcode"], token(pod)).done;
    expect(usage.code).toBe(1);
    expect(usage.stderr).toContain("--detailed-exitcode says whether a dry run has changes pending: add --dry-run");
    expect(pod.stats().byOperation[CASE.write] ?? 0).toBe(0);
  });

  it("on a saved plan: 2 while its changes are pending, 1 once a user changed behind it", async () => {
    const pod = await seeded(CASE);
    const plan = await savePlan(CASE, pod, "detailed-plan");
    expect((await dry(pod, plan)).code).toBe(2);
    pod.state.setFeatures(FIRST, { [F]: true });
    const changed = await dry(pod, plan);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain(`  refused: user ${FIRST} (${plan} line 2): its state changed`);
    expect(pod.stats().byOperation[CASE.write] ?? 0).toBe(0);
  });
});
