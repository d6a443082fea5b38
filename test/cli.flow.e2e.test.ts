/**
 * Issue 23, the CLI side: `--max-rate N` (a ceiling the learned rate never exceeds) and `--rate N` (a known limit to
 * start at), with POD_MAX_RATE and POD_RATE; the summary and the progress log say what rate the pod admitted and the
 * share of requests answered 429. The ceiling is read from the simulated pod's own counts (its timeline of admitted
 * calls in 100 ms steps) as an average a loaded machine cannot inflate; that the pace was the ceiling, not lower,
 * from the progress log. No assertion depends on how fast the machine is.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type ApplyArgs, parseApplyArgs } from "../src/cli/args.js";
import type { SimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-flow-");
const FEATURE = "canCreatePublicRoom";

async function usersCsv(name: string, users: number): Promise<string> {
  const path = join(workspace.work, name);
  const rows = Array.from({ length: users }, (_, i) => `${1000 + i},${FEATURE},true`);
  await writeFile(path, `uid,entitlement,enabled\n${rows.join("\n")}\n`);
  return path;
}

/**
 * The calls the pod admitted per second, from its first admitted call to its last (its timeline's 100 ms steps,
 * partial ones counted whole, so the figure errs low). A client paced at N sends its k-th call no sooner than
 * (k − 2) / N after its first, so N plus a little is the most this can read, however late calls arrive on a loaded
 * machine: unlike the busiest second, a burst of calls held up and delivered together cannot inflate it.
 */
async function admittedPerSecond(pod: SimulatedPod): Promise<number> {
  const timeline = (await (await fetch(`${pod.origin}/__simulator/timeline`)).json()) as { admitted: number[] };
  const first = timeline.admitted.findIndex((n) => n > 0);
  const last = timeline.admitted.findLastIndex((n) => n > 0);
  const admitted = timeline.admitted.reduce((a, b) => a + b, 0);
  return admitted / ((last - first + 1) / 10);
}

