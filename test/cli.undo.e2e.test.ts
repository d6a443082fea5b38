/**
 * `--journal FILE` and `pod-admin undo FILE` through the real pod-admin process against the simulator: for each
 * write command, apply with a journal, then undo, and every user is back to the state before, field by field; and
 * the journal's refusals (an existing file, a malformed line, another pod).
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-undo-");
const USERS = 100;
const FIRST = 6_000_000;
const uids = Array.from({ length: USERS }, (_, i) => FIRST + i);
const DELEGATE = 9007199254740993n;
const POD_USERS = [...uids, DELEGATE];
const F = "canCreatePublicRoom";
const G = "sendFilesEnabled";

/** Everything the pod holds for a user, to compare field by field. */
function snapshot(pod: SimulatedPod) {
  return uids.map((uid) => ({
    uid,
    features: pod.state.features(uid),
    delegates: pod.state.delegates(uid).sort(),
    apps: pod.state.apps(uid),
  }));
}

/** A varied state: each user holds something different, some already what the file sets. */
function seed(pod: SimulatedPod) {
  for (const uid of uids) {
    const i = uid - FIRST;
    pod.state.setFeatures(uid, { [F]: i % 2 === 0, [G]: i % 3 === 0, other: true });
    pod.state.setDelegates(uid, i % 4 === 0 ? [DELEGATE, 5n] : [5n]);
    pod.state.setApps(
      uid,
      i % 5 === 0
        ? []
        : [
            { appId: "djApp", listed: i % 2 === 0, install: true },
            {
              appId: "news",
              appName: "News",
              listed: true,
              install: false,
              products: [{ name: "pro", type: "premium", subscribed: i % 3 === 0 }],
            },
          ],
    );
  }
}

const CASES = [
  {
    words: ["features", "apply"],
    file: `uid,entitlement,enabled\n${uids.map((uid) => `${uid},${F},true\n${uid},${G},false\n`).join("")}`,
    write: "POST /v1/admin/user/{uid}/features/update",
  },
  {
    words: ["delegates", "apply"],
    file: `uid,userId,action\n${uids.map((uid) => `${uid},${DELEGATE},${uid % 2 ? "ADD" : "REMOVE"}\n`).join("")}`,
    write: "POST /v1/admin/user/{uid}/delegates/update",
  },
  {
    words: ["apps", "replace"],
    file: `uid,appId,listed,install,productName,productType,productSubscribed\n${uids.map((uid) => `${uid},mail,true,true,basic,default,true\n`).join("")}`,
    write: "POST /v1/admin/user/{uid}/app/entitlement/list",
  },
  {
    words: ["apps", "patch"],
    file: `uid,appId,listed,install\n${uids.map((uid) => `${uid},djApp,REMOVE,FALSE\n${uid},mail,TRUE,KEEP\n`).join("")}`,
    write: "PATCH /v1/admin/user/{uid}/app/entitlement/list",
  },
];

const token = (pod: SimulatedPod) => ({ env: { POD_SESSION_TOKEN: pod.currentToken() } });

describe.each(CASES)("$words.0 $words.1 --journal, then undo", (c) => {
  it("returns every user to the state before, field by field", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    seed(pod);
    const before = snapshot(pod);
    const name = c.words.join("-");
    const file = join(workspace.work, `${name}.csv`);
    await writeFile(file, c.file);
    const journal = join(workspace.work, `${name}-undo.jsonl`);
    const applied = await startPodAdmin(
      [...c.words, file, "--pod", pod.url, "--journal", journal, "--report", `${journal}.report`, "--quiet"],
      token(pod),
    ).done;
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(`  journal: ${journal} (100 states recorded; pod-admin undo ${journal})\n`);
    const after = snapshot(pod);
    expect(after).not.toEqual(before);
    const lines = (await readFile(journal, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(USERS + 1);
    expect(JSON.parse(lines[0] as string)._undo).toMatchObject({
      version: 1,
      command: c.words.join(" "),
      pod: pod.url,
    });

    // The dry run of the undo says what it would restore and sends nothing.
    pod.resetStats();
    const dry = await startPodAdmin(
      ["undo", journal, "--pod", pod.url, "--dry-run", "--only-changes", "--quiet"],
      token(pod),
    ).done;
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^Undo: .* restores \d+ items? with /m);
    expect(dry.stdout).toMatch(/^ {4}[-+] /m);
    expect(pod.stats().byOperation[c.write] ?? 0).toBe(0);
    expect(snapshot(pod)).toEqual(after);

    const undo = await startPodAdmin(
      ["undo", journal, "--pod", pod.url, "--report", `${journal}.undo-report`, "--quiet"],
      token(pod),
    ).done;
    expect(undo.stderr).toBe("");
    expect(undo.code).toBe(0);
    expect(snapshot(pod)).toEqual(before);
  });
});

