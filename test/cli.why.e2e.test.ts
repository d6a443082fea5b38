/**
 * Issue 22, "Why, on screen", through the real `pod-admin` process: with --quiet, a run's failures are grouped by
 * cause on stderr, one line per cause with its exact count and examples, and calls never sent are counted apart
 * from the ones the pod answered. Also: after Ctrl-C the summary says "Interrupted after", and a run whose report
 * was removed (everything applied) says so.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type CliRun, featuresCsv, startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-why-");
const F = "canCreatePublicRoom";
const WRITE = "POST /v1/admin/user/{uid}/features/update";
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const usersCsv = (name: string, n: number) => featuresCsv(workspace.work, name, n, F);

/** The "Done in …" line's counts. */
function counts(run: CliRun) {
  const match = /(\d+) succeeded, (\d+) failed, (\d+) not attempted/.exec(run.stdout);
  expect(match, run.stdout).not.toBeNull();
  const [succeeded, failed, notAttempted] = (match as RegExpExecArray).slice(1).map(Number) as [number, number, number];
  return { succeeded, failed, notAttempted };
}

/** The stderr lines that start with `  N failed: ` or `  N not sent: `. */
const causeLines = (run: CliRun) => run.stderr.split("\n").filter((line) => /^ {2}\d+ (failed|not sent): /.test(line));

async function listen(server: Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

describe("failures grouped by cause on stderr, with --quiet", () => {
  it("an unknown uid: one line, 404 user not found, with the uid, its input line and the pod's message", async () => {
    const pod = await workspace.simulate({ users: [1, 2, 3, 5, 6] }); // user 4 does not exist
    const csv = await usersCsv("unknown.csv", 6);
    const run = await startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--quiet"], {
      env: { POD_SESSION_TOKEN: pod.currentToken() },
      cwd: workspace.work,
    }).done;
    expect(run.code).toBe(1);
    expect(counts(run)).toEqual({ succeeded: 5, failed: 1, notAttempted: 0 });
    expect(causeLines(run)).toEqual([
      '  1 failed: 404 user not found; e.g. user 4 (line 5, HTTP 404: "user 4 not found")',
    ]);
    expect(run.stderr).toContain("Not applied, by cause:\n");
  });

  it("a bad token: the calls the pod saw are failed (401), the rest not sent, and the line says why", async () => {
    const pod = await workspace.simulate();
    const users = 200;
    const csv = await usersCsv("bad-token.csv", users);
    const run = await startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--quiet"], {
      env: { POD_SESSION_TOKEN: "not-the-token" },
      cwd: workspace.work,
    }).done;
    expect(run.code).toBe(1);
    const seen = pod.stats().byOperation[WRITE] ?? 0;
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(users);
    expect(counts(run)).toEqual({ succeeded: 0, failed: seen, notAttempted: users - seen });
    const lines = causeLines(run);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(`^ {2}${seen} failed: 401 session refused; e\\.g\\. user \\d+ \\(line \\d+, HTTP 401`),
    );
    expect(lines[1]).toBe(`  ${users - seen} not sent: the pod refused the session token (401), so the run stopped`);
    expect(run.stderr).not.toContain("not-the-token");
  });

  it("a 403 run (the service account lacks the role): the calls answered 403, the rest not sent", async () => {
    let answered = 0;
    const port = await listen(
      createServer((req, res) => {
        // The writes: the plan's guard reads (feature list, disabled users) are answered 403 too, not counted.
        if (req.url?.endsWith("/features/update")) answered++;
        req.resume();
        req.on("end", () => {
          const body = JSON.stringify({ code: 403, message: "Caller lacks necessary entitlement" });
          res.writeHead(403, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
          res.end(body);
        });
      }),
    );
    const users = 500;
    const csv = await usersCsv("forbidden.csv", users);
    const run = await startPodAdmin(["features", "apply", csv, "--pod", `http://127.0.0.1:${port}/pod`, "--quiet"], {
      env: { POD_SESSION_TOKEN: "a-token-without-the-role" },
      cwd: workspace.work,
    }).done;
    expect(run.code).toBe(1);
    expect(counts(run)).toEqual({ succeeded: 0, failed: answered, notAttempted: users - answered });
    const lines = causeLines(run);
    expect(lines[0]).toMatch(
      new RegExp(
        `^ {2}${answered} failed: 403 forbidden; e\\.g\\. user \\d+ \\(line \\d+, HTTP 403: "Caller lacks necessary entitlement"\\)`,
      ),
    );
    expect(lines.slice(1)).toEqual([
      `  ${users - answered} not sent: the pod refused every call (403), so the run stopped`,
    ]);
  });

  it("a pod that is down (closed port): could not reach the pod (ECONNREFUSED), counts matching the summary", async () => {
    const probe = createServer();
    const port = await listen(probe);
    servers.pop();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const users = 300;
    const csv = await usersCsv("down.csv", users);
    const log = join(workspace.work, "down.log.jsonl");
    const run = await startPodAdmin(
      ["features", "apply", csv, "--pod", `http://127.0.0.1:${port}/pod`, "--quiet", "--log-file", log],
      { env: { POD_SESSION_TOKEN: "a-token" }, cwd: workspace.work },
    ).done;
    expect(run.code).toBe(1);
    const { succeeded, failed, notAttempted } = counts(run);
    expect(succeeded).toBe(0);
    expect(failed + notAttempted).toBe(users);
    const lines = causeLines(run);
    // The plan's guard reads (feature list, disabled users) meet the closed port first and open the breaker, so
    // the writes are usually never sent; any that were are failures of the same cause.
    if (failed > 0) {
      expect(lines.shift()).toMatch(
        new RegExp(
          `^ {2}${failed} failed: could not reach the pod \\(ECONNREFUSED\\); e\\.g\\. user \\d+ \\(line \\d+\\), `,
        ),
      );
    }
    // The log file says what happened to each attempt: refused connections, retried.
    const retries = (await readFile(log, "utf8"))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { event: string; why?: string; path?: string });
    expect(retries.length).toBeGreaterThan(0);
    expect(retries.find((line) => line.event === "pod.retry")).toMatchObject({ why: "ECONNREFUSED" });
    expect(lines).toEqual(
      notAttempted > 0
        ? [`  ${notAttempted} not sent: the pod stopped answering (ECONNREFUSED), so the run stopped`]
        : [],
    );
  }, 40_000);
});

