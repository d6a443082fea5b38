/**
 * The real `pod-admin` process on the mistakes people make in spreadsheets (issue 13): contradictions, repeated
 * or wrong headers, empty files, directories, bad URLs, huge or invisible cells. Each is refused with exit 2 and
 * nothing sent, or (identical repeats) merged with a warning.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type SimulatedPod, startSimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin } from "./cli-process.js";

let work: string;
let pod: SimulatedPod;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pod-admin-input-"));
  pod = await startSimulatedPod();
});
afterAll(async () => {
  await pod.close();
  await rm(work, { recursive: true, force: true });
});
afterEach(() => {
  pod.resetStats();
  pod.state.clear();
});

async function file(name: string, text: string | Buffer): Promise<string> {
  const path = join(work, name);
  await writeFile(path, text);
  return path;
}

const podAdmin = (args: string[]) =>
  startPodAdmin([...args, "--pod", pod.url], { env: { POD_SESSION_TOKEN: pod.currentToken() }, cwd: work }).done;

describe("contradictory rows are refused in the plan, naming both rows and both values", () => {
  it("the same user and feature with different values", async () => {
    const csv = await file(
      "features-contradiction.csv",
      "uid,entitlement,enabled\n7215545057281,canCreatePublicRoom,true\n7215545057281,canCreatePublicRoom,false\n",
    );
    const run = await podAdmin(["features", "apply", csv]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${csv}:3: column "enabled": user 7215545057281, feature "canCreatePublicRoom", is "false" here but "true" at ${csv}:2 (column "enabled")`,
    );
    expect(pod.stats().requests).toBe(0);
  });

  it("apps replace: the same app anywhere in the user's rows with different settings", async () => {
    const csv = await file(
      "replace-contradiction.csv",
      "uid,appId,listed,install\n1,djApp,true,true\n1,otherApp,true,false\n1,djApp,false,true\n",
    );
    const run = await podAdmin(["apps", "replace", csv]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${csv}:4: column "listed": user 1, app "djApp", is "false" here but "true" at ${csv}:2 (column "listed")`,
    );
    expect(pod.stats().requests).toBe(0);
  });

  it("apps patch: TRUE then FALSE for one app", async () => {
    const csv = await file("patch-contradiction.csv", "uid,appId,install\n1,djApp,TRUE\n1,djApp,FALSE\n");
    const run = await podAdmin(["apps", "patch", csv]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${csv}:3: column "install": user 1, app "djApp", is "FALSE" here but "TRUE" at ${csv}:2 (column "install")`,
    );
    expect(pod.stats().requests).toBe(0);
  });

  it("delegates: ADD and REMOVE of one delegate", async () => {
    const csv = await file("delegates-contradiction.csv", "uid,userId,action\n1,5,ADD\n2,5,ADD\n1,5,REMOVE\n");
    const run = await podAdmin(["delegates", "apply", csv]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${csv}:4: column "action": user 1, delegate 5, is "REMOVE" here but "ADD" at ${csv}:2`,
    );
    expect(pod.stats().requests).toBe(0);
  });

  it("identical repeats are merged with a warning and sent once", async () => {
    const features = await file(
      "features-repeat.csv",
      "uid,entitlement,enabled\n1,canCreatePublicRoom,true\n1,canCreatePublicRoom,TRUE\n",
    );
    const run = await podAdmin(["features", "apply", features]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`warning: ${features}:3: repeats line 2 (user 1, feature "canCreatePublicRoom")`);
    expect(run.stdout).toContain("1 user, 1 call");
    expect(pod.stats().writes).toBe(1);
    expect(pod.state.features(1)).toEqual({ canCreatePublicRoom: true });

    const delegates = await file("delegates-repeat.csv", "uid,userId,action\n1,5,ADD\n2,5,ADD\n1,5,add\n");
    const again = await podAdmin(["delegates", "apply", delegates]);
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`warning: ${delegates}:4: repeats line 2 (user 1, delegate 5, ADD): merged`);
    expect(pod.stats().writes).toBe(3); // 1 + the two distinct delegate changes
    expect(pod.state.delegates(1)).toEqual([5n]);
  });
});

describe("headers and empty files", () => {
  it("refuses a repeated header column, even where the rows would be valid", async () => {
    const csv = await file("repeated-column.csv", "uid,uid,entitlement,enabled\n403,404,canCreatePublicRoom,true\n");
    const run = await podAdmin(["features", "apply", csv]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${csv}:1: column "uid": appears twice in the header (columns 1 and 2)`);
    expect(pod.stats().requests).toBe(0);
  });

  it("refuses a wrong header with no rows, and an empty file", async () => {
    const wrong = await file("wrong-header.csv", "foo,bar\n");
    const run = await podAdmin(["features", "apply", wrong]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${wrong}:1: column "uid": missing; the header needs uid,entitlement,enabled`);

    for (const name of ["empty.csv", "empty.jsonl"]) {
      const empty = await file(name, "");
      const none = await podAdmin(["features", "apply", empty]);
      expect(none.code).toBe(2);
      expect(none.stderr).toContain(`${empty}:1: the file is empty`);
    }
    expect(pod.stats().requests).toBe(0);
  });
});

describe("usage errors exit 2, with nothing sent", () => {
  it("a directory as input", async () => {
    const dir = join(work, "a-directory.csv");
    await mkdir(dir, { recursive: true });
    const run = await podAdmin(["features", "apply", dir]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("it is a directory");
    expect(run.stderr).not.toContain("unexpected error");
  });

  it("an invalid --pod URL, even with --dry-run; its password is never printed", async () => {
    const csv = await file("ok.csv", "uid,entitlement,enabled\n1,canCreatePublicRoom,true\n");
    for (const url of ["http://admin:pw-s3cret@host:99999/pod", "http://admin:pw-s3cret@127.0.0.1:1/pod", "nope"]) {
      const run = await startPodAdmin(["features", "apply", csv, "--pod", url, "--dry-run"], { cwd: work }).done;
      expect(run.code).toBe(2);
      expect(run.stdout + run.stderr).not.toContain("s3cret");
      expect(run.stdout + run.stderr).not.toContain("admin:pw");
    }
    const invalid = await startPodAdmin(["features", "apply", csv, "--dry-run"], {
      cwd: work,
      env: { POD_URL: "http://admin:pw-s3cret@host:99999/pod" },
    }).done;
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('POD_URL is not a valid URL: "http://host:99999/pod"');
  });
});

describe("messages quote at most ~80 characters of a cell, escaped", () => {
  it("a 10 MB cell, a 100 kB cell and binary junk do not reach the terminal", async () => {
    const junk = Buffer.from("\x1b[31m\x00\x07junk\xff\xfe", "latin1");
    const rows = `uid,entitlement,enabled\n1,a,${"9".repeat(100_000)}\n2,b,`;
    const csv = await file("junk.csv", Buffer.concat([Buffer.from(rows), junk, Buffer.from("\n")]));
    const run = await podAdmin(["features", "apply", csv]);
    expect(run.code).toBe(2);
    expect(run.stderr.length).toBeLessThan(1_000);
    expect(run.stderr).toContain(`got "${"9".repeat(80)}"… (99,920 more characters)`);
    expect(run.stderr).toContain('got "\\u001b[31m\\u0000\\u0007junk\\ufffd\\ufffd"');
    // No control character but the line breaks reaches the terminal.
    expect([...run.stderr].filter((c) => c !== "\n" && (c < " " || c === "\x7f"))).toEqual([]);

    const huge = await file("huge.csv", `uid,entitlement,enabled\n1,a,true\n2,b,${"9".repeat(10_000_000)}\n`);
    const big = await podAdmin(["features", "apply", huge]);
    expect(big.code).toBe(2);
    expect(big.stderr.length).toBeLessThan(1_000);
    expect(big.stderr).toContain(`${huge}:3: a row longer than 1 MiB starts on this line`);
  });

  it("a zero-width space in a uid is shown as \\u200b", async () => {
    const csv = await file("zwsp.csv", "uid,entitlement,enabled\n7215\u200b545057281,canCreatePublicRoom,true\n");
    const run = await podAdmin(["features", "apply", csv]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('expected a positive int64 user id, got "7215\\u200b545057281"');
  });
});

describe("smaller ones", () => {
  it('says "1 user, 1 call" and "1 invalid row"', async () => {
    const csv = await file("one.csv", "uid,entitlement,enabled\n1,canCreatePublicRoom,true\n2,x,maybe\n");
    const run = await podAdmin(["features", "apply", csv, "--dry-run"]);
    expect(run.stdout).toContain("1 user, 1 call (POST features/update)");
    expect(run.stdout).toContain("1 invalid row\n");
  });

  it("an unterminated quote is reported at the line where it opens", async () => {
    const csv = await file("quote.csv", 'uid,entitlement,enabled\n1,a,true\n2,"b,true\n3,c,true\n4,d,true\n');
    const run = await podAdmin(["features", "apply", csv]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${csv}:3: a quote opens on this line and is never closed`);
  });
});