describe("undo, the edges", () => {
  it("delegates: only the changes that changed something are reversed", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    seed(pod); // users i % 4 == 0 hold the delegate
    const file = join(workspace.work, "add-all.csv");
    await writeFile(file, `uid,userId,action\n${uids.map((uid) => `${uid},${DELEGATE},ADD\n`).join("")}`);
    const journal = join(workspace.work, "add-all-undo.jsonl");
    const applied = await startPodAdmin(
      [...["delegates", "apply"], file, "--pod", pod.url, "--journal", journal, "--quiet"],
      token(pod),
    ).done;
    expect(applied.code).toBe(0);
    pod.resetStats();
    const undo = await startPodAdmin(["undo", journal, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(undo.code).toBe(0);
    expect(undo.stdout).toContain("restores 75 items with delegates apply (25 recorded changes changed nothing)");
    expect(pod.stats().byOperation["POST /v1/admin/user/{uid}/delegates/update"]).toBe(75);
    for (const uid of uids) {
      expect(pod.state.delegates(uid).sort()).toEqual((uid - FIRST) % 4 === 0 ? [5n, DELEGATE] : [5n]);
    }
  });

  it("refuses --journal naming the report (it would be renamed over) and --report naming an undo journal (exit 2, nothing sent)", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    const file = join(workspace.work, "clash.csv");
    await writeFile(file, `uid,entitlement,enabled\n${FIRST},${F},true\n`);
    const same = join(workspace.work, "same.jsonl");
    const run = (args: string[]) =>
      startPodAdmin(["features", "apply", file, "--pod", pod.url, "--quiet", ...args], token(pod)).done;
    const clash = await run(["--journal", same, "--report", same]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain(`--journal ${same} is the --report file: the undo journal needs a file of its own`);
    const partial = await run(["--journal", `${same}.partial`, "--report", same]);
    expect(partial.code).toBe(2);
    expect(partial.stderr).toContain("is the --report file's .partial");

    const journal = join(workspace.work, "kept-undo.jsonl");
    expect((await run(["--journal", journal])).code).toBe(0);
    const before = await readFile(journal, "utf8");
    pod.resetStats();
    const overwrite = await run(["--report", journal]);
    expect(overwrite.code).toBe(2);
    expect(overwrite.stderr).toContain(`--report ${journal} is an undo journal (written by --journal)`);
    expect(await readFile(journal, "utf8")).toBe(before);
    expect(pod.stats().byOperation["POST /v1/admin/user/{uid}/features/update"]).toBe(0);
  });

  it("features with no value before are left as they are, with a warning naming the journal line", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    const file = join(workspace.work, "fresh.csv");
    await writeFile(file, `uid,entitlement,enabled\n${FIRST},${F},true\n${FIRST},${G},true\n`);
    pod.state.setFeatures(FIRST, { [G]: false });
    const journal = join(workspace.work, "fresh-undo.jsonl");
    expect(
      (
        await startPodAdmin(["features", "apply", file, "--pod", pod.url, "--journal", journal, "--quiet"], token(pod))
          .done
      ).code,
    ).toBe(0);
    const undo = await startPodAdmin(["undo", journal, "--pod", pod.url, "--quiet"], token(pod)).done;
    expect(undo.stderr).toBe(
      `  warning: ${journal}:2: user ${FIRST}, feature "${F}" had no value before the run; the API cannot unset it: left as it is\n`,
    );
    expect(undo.stdout).toContain(
      "  cannot undo: 1 feature the run set had no value before; the API cannot unset a feature, so they keep the value the run set\n",
    );
    expect(undo.code).toBe(1);
    expect(pod.state.features(FIRST)).toEqual({ [F]: true, [G]: false });
  });

  it("refuses an existing journal, a dry run with --journal, a malformed line and another pod's journal (exit 2, nothing sent)", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    const file = join(workspace.work, "one.csv");
    await writeFile(file, `uid,entitlement,enabled\n${FIRST},${F},true\n`);
    const existing = join(workspace.work, "existing.jsonl");
    await writeFile(existing, "");
    const taken = await startPodAdmin(["features", "apply", file, "--pod", pod.url, "--journal", existing], token(pod))
      .done;
    expect(taken.code).toBe(2);
    expect(taken.stderr).toContain(`pod-admin: --journal ${existing} exists: a journal holds one run`);
    const dry = await startPodAdmin(
      ["features", "apply", file, "--pod", pod.url, "--journal", `${existing}.2`, "--dry-run"],
      token(pod),
    ).done;
    expect(dry.code).toBe(2);
    expect(dry.stderr).toContain("a dry run writes nothing");

    const header = JSON.stringify({
      _undo: { version: 1, operation: "features", command: "features apply", pod: pod.url, created: "x" },
    });
    const bad = join(workspace.work, "bad.jsonl");
    await writeFile(bad, `${header}\n{"uid":"${FIRST}","features":[]}\n{"uid":"${FIRST}","apps":[]}\n`);
    const malformed = await startPodAdmin(["undo", bad, "--pod", pod.url], token(pod)).done;
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain(
      `pod-admin: ${bad}:3: unknown field "apps": a features journal line has uid, features, unset\n`,
    );
    const notJournal = await startPodAdmin(["undo", file, "--pod", pod.url], token(pod)).done;
    expect(notJournal.code).toBe(2);
    expect(notJournal.stderr).toContain(`pod-admin: ${file}:1: not an undo journal`);

    const other = join(workspace.work, "other.jsonl");
    await writeFile(
      other,
      `${header.replace(pod.url, "https://other.example.com/pod")}\n{"uid":"${FIRST}","features":[]}\n`,
    );
    const elsewhere = await startPodAdmin(["undo", other, "--pod", pod.url], token(pod)).done;
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.stderr).toContain(`${other}:1: this journal was written against "https://other.example.com/pod"`);
    expect(pod.stats().requests).toBe(0);
  });
});
