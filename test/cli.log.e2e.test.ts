/**
 * Issue 22, the CLI's log, through the real `pod-admin` process: `-v` and `-vv` on stderr, `--log-file FILE` and
 * `POD_ADMIN_LOG` as JSON Lines (0600, a new file only), with the login, session refreshes and each request, and
 * never the session token, the JWT or the private key.
 */
import { generateKeyPairSync } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { featuresCsv, startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-log-");
const F = "canCreatePublicRoom";
const WRITE = "POST /v1/admin/user/{uid}/features/update";

const usersCsv = (name: string, n: number) => featuresCsv(workspace.work, name, n, F);

type LogLine = Record<string, unknown> & { time: string; level: string; event: string; message: string };
const logLines = async (path: string): Promise<LogLine[]> =>
  (await readFile(path, "utf8"))
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogLine);

describe("pod-admin -v, --log-file, POD_ADMIN_LOG", () => {
  it("--log-file -vv: JSON Lines, 0600, with the RSA login, the session refreshes and every request; no secret", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pod = await workspace.simulate({
      login: { publicKey: publicKey.export({ type: "spki", format: "pem" }).toString() },
      expireTokenAfterRequests: 30,
    });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const keyFile = join(workspace.work, "bot.pem");
    await writeFile(keyFile, pem, { mode: 0o600 });
    const csv = await usersCsv("rsa.csv", 100);
    const log = join(workspace.work, "rsa.log.jsonl");
    const run = await startPodAdmin(
      [
        ...["features", "apply", csv, "--pod", pod.url, "--quiet", "--concurrency", "4"],
        ...["--username", "provisioning-bot", "--private-key", keyFile, "--log-file", log, "-vv"],
      ],
      { cwd: workspace.work },
    ).done;
    expect(run.code).toBe(0);
    expect((await stat(log)).mode & 0o777).toBe(0o600);
    const lines = await logLines(log);
    for (const line of lines) {
      expect(Number.isNaN(Date.parse(line.time))).toBe(false);
      expect(["debug", "info", "warn", "error"]).toContain(line.level);
    }
    const logins = lines.filter((line) => line.event === "login.success");
    expect(logins.length).toBeGreaterThanOrEqual(2); // the first login, and one after each token expired
    expect(logins[0]).toMatchObject({ level: "info", kind: "rsa", path: "/login/pubkey/authenticate", status: 200 });
    expect(lines.some((line) => line.event === "session.refresh")).toBe(true);
    // One answer event for each call the pod saw (its 401s included), each with the path's template.
    const answers = lines.filter((line) => line.event === "pod.answer" && line.path !== "/login/pubkey/authenticate");
    const writes = answers.filter((line) => line.path === "/v1/admin/user/{uid}/features/update");
    expect(writes).toHaveLength(pod.stats().byOperation[WRITE] as number);
    expect(writes.filter((line) => line.status === 200)).toHaveLength(100);
    // The others are the plan's guard reads: the feature list and the disabled-user lookup.
    expect(new Set(answers.map((line) => `${line.method} ${line.path}`))).toEqual(
      new Set(["POST /v1/admin/user/{uid}/features/update", "GET /v1/admin/system/features/list", "GET /v3/users"]),
    );
    // stderr at -vv: the same events, one line each.
    expect(run.stderr).toMatch(/^pod-admin: info login\.success: rsa login to 127\.0\.0\.1:\d+ succeeded$/m);
    expect(run.stderr).toMatch(
      /^pod-admin: debug pod\.request: POST \/v1\/admin\/user\/\{uid\}\/features\/update for user \d+ sent/m,
    );
    const written = await readFile(log, "utf8");
    expect(written).not.toContain(pod.currentToken());
    expect(written).not.toMatch(/eyJ[\w-]+\.[\w-]+/); // a JWT
    expect(written).not.toContain(pem.split("\n")[1] as string);
    expect(run.stderr).not.toContain(pod.currentToken());
  });

  it("-v: info on stderr (the session breaker, once), no request lines; without -v nothing of the log", async () => {
    const pod = await workspace.simulate();
    const csv = await usersCsv("refused.csv", 50);
    const verbose = await startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--quiet", "-v"], {
      env: { POD_SESSION_TOKEN: "not-the-token" },
      cwd: workspace.work,
    }).done;
    expect(verbose.code).toBe(1);
    const opened = verbose.stderr.split("\n").filter((line) => line.startsWith("pod-admin: warn breaker.open: "));
    expect(opened).toEqual([
      "pod-admin: warn breaker.open: the session breaker opened: The pod refused the session token and there is no " +
        "provider to renew it: create the client with a fresh token, or with a provider (e.g. rsaAuthentication)",
    ]);
    expect(verbose.stderr).not.toContain("debug pod.request");
    expect(verbose.stderr).not.toContain("not-the-token");

    const quiet = await startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--quiet"], {
      env: { POD_SESSION_TOKEN: "not-the-token" },
      cwd: workspace.work,
    }).done;
    expect(quiet.stderr).not.toContain("pod-admin: warn");
  });

  it("POD_ADMIN_LOG=FILE logs as --log-file does (info); a file that exists is refused, exit 2, nothing sent", async () => {
    const pod = await workspace.simulate();
    const csv = await usersCsv("env.csv", 10);
    const log = join(workspace.work, "env.log.jsonl");
    const first = await startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--quiet"], {
      env: { POD_SESSION_TOKEN: pod.currentToken(), POD_ADMIN_LOG: log },
      cwd: workspace.work,
    }).done;
    expect(first.code).toBe(0);
    expect((await stat(log)).mode & 0o777).toBe(0o600);
    expect((await logLines(log)).filter((line) => line.level === "debug")).toEqual([]); // info unless -vv

    pod.resetStats();
    const again = await startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--quiet", "--log-file", log], {
      env: { POD_SESSION_TOKEN: pod.currentToken() },
      cwd: workspace.work,
    }).done;
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`pod-admin: cannot create the log file: ${log} exists: name a new file`);
    expect(pod.stats().requests).toBe(0);
  });
});
