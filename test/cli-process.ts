import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll } from "vitest";
import { type SimulatedPod, type SimulatedPodOptions, startSimulatedPod } from "../src/simulator/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// Children may run in a temporary directory, so tsx's loader is named by its full path.
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

export interface CliRun {
  code: number | null;
  /** The signal that ended the process, if one did (e.g. SIGKILL). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Starts the real `pod-admin` process (from source) with a clean environment plus `env`; POD_* variables of the
 * outer environment never leak in.
 */
export function startPodAdmin(
  args: string[],
  options: {
    env?: Record<string, string | undefined>;
    cwd?: string;
    stdin?: string;
    /** A command the process runs under, e.g. `["prlimit", "--fsize=100000"]`. */
    wrap?: string[];
  } = {},
): { child: ChildProcessWithoutNullStreams; done: Promise<CliRun> } {
  const command = [...(options.wrap ?? []), process.execPath, "--import", tsx, join(root, "src/cli/main.ts"), ...args];
  const child = spawn(command[0] as string, command.slice(1), {
    cwd: options.cwd ?? root,
    env: { ...process.env, POD_SESSION_TOKEN: undefined, POD_URL: undefined, ...options.env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  child.stdin.end(options.stdin);
  const done = new Promise<CliRun>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/**
 * What every e2e file of the CLI sets up: a temporary working directory (removed after the file's tests) and the
 * simulated pod of the running test (closed after it). Call at the top level of a test file.
 */
export function useCliWorkspace(prefix: string) {
  const state: { work: string; pod: SimulatedPod | undefined } = { work: "", pod: undefined };
  beforeAll(async () => {
    state.work = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(() => rm(state.work, { recursive: true, force: true }));
  afterEach(async () => {
    await state.pod?.close();
    state.pod = undefined;
  });
  return {
    /** The working directory (valid inside tests and hooks). */
    get work(): string {
      return state.work;
    },
    /** Starts the test's simulated pod; it is closed after the test. */
    async simulate(options: SimulatedPodOptions = {}): Promise<SimulatedPod> {
      state.pod = await startSimulatedPod(options);
      return state.pod;
    },
  };
}

/** Writes `dir/name`, a features file of users `1..n` (line k + 1 holds user k) turning `feature` on; its path. */
export async function featuresCsv(
  dir: string,
  name: string,
  n: number,
  feature = "canCreatePublicRoom",
): Promise<string> {
  const path = join(dir, name);
  const rows = Array.from({ length: n }, (_, i) => `${i + 1},${feature},true\n`).join("");
  await writeFile(path, `uid,entitlement,enabled\n${rows}`);
  return path;
}