describe("the summary's rough edges", () => {
  it("after Ctrl-C the summary says Interrupted after, not Done", async () => {
    const pod = await workspace.simulate({ faults: { latencyMs: 20 } });
    const csv = await usersCsv("interrupt.csv", 2000);
    const { child, done } = startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--concurrency", "10"], {
      env: { POD_SESSION_TOKEN: pod.currentToken() },
      cwd: workspace.work,
    });
    const started = Date.now();
    while ((pod.stats().byOperation[WRITE] ?? 0) < 50 && Date.now() - started < 20_000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    child.kill("SIGINT");
    const run = await done;
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /^Interrupted after \d+\.\d s \(\d+ calls\/s\): \d+ succeeded, 0 failed, \d+ not attempted\.$/m,
    );
    expect(run.stdout).not.toMatch(/^Done/m);
    const { notAttempted } = counts(run);
    expect(notAttempted).toBeGreaterThan(0);
    expect(causeLines(run)).toEqual([`  ${notAttempted} not sent: interrupted (Ctrl-C)`]);
  });

  it("a run that applied everything says its report was removed, and it is gone", async () => {
    const pod = await workspace.simulate();
    const csv = await usersCsv("all-good.csv", 20);
    const run = await startPodAdmin(["features", "apply", csv, "--pod", pod.url, "--quiet"], {
      env: { POD_SESSION_TOKEN: pod.currentToken() },
      cwd: workspace.work,
    }).done;
    expect(run.code).toBe(0);
    const named = /^Report: (\S+) \(kept up to date/m.exec(run.stdout)?.[1] as string;
    expect(named).toBeDefined();
    expect(existsSync(join(workspace.work, named))).toBe(false);
    expect(run.stdout).toContain(`Report: none kept (every call applied; ${named} was removed).\n`);
    expect(run.stderr).not.toContain("by cause");
  });
});
