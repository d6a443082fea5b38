/**
 * The directory section of `npm run bench` (issue 14): what provisioning by email and `--only-changes` cost.
 *
 * Against one simulated pod process (no rate limit, so the figures are the client's and the pod's own costs):
 * - **lookup**: `pod.users.lookup({ emails })` of N users (100 a call) against `pod.bulk.updateFeatures` of the same
 *   N users, same process, same pod: users resolved per second, and how many times faster than writing them;
 * - **the CLI** (`pod-admin features apply`, compiled, one process per run), on N users each:
 *   1. a uid-keyed file, every user changed (the baseline);
 *   2. the same file keyed by email (the plan resolves the emails first);
 *   3. `--only-changes` where every user already holds the state (N reads, no write);
 *   4. `--only-changes` where 10 % of users differ (N reads, N/10 writes);
 *   5. `--only-changes` where every user differs (N reads, N writes): the read-before-write overhead.
 *   Each run's wall time is reported with its ratio to run 1, and the calls the pod answered by operation (from
 *   `GET /__simulator/stats`), so the reads and writes each run made are visible.
 *
 * Knobs: BENCH_DIRECTORY_USERS (default 20000).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { BUILD_DIR, fmt, type PodProcess, runCase, startPodProcess } from "./lib.js";

/** One CLI run of the section. */
export interface DirectoryCliRun {
  label: string;
  seconds: number;
  /** Wall time over run 1's. */
  ratio: number;
  reads: number;
  writes: number;
  lookups: number;
}

/** What the section measured. */
export interface DirectoryResult {
  users: number;
  lookupUsersPerSecond: number;
  lookupCalls: number;
  writeUsersPerSecond: number;
  cli: DirectoryCliRun[];
}

const FEATURE = "canCreatePublicRoom";
const READ = "GET /v1/admin/user/{uid}/features";
const WRITE = "POST /v1/admin/user/{uid}/features/update";
const LOOKUP = "GET /v3/users";

/** Synthetic directory entries of the simulated pod: user.<uid>@example.com resolves to <uid>. */
const emailOf = (uid: bigint) => `user.${uid}@example.com`;

async function writeFile(path: string, header: string, rows: Iterable<string>): Promise<void> {
  const out = createWriteStream(path);
  out.write(`${header}\n`);
  for (const row of rows) {
    if (!out.write(`${row}\n`)) await once(out, "drain");
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

function* uids(first: bigint, count: number) {
  for (let i = 0n; i < BigInt(count); i++) yield first + i;
}

async function byOperation(pod: PodProcess): Promise<Record<string, number>> {
  const response = await fetch(`${new URL(pod.url).origin}/__simulator/stats`);
  return ((await response.json()) as { byOperation: Record<string, number> }).byOperation;
}

async function cli(args: string[], pod: PodProcess): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ["src/cli/main.js", ...args, "--pod", pod.url, "--quiet"], {
    cwd: BUILD_DIR,
    env: { ...process.env, POD_SESSION_TOKEN: pod.token },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`pod-admin ${args.join(" ")} exited with ${code}:\n${stderr}`);
  return (performance.now() - started) / 1000;
}

/** Runs the section; `work` is a scratch directory, `log` prints a progress line. */
export async function runDirectorySection(
  users: number,
  work: string,
  log: (line: string) => void,
): Promise<DirectoryResult> {
  const pod = await startPodProcess();
  try {
    const lookup = await runCase<{ lookupUsersPerSecond: number; writeUsersPerSecond: number; lookupCalls: number }>(
      "directory-case",
      [pod.url, pod.token, String(users)],
    );
    log(
      `lookup: ${fmt(lookup.lookupUsersPerSecond)} users/s resolved (${fmt(lookup.lookupCalls)} calls), ` +
        `writes ${fmt(lookup.writeUsersPerSecond)} users/s`,
    );

    // Each CLI run gets its own users, so "every user changed" is true without resetting the pod.
    let next = 8_215_545_000_000n;
    const block = () => {
      const first = next;
      next += BigInt(users);
      return first;
    };
    const csv = async (name: string, first: bigint, keyed: "uid" | "email", enabled: (i: number) => boolean) => {
      const path = join(work, name);
      let i = 0;
      const rows = function* () {
        for (const uid of uids(first, users))
          yield `${keyed === "uid" ? uid : emailOf(uid)},${FEATURE},${enabled(i++)}`;
      };
      await writeFile(path, `${keyed},entitlement,enabled`, rows());
      return path;
    };
    const runs: DirectoryCliRun[] = [];
    const measure = async (label: string, args: string[]) => {
      const before = await byOperation(pod);
      const seconds = await cli(args, pod);
      const after = await byOperation(pod);
      const delta = (key: string) => (after[key] ?? 0) - (before[key] ?? 0);
      const run = {
        label,
        seconds,
        ratio: seconds / (runs[0]?.seconds ?? seconds),
        reads: delta(READ),
        writes: delta(WRITE),
        lookups: delta(LOOKUP),
      };
      runs.push(run);
      log(
        `cli ${label}: ${fmt(seconds, 2)} s (${fmt(run.ratio, 2)}× run 1), ${fmt(run.lookups)} lookups, ` +
          `${fmt(run.reads)} reads, ${fmt(run.writes)} writes`,
      );
    };
    const on = () => true;
    await measure("uid-keyed, all change", ["features", "apply", await csv("uids.csv", block(), "uid", on)]);
    await measure("email-keyed, all change", ["features", "apply", await csv("emails.csv", block(), "email", on)]);
    const held = block();
    await cli(["features", "apply", await csv("held.csv", held, "uid", on)], pod);
    await measure("--only-changes, none differ", [
      "features",
      "apply",
      await csv("held-again.csv", held, "uid", on),
      "--only-changes",
    ]);
    await measure("--only-changes, 10 % differ", [
      "features",
      "apply",
      await csv("tenth.csv", held, "uid", (i) => i % 10 !== 0),
      "--only-changes",
    ]);
    await measure("--only-changes, all differ", [
      "features",
      "apply",
      await csv("fresh.csv", block(), "uid", on),
      "--only-changes",
    ]);
    return { users, ...lookup, cli: runs };
  } finally {
    await pod.stop();
  }
}

/** The section as text table rows: label, seconds, ratio, calls. */
export function directoryRows(result: DirectoryResult): string[][] {
  return result.cli.map((run) => [
    run.label,
    `${fmt(run.seconds, 2)} s`,
    `${fmt(run.ratio, 2)}×`,
    fmt(run.lookups),
    fmt(run.reads),
    fmt(run.writes),
  ]);
}

/** The table header of {@link directoryRows}. */
export const DIRECTORY_HEADER = ["pod-admin features apply", "wall", "vs run 1", "lookups", "reads", "writes"];
