/**
 * Issue 21 through the real `pod-admin` process: a session token with a trailing CR (item 9), loose user ids and
 * overlong lines in JSON Lines input, and entitlement names holding control characters (item 11).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-hardening-");

const podAdmin = (args: string[], env: Record<string, string | undefined> = {}) =>
  startPodAdmin(args, { env, cwd: workspace.work }).done;

const FEATURE = '"features":[{"entitlement":"canCreatePublicRoom","enabled":true}]';

describe("pod-admin: item 9, POD_SESSION_TOKEN read from a CRLF file", () => {
  it("is refused with exit 2 before anything is sent, without printing the token", async () => {
    const pod = await workspace.simulate();
    const file = join(workspace.work, "token.jsonl");
    await writeFile(file, `{"uid":1,${FEATURE}}\n`);
    const token = `${pod.currentToken()}\r`;
    const run = await podAdmin(["features", "apply", file, "--pod", pod.url], { POD_SESSION_TOKEN: token });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "POD_SESSION_TOKEN ends with a carriage return (\\r): was it read from a file with Windows line endings, or " +
        "with a final newline? Trim it",
    );
    expect(run.stderr).not.toContain(pod.currentToken());
    expect(run.stdout).not.toContain(pod.currentToken());
    expect(pod.stats().requests).toBe(0);
  });
});

describe("pod-admin: item 11, loose numbers and long lines in JSON Lines input", () => {
  it('{"uid": 1e3} and {"uid": 3.0} are refused with file:line, the field and the rule; nothing is sent', async () => {
    const pod = await workspace.simulate();
    const file = join(workspace.work, "loose.jsonl");
    await writeFile(file, `{"uid":7,${FEATURE}}\n{"uid":1e3,${FEATURE}}\n{"uid":3.0,${FEATURE}}\n`);
    const run = await podAdmin(["features", "apply", file, "--pod", pod.url], {
      POD_SESSION_TOKEN: pod.currentToken(),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'loose.jsonl:2: field "uid" is written 1e3, which JSON reads as 1000: a user id is written with digits only',
    );
    expect(run.stderr).toContain(
      'loose.jsonl:3: field "uid" is written 3.0, which JSON reads as 3: a user id is written with digits only',
    );
    expect(pod.stats().writes).toBe(0);
  });

  it("a line over 1 MiB (a 53 MB one) is refused with its line number; nothing is sent", async () => {
    const pod = await workspace.simulate();
    const file = join(workspace.work, "long.jsonl");
    const long = `{"uid":1,"features":[${'{"entitlement":"canCreatePublicRoom","enabled":true},'.repeat(1_000_000)}]}`;
    await writeFile(file, `{"uid":2,${FEATURE}}\n${long}\n`);
    const run = await podAdmin(["features", "apply", file, "--pod", pod.url], {
      POD_SESSION_TOKEN: pod.currentToken(),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "long.jsonl:2: the line is longer than 1 MiB, the longest line read: is the file JSON Lines, one item per line?",
    );
    expect(pod.stats().writes).toBe(0);
  });

  it("an entitlement name holding a NUL or a line feed is refused with its line before anything is sent", async () => {
    const pod = await workspace.simulate();
    const file = join(workspace.work, "names.jsonl");
    await writeFile(
      file,
      `{"uid":1,${FEATURE}}\n` +
        '{"uid":2,"features":[{"entitlement":"canCreate\\u0000PublicRoom","enabled":true}]}\n' +
        '{"uid":3,"features":[{"entitlement":"canCreatePublicRoom\\n","enabled":true}]}\n',
    );
    const run = await podAdmin(["features", "apply", file, "--pod", pod.url], {
      POD_SESSION_TOKEN: pod.currentToken(),
    });
    expect(run.stderr).toContain("names.jsonl:2");
    expect(run.stderr).toContain("features[0].entitlement: holds a control character (U+0000) at position 9");
    expect(run.stderr).toContain("names.jsonl:3");
    expect(run.stderr).toContain("features[0].entitlement: holds a control character (U+000A) at position 19");
    expect(run.code).toBe(2);
    expect(pod.stats().writes).toBe(0);
  });

  it("a CSV entitlement cell holding a NUL is refused with its line too", async () => {
    const pod = await workspace.simulate();
    const file = join(workspace.work, "names.csv");
    await writeFile(file, "uid,entitlement,enabled\n1,canCreatePublicRoom,true\n2,can\u0000Create,true\n");
    const run = await podAdmin(["features", "apply", file, "--pod", pod.url], {
      POD_SESSION_TOKEN: pod.currentToken(),
    });
    expect(run.stderr).toContain("names.csv:3");
    expect(run.stderr).toContain("features[0].entitlement: holds a control character (U+0000) at position 3");
    expect(run.code).toBe(2);
    expect(pod.stats().writes).toBe(0);
  });
});
