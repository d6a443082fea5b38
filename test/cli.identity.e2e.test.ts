/**
 * Users named by email or username (issue 14), through the real `pod-admin` process against the simulated pod: the
 * plan resolves them with GET /v3/users (at most 100 a call), lists the unknown ones, keeps them in the report and
 * never sends them; a report applied later looks them up again.
 */

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { type CliRun, startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-identity-");

const KNOWN = 150;
const FIRST_UID = 7_215_545_057_281;
const uidOf = (i: number) => FIRST_UID + i;
const ASSISTANT = { uid: 7_215_545_099_999, email: "assistant@acme.com", username: "assistant" };
const directory = [
  ...Array.from({ length: KNOWN }, (_, i) => ({ uid: uidOf(i), email: `user${i}@acme.com`, username: `user${i}` })),
  ASSISTANT,
];
const GHOSTS = ["ghost1@acme.com", "ghost2@acme.com", "ghost3@acme.com"];
/** Row indexes (0-based, among the data rows) where the ghosts go: file lines 2 + index. */
const GHOST_AT = [3, 70, 140];
const LOOKUP = "GET /v3/users";

async function file(name: string, text: string): Promise<string> {
  const path = join(workspace.work, name);
  await writeFile(path, text);
  return path;
}

function podAdmin(pod: SimulatedPod | undefined, args: string[]): Promise<CliRun> {
  return startPodAdmin([...args, ...(pod ? ["--pod", pod.url] : []), "--quiet"], {
    env: pod ? { POD_SESSION_TOKEN: pod.currentToken() } : {},
    cwd: workspace.work,
  }).done;
}

/** The known users' rows, with the ghosts' rows among them; returns the text and each ghost's line. */
function rowsWithGhosts(header: string, row: (user: string) => string) {
  const lines = [header];
  const ghostLines: number[] = [];
  let ghost = 0;
  for (let i = 0; i < KNOWN; i++) {
    if (GHOST_AT[ghost] === i) {
      lines.push(row(GHOSTS[ghost] as string));
      ghostLines.push(lines.length);
      ghost++;
    }
    lines.push(row(`user${i}@acme.com`));
  }
  return { text: `${lines.join("\n")}\n`, ghostLines };
}

interface ReportLine {
  email?: string;
  uid?: string;
  _report: { status: string; line: number; column: string; value: string };
}

async function reportLines(path: string): Promise<ReportLine[]> {
  return (await readFile(path, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ReportLine);
}

const VERBS = [
  {
    words: ["features", "apply"],
    header: "email,entitlement,enabled",
    row: (email: string) => `${email},canCreatePublicRoom,true`,
    write: "POST /v1/admin/user/{uid}/features/update",
    holds: (pod: SimulatedPod, uid: number) => pod.state.features(uid).canCreatePublicRoom === true,
  },
  {
    words: ["apps", "replace"],
    header: "email,appId,listed,install",
    row: (email: string) => `${email},app1,true,false`,
    write: "POST /v1/admin/user/{uid}/app/entitlement/list",
    holds: (pod: SimulatedPod, uid: number) =>
      pod.state.apps(uid).some((app) => app.appId === "app1" && app.listed && !app.install),
  },
  {
    words: ["apps", "patch"],
    header: "email,appId,install",
    row: (email: string) => `${email},app1,true`,
    write: "PATCH /v1/admin/user/{uid}/app/entitlement/list",
    holds: (pod: SimulatedPod, uid: number) => pod.state.apps(uid).some((app) => app.appId === "app1" && app.install),
  },
  {
    words: ["delegates", "apply"],
    header: "email,delegateEmail,action",
    row: (email: string) => `${email},${ASSISTANT.email},ADD`,
    write: "POST /v1/admin/user/{uid}/delegates/update",
    holds: (pod: SimulatedPod, uid: number) => pod.state.delegates(uid).includes(BigInt(ASSISTANT.uid)),
  },
] as const;

describe.each(VERBS)("$words.0 $words.1 with users named by email", (verb) => {
  it("resolves them in ⌈users/100⌉ lookups, sends nothing for the 3 unknown ones, lists them in the plan and keeps them in the report", async () => {
    const pod = await workspace.simulate({ directory });
    const { text, ghostLines } = rowsWithGhosts(verb.header, verb.row);
    const name = `${verb.words.join("-")}.csv`;
    const csv = await file(name, text);
    const report = join(workspace.work, `${name}.report.jsonl`);
    const run = await podAdmin(pod, [...verb.words, csv, "--report", report]);

    expect(run.code).toBe(1); // the unknown users did not apply
    const emails = KNOWN + GHOSTS.length + (verb.words[0] === "delegates" ? 1 : 0);
    const resolved = emails - GHOSTS.length;
    expect(run.stdout).toContain(
      `  users named by email: ${emails} emails looked up in 2 calls (GET /v3/users): ${resolved} resolved, 3 unknown\n`,
    );
    expect(run.stdout).toContain(`  ${KNOWN} users, ${KNOWN} calls`);
    expect(run.stdout).toContain(
      "  3 items naming a user the pod does not know: not sent, kept in the report (status unknownUser)\n",
    );
    GHOSTS.forEach((ghost, i) => {
      expect(run.stderr).toContain(
        `  unknown user: ${csv}:${ghostLines[i]}: column "email": no user of the pod has the email "${ghost}": not sent\n`,
      );
    });
    expect(run.stdout).toContain(`Report: ${report} (3 items). Retry them with: pod-admin ${verb.words.join(" ")}`);

    // Lookups: ⌈distinct emails / 100⌉, plus the plan's disabled-users check (⌈known users / 100⌉, by uid);
    // writes: the known users only, each holding what its row set.
    const { byOperation, writes } = pod.stats();
    expect(byOperation[LOOKUP]).toBe(Math.ceil(emails / 100) + Math.ceil(KNOWN / 100));
    expect(byOperation[verb.write]).toBe(KNOWN);
    expect(writes).toBe(KNOWN);
    const missing = directory.slice(0, KNOWN).filter((user) => !verb.holds(pod, user.uid));
    expect(missing).toEqual([]);

    const lines = await reportLines(report);
    expect(lines.map((line) => [line._report.status, line._report.line, line._report.column, line.email])).toEqual(
      GHOSTS.map((ghost, i) => ["unknownUser", ghostLines[i], "email", ghost]),
    );
    expect(lines.every((line) => line.uid === undefined)).toBe(true);
  });
});

describe("the dry run and the report of unknown users", () => {
  it("a dry run resolves too (reads only) and lists the unknown users; it writes nothing and no report", async () => {
    const pod = await workspace.simulate({ directory });
    const { text, ghostLines } = rowsWithGhosts("email,entitlement,enabled", (e) => `${e},canCreatePublicRoom,true`);
    const csv = await file("dry.csv", text);
    const run = await podAdmin(pod, ["features", "apply", csv, "--dry-run"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("Plan (dry run, nothing sent): features from");
    expect(run.stdout).toContain("153 emails looked up in 2 calls (GET /v3/users): 150 resolved, 3 unknown\n");
    expect(run.stdout).toContain("  3 items naming a user the pod does not know: not sent\n");
    expect(run.stderr).toContain(
      `${csv}:${ghostLines[0]}: column "email": no user of the pod has the email "ghost1@acme.com"`,
    );
    expect(pod.stats().writes).toBe(0);
    // 2 to resolve the emails, 2 for the disabled-users check of the 150 users found (100 uids a call).
    expect(pod.stats().byOperation[LOOKUP]).toBe(4);
  });

  it("a dry run without --pod is refused when the file names users by email (exit 2)", async () => {
    const csv = await file("no-pod.csv", "email,entitlement,enabled\nada@acme.com,canCreatePublicRoom,true\n");
    const run = await podAdmin(undefined, ["features", "apply", csv, "--dry-run"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${csv}:2: names users by email, which the pod resolves to uids`);
    expect(run.stderr).toContain("give --pod (or POD_URL) and a session token");
  });

  it("applying the report looks the unknown users up again: once they exist, they are sent", async () => {
    const first = await workspace.simulate({ directory });
    const csv = await file(
      "resume.csv",
      "email,entitlement,enabled\nuser1@acme.com,canCreatePublicRoom,true\nghost1@acme.com,canCreatePublicRoom,true\n",
    );
    const report = join(workspace.work, "resume.report.jsonl");
    expect((await podAdmin(first, ["features", "apply", csv, "--report", report])).code).toBe(1);
    await first.close();

    const ghostUid = 7_215_545_088_888;
    const later = await workspace.simulate({ directory: [...directory, { uid: ghostUid, email: "Ghost1@acme.com" }] });
    const again = await podAdmin(later, ["features", "apply", report, "--report", `${report}.next`]);
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("1 email looked up in 1 call (GET /v3/users): 1 resolved, 0 unknown\n");
    expect(later.stats().writes).toBe(1);
    expect(later.state.features(ghostUid).canCreatePublicRoom).toBe(true);
    expect(await readFile(`${report}.next`, "utf8")).toBe("");
  });
});

describe("usernames, delegate emails, and one user under two spellings", () => {
  it("resolves a username-keyed file; an unknown username is listed and kept", async () => {
    const pod = await workspace.simulate({ directory });
    const csv = await file(
      "usernames.csv",
      "username,appId,listed\nuser1,app1,true\nnobody,app1,true\nuser2,app1,false\n",
    );
    const report = join(workspace.work, "usernames.report.jsonl");
    const run = await podAdmin(pod, ["apps", "patch", csv, "--report", report]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      "  users named by username: 3 usernames looked up in 1 call (GET /v3/users): 2 resolved, 1 unknown\n",
    );
    expect(run.stderr).toContain(
      `  unknown user: ${csv}:3: column "username": no user of the pod has the username "nobody": not sent\n`,
    );
    expect(pod.stats().writes).toBe(2);
    expect(pod.state.apps(uidOf(1)).find((app) => app.appId === "app1")?.listed).toBe(true);
    expect(pod.state.apps(uidOf(2)).find((app) => app.appId === "app1")?.listed).toBe(false);
    expect((await reportLines(report)).map((line) => line._report.value)).toEqual(["nobody"]);
  });

  it("delegates by uid and delegateEmail: an unknown delegate email is listed, the known ones are sent", async () => {
    const pod = await workspace.simulate({ directory });
    const csv = await file(
      "delegate-emails.csv",
      `uid,delegateEmail,action\n${uidOf(1)},${ASSISTANT.email},ADD\n${uidOf(2)},nobody@acme.com,ADD\n${uidOf(3)},ASSISTANT@acme.com,ADD\n`,
    );
    const run = await podAdmin(pod, ["delegates", "apply", csv, "--report", join(workspace.work, "de.jsonl")]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("2 emails looked up in 1 call (GET /v3/users): 1 resolved, 1 unknown\n");
    expect(run.stderr).toContain(
      `  unknown user: ${csv}:3: column "delegateEmail": no delegate of the pod has the delegate email "nobody@acme.com": not sent\n`,
    );
    expect(pod.state.delegates(uidOf(1))).toEqual([BigInt(ASSISTANT.uid)]);
    expect(pod.state.delegates(uidOf(2))).toEqual([]);
    expect(pod.state.delegates(uidOf(3))).toEqual([BigInt(ASSISTANT.uid)]);
    expect(pod.stats().writes).toBe(2);
  });

  it("two spellings of one email are one user, even on rows apart: the contradiction checks refuse them (nothing sent)", async () => {
    const pod = await workspace.simulate({ directory });
    const split = await file(
      "split.csv",
      "email,entitlement,enabled\nUser1@acme.com,canCreatePublicRoom,true\nuser2@acme.com,canCreatePublicRoom,true\nuser1@ACME.com,canCreatePublicRoom,false\n",
    );
    const run = await podAdmin(pod, ["features", "apply", split]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${split}:4: column "enabled": user User1@acme.com, feature "canCreatePublicRoom", is "false" here but "true" at ${split}:2`,
    );

    const contradicting = await file(
      "contradicting.csv",
      `email,delegateEmail,action\nuser1@acme.com,${ASSISTANT.email},ADD\nUSER1@acme.com,Assistant@Acme.com,REMOVE\n`,
    );
    const again = await podAdmin(pod, ["delegates", "apply", contradicting]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(
      `${contradicting}:3: column "action": user ${uidOf(1)}, delegate ${ASSISTANT.uid}, is "REMOVE" here but "ADD" at ${contradicting}:2`,
    );
    expect(pod.stats().writes).toBe(0);

    // Consecutive rows of one email under two spellings make one call.
    const grouped = await file(
      "grouped.csv",
      "email,entitlement,enabled\nUser1@acme.com,canCreatePublicRoom,true\nuser1@ACME.com,sendFilesEnabled,true\n",
    );
    expect((await podAdmin(pod, ["features", "apply", grouped])).code).toBe(0);
    expect(pod.stats().writes).toBe(1);
    expect(pod.state.features(uidOf(1))).toMatchObject({ canCreatePublicRoom: true, sendFilesEnabled: true });
  });
});

describe("files naming users two ways are refused before anything is sent", () => {
  it("refuses a header with two user columns, or two delegate columns, and a JSON Lines file mixing them (exit 2)", async () => {
    const pod = await workspace.simulate({ directory });
    const both = await file("both.csv", `uid,email,entitlement,enabled\n${uidOf(1)},user1@acme.com,a,true\n`);
    const run = await podAdmin(pod, ["features", "apply", both]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${both}:1: column "email": the header has both "uid" and "email"`);

    const delegates = await file(
      "both-delegates.csv",
      `uid,userId,delegateEmail,action\n${uidOf(1)},2,a@acme.com,ADD\n`,
    );
    const again = await podAdmin(pod, ["delegates", "apply", delegates]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(
      `${delegates}:1: column "delegateEmail": the header has both "userId" and "delegateEmail"`,
    );

    expect(pod.stats().requests).toBe(0); // a bad header is refused before any lookup

    const mixed = await file(
      "mixed.jsonl",
      `{"email":"user1@acme.com","features":[]}\n{"uid":"${uidOf(2)}","features":[]}\n`,
    );
    const jsonl = await podAdmin(pod, ["features", "apply", mixed]);
    expect(jsonl.code).toBe(2);
    expect(jsonl.stderr).toContain(`${mixed}:2: names its user by "uid", but line 1 names it by "email"`);
    expect(pod.stats().writes).toBe(0);
  });

  it("a file of uids looks nothing up", async () => {
    const pod = await workspace.simulate({ directory });
    const csv = await file("uids.csv", `uid,entitlement,enabled\n${uidOf(1)},canCreatePublicRoom,true\n`);
    const run = await podAdmin(pod, ["features", "apply", csv]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain("looked up");
    // No resolution; the one GET /v3/users is the plan's disabled-users check (uid=…&active=false).
    expect(pod.stats().byOperation[LOOKUP]).toBe(1);
  });
});

describe("a lookup the pod refuses", () => {
  it("names the status and the reason in one line, keeps the emails out of it, exits 2 and sends nothing", async () => {
    const pod = await workspace.simulate({ directory });
    const path = await file("refused.csv", "email,entitlement,enabled\nuser1@acme.com,a,true\nuser2@acme.com,a,true\n");
    for (const extra of [[], ["--dry-run"]]) {
      const run = await startPodAdmin(["features", "apply", path, "--pod", pod.url, "--quiet", ...extra], {
        env: { POD_SESSION_TOKEN: "refused-token" },
        cwd: workspace.work,
      }).done;
      expect(run.code).toBe(2);
      const [first, second] = run.stderr.split("\n");
      expect(first).toMatch(/^pod-admin: looking up users by email failed: GET \/v3\/users failed with 401: /);
      expect(run.stderr).not.toContain("user1%40acme.com");
      expect(run.stderr).not.toContain("refused-token");
      expect(second).toBe("Nothing was sent.");
    }
    expect(pod.stats().byOperation["POST /v1/admin/user/{uid}/features/update"]).toBe(0);
  });
});