describe("--max-rate and --rate, through the process", () => {
  it("--max-rate 200 against a pod admitting 1,000/s: paced at 200/s, at most 200 calls a second reach the pod, no 429", async () => {
    const pod = await workspace.simulate({ rateLimit: { perSecond: 1000, windowMs: 1000 } });
    const csv = await usersCsv("max-rate.csv", 1200);
    const run = await startPodAdmin(
      ["features", "apply", csv, "--pod", pod.url, "--max-rate", "200", "--report", join(workspace.work, "r1.jsonl")],
      { env: { POD_SESSION_TOKEN: pod.currentToken() } },
    ).done;
    expect(run.code, run.stderr).toBe(0);
    const stats = pod.stats();
    // The 1,200 writes and the plan's guard reads: the feature list and 12 disabled-users lookups (100 uids each).
    expect(stats.rateLimiter).toEqual({ admitted: 1213, refused: 0 });
    expect(stats.byStatus[429]).toBeUndefined();
    // The ceiling holds at the pod, whatever the machine's load (2 % for the edges of the timeline's steps).
    expect(await admittedPerSecond(pod)).toBeLessThanOrEqual(204);
    // The pace was the ceiling itself, not lower: the progress log says so (a figure of the client, not a timing).
    expect(run.stderr).toMatch(/progress: .* · paced at 200\/s/);
    // The summary says what the pod admitted, and that nothing was answered 429.
    const summary = /Flow control: the pod admitted (\d+) calls\/s; 0 of 1200 requests \(0\.0 %\) answered 429\./.exec(
      run.stdout,
    );
    expect(summary, run.stdout).not.toBeNull();
    expect(Number(summary?.[1])).toBeLessThanOrEqual(200);
  });

  it("POD_MAX_RATE is --max-rate: paced at 100/s, at most 100 calls a second reach a pod admitting 1,000/s", async () => {
    const pod = await workspace.simulate({ rateLimit: { perSecond: 1000, windowMs: 1000 } });
    const csv = await usersCsv("env.csv", 300);
    const run = await startPodAdmin(["features", "apply", csv, "--pod", pod.url], {
      env: { POD_SESSION_TOKEN: pod.currentToken(), POD_MAX_RATE: "100" },
    }).done;
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/progress: .* · paced at 100\/s/);
    // The 300 writes, the feature list and 3 disabled-users lookups.
    expect(pod.stats().rateLimiter).toEqual({ admitted: 304, refused: 0 });
    expect(await admittedPerSecond(pod)).toBeLessThanOrEqual(102);
  });

  it("POD_RATE starts at a known limit; the progress log and the summary state the pod's 429s as the pod counted them", async () => {
    const pod = await workspace.simulate({ rateLimit: { perSecond: 50, windowMs: 100 } });
    const csv = await usersCsv("rate.csv", 300);
    const run = await startPodAdmin(["features", "apply", csv, "--pod", pod.url], {
      env: { POD_SESSION_TOKEN: pod.currentToken(), POD_RATE: "40" },
    }).done;
    expect(run.code, run.stderr).toBe(0);
    const stats = pod.stats();
    expect(stats.rateLimiter.admitted).toBe(304); // and the plan's 4 guard reads
    // Paced at 40/s from the first call (probing gently above it: 41.5/s a second in), where a client learning the
    // limit takes all 50 of the pod's first second.
    const timeline = (await (await fetch(`${pod.origin}/__simulator/timeline`)).json()) as { admitted: number[] };
    expect(timeline.admitted.slice(0, 10).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(42);
    const refused = stats.rateLimiter.refused;
    const requests = 300 + refused;
    const share = ((100 * refused) / requests).toFixed(1).replace(".", "\\.");
    expect(run.stdout).toMatch(
      new RegExp(
        `Flow control: the pod admitted \\d+ calls/s; ${refused} of ${requests} requests \\(${share} %\\) answered 429\\.`,
      ),
    );
    if (refused > 0) expect(run.stderr).toMatch(/progress: .* · 429: \d+\.\d % of \d+ requests/);
  });
});

describe("--max-rate and --rate, as options", () => {
  const base = ["features", "apply", "users.csv", "--pod", "https://acme.symphony.com/pod"];
  const parse = (argv: string[], env: Record<string, string> = {}) =>
    parseApplyArgs([...base, ...argv], env) as ApplyArgs;

  it("are read from the flags, else POD_MAX_RATE and POD_RATE; the flags win; default: neither", () => {
    expect(parse([])).toMatchObject({ maxRate: undefined, rate: undefined });
    expect(parse(["--max-rate", "200", "--rate", "150.5"])).toMatchObject({ maxRate: 200, rate: 150.5 });
    expect(parse([], { POD_MAX_RATE: "300", POD_RATE: "100" })).toMatchObject({ maxRate: 300, rate: 100 });
    expect(parse(["--max-rate", "250"], { POD_MAX_RATE: "300" })).toMatchObject({ maxRate: 250 });
    expect(parse([], { POD_MAX_RATE: "" })).toMatchObject({ maxRate: undefined });
  });

  it.each([
    [["--max-rate", "0"], {}, '--max-rate must be a number of calls per second > 0, got "0"'],
    [["--rate", "fast"], {}, '--rate must be a number of calls per second > 0, got "fast"'],
    [["--max-rate", ""], {}, "--max-rate must be a number of calls per second > 0"],
    [[], { POD_MAX_RATE: "-5" }, 'POD_MAX_RATE must be a number of calls per second > 0, got "-5"'],
    [[], { POD_RATE: "Infinity" }, "POD_RATE must be a number of calls per second > 0"],
    [["--rate", "500", "--max-rate", "200"], {}, "--rate 500 is above --max-rate 200"],
  ])("%j %j is a usage error: %s", (argv, env, message) => {
    expect(() => parse(argv, env)).toThrow(message);
  });
});
