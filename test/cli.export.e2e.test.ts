/**
 * `features export`, `delegates export`, `apps export` through the real pod-admin process against the simulator:
 * the export is in the apply layout, so applying it back with `--only-changes` sends zero writes (CSV and JSON
 * Lines); users named by uid, email or username, the unknown ones listed with their line; the output file's rules.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-export-");
const USERS = 100;
const FIRST = 7_000_000;
const uids = Array.from({ length: USERS }, (_, i) => FIRST + i);
const DELEGATE = 9007199254740993n;
const POD_USERS = [...uids, DELEGATE];

function seed(pod: SimulatedPod) {
  for (const uid of uids) {
    const i = uid - FIRST;
    pod.state.setFeatures(uid, { canCreatePublicRoom: i % 2 === 0, sendFilesEnabled: i % 3 === 0 });
    if (i % 4 !== 0) pod.state.setDelegates(uid, i % 2 === 0 ? [DELEGATE, 5n] : [5n]);
    pod.state.setApps(
      uid,
      i % 5 === 0
        ? []
        : [
            { appId: "djApp", listed: i % 2 === 0, install: true },
            {
              appId: "news",
              appName: 'News, "daily"',
              listed: true,
              install: false,
              products: [
                { name: "pro", type: "premium", subscribed: i % 3 === 0, sku: "S-1" },
                { name: "basic", type: "default", subscribed: true, appId: "news" },
              ],
            },
          ],
    );
  }
}

const CASES = [
  {
    verb: "features",
    apply: ["features", "apply"],
    header: "uid,entitlement,enabled",
    write: "POST /v1/admin/user/{uid}/features/update",
  },
  {
    verb: "delegates",
    apply: ["delegates", "apply"],
    header: "uid,userId,action",
    write: "POST /v1/admin/user/{uid}/delegates/update",
  },
  {
    verb: "apps",
    apply: ["apps", "replace"],
    header: "uid,appId,listed,install,appName,productName,productType,productSku,productSubscribed,productAppId",
    write: "POST /v1/admin/user/{uid}/app/entitlement/list",
  },
];

const token = (pod: SimulatedPod) => ({ env: { POD_SESSION_TOKEN: pod.currentToken() } });

describe.each(CASES)("$verb export", (c) => {
  it.each(["csv", "jsonl"])("--all as %s, applied back with --only-changes, sends zero writes", async (format) => {
    const pod = await workspace.simulate({ users: POD_USERS });
    seed(pod);
    const out = join(workspace.work, `${c.verb}-all.${format}`);
    const exported = await startPodAdmin([c.verb, "export", "--all", "--pod", pod.url, "--out", out], token(pod)).done;
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/^Exported 101 users \(\d+ (rows|lines)\) to /m);
    const text = await readFile(out, "utf8");
    if (format === "csv") expect(text.split("\n")[0]).toBe(c.header);
    else expect(JSON.parse(text.split("\n")[0] as string)).toHaveProperty("uid");
    expect(await readdir(workspace.work)).not.toContain(`${c.verb}-all.${format}.partial`);
    const before = pod.stats().byOperation;
    const applied = await startPodAdmin(
      [...c.apply, out, "--pod", pod.url, "--only-changes", "--report", `${out}.report`, "--quiet"],
      token(pod),
    ).done;
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/, 0 differ, \d+ already hold it\n/);
    expect(pod.stats().byOperation[c.write] ?? 0).toBe(before[c.write] ?? 0);
    expect(pod.stats().byOperation[c.write] ?? 0).toBe(0);
  });
});

describe("export, the users named in a file", () => {
  it("takes uids, emails or usernames (looked up), lists the unknown ones with their line, exits 1", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    seed(pod);
    const emails = join(workspace.work, "emails.csv");
    await writeFile(
      emails,
      `name,email\nA,user.${FIRST + 1}@example.com\nB,nobody@example.com\nC,USER.${FIRST + 2}@EXAMPLE.COM\n`,
    );
    const run = await startPodAdmin(["features", "export", emails, "--pod", pod.url], token(pod)).done;
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(
      "uid,entitlement,enabled\n" +
        `${FIRST + 1},canCreatePublicRoom,false\n${FIRST + 1},sendFilesEnabled,false\n` +
        `${FIRST + 2},canCreatePublicRoom,true\n${FIRST + 2},sendFilesEnabled,false\n`,
    );
    expect(run.stderr).toBe(
      `  ${emails}:3: no user with email "nobody@example.com"\nExported 2 users (4 rows); 1 not found.\n`,
    );
    expect(pod.stats().byOperation["GET /v3/users"]).toBe(1);

    const usernames = join(workspace.work, "names.jsonl");
    await writeFile(usernames, `{"username":"user.${FIRST + 3}"}\n{"uid":${FIRST + 5}}\n`);
    const json = await startPodAdmin(
      ["delegates", "export", usernames, "--pod", pod.url, "--format", "jsonl"],
      token(pod),
    ).done;
    expect(json.code).toBe(0);
    expect(json.stdout.trim().split("\n").sort()).toEqual([
      `{"uid":"${FIRST + 3}","userId":"5","action":"ADD"}`,
      `{"uid":"${FIRST + 5}","userId":"5","action":"ADD"}`,
    ]);
  });

  it("reads the users from standard input (-) as apply does, and refuses a uid written 1e3 in JSON Lines", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    seed(pod);
    const run = await startPodAdmin(["features", "export", "-", "--pod", pod.url], {
      ...token(pod),
      stdin: `uid\n${FIRST + 1}\n`,
    }).done;
    expect(run.stderr).toBe("Exported 1 user (2 rows).\n");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `uid,entitlement,enabled\n${FIRST + 1},canCreatePublicRoom,false\n${FIRST + 1},sendFilesEnabled,false\n`,
    );
    const loose = join(workspace.work, "loose.jsonl");
    await writeFile(loose, '{"uid":7e6}\n');
    const refused = await startPodAdmin(["features", "export", loose, "--pod", pod.url], token(pod)).done;
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${loose}:1: field "uid" is written 7e6, which JSON reads as 7000000`);
  });

  it("refuses a bad file before reading the pod, and an --out that is a directory (exit 2)", async () => {
    const pod = await workspace.simulate({ users: POD_USERS });
    const bad = join(workspace.work, "bad.csv");
    await writeFile(bad, `uid\n${FIRST}\n12x\n\n`);
    const run = await startPodAdmin(["features", "export", bad, "--pod", pod.url], token(pod)).done;
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`pod-admin: ${bad}:3: column "uid": expected a positive int64 user id, got "12x"`);
    const noColumn = join(workspace.work, "no-column.csv");
    await writeFile(noColumn, `name\nA\n`);
    const missing = await startPodAdmin(["features", "export", noColumn, "--pod", pod.url], token(pod)).done;
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`${noColumn}:1: the header needs a uid, email or username column`);
    const dir = join(workspace.work, "out-dir");
    await mkdir(dir);
    const toDir = await startPodAdmin(["features", "export", "--all", "--pod", pod.url, "--out", dir], token(pod)).done;
    expect(toDir.code).toBe(2);
    expect(toDir.stderr).toContain(`--out ${dir} is a directory`);
    const both = await startPodAdmin(["features", "export", bad, "--all", "--pod", pod.url], token(pod)).done;
    expect(both.code).toBe(2);
    expect(pod.stats().requests).toBe(0);
  });
});
