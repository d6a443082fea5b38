/**
 * Shared helpers of the benchmark: the simulated pod as its own process, child processes that run one case each
 * and print one JSON line, and small statistics.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository (when run from `bench/` with tsx). */
export const ROOT = fileURLToPath(new URL("..", import.meta.url));
/**
 * Where `src/`, `generated/` and `bench/` are compiled to plain JavaScript. Every measured process runs that code
 * with plain `node`: the tsx loader would add its own thread and ~50 MB of RSS to each of them.
 */
export const BUILD_DIR = join(ROOT, "node_modules", ".cache", "symphony-pod-admin-bench");

/** Compiles the package and the benchmark cases with the project's own TypeScript into {@link BUILD_DIR}. */
export function build(): void {
  rmSync(BUILD_DIR, { recursive: true, force: true });
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", "bench/tsconfig.build.json"], { cwd: ROOT, encoding: "utf8" });
  // Type errors (another change in progress) do not stop the emit; a missing output does.
  if (!existsSync(join(BUILD_DIR, "bench", "run.js"))) {
    throw new Error(`could not compile the benchmark:\n${result.stdout}${result.stderr}`);
  }
  if (result.status !== 0) process.stderr.write(`note: tsc reported type errors; measuring anyway\n${result.stdout}`);
}

/**
 * Connection options of the client under test, from `BENCH_CLIENT_OPTIONS`, to check that setting them costs
 * nothing on loopback: `proxy` (a proxy that `noProxy` bypasses for loopback: undici's `EnvHttpProxyAgent` in every
 * lane), `ca` (a CA added to the system's: every lane's pool with TLS options), `dispatcher` (an undici `Agent` of
 * the caller's). Unset: the defaults.
 */
export async function benchClientOptions(): Promise<Record<string, unknown>> {
  const which = process.env.BENCH_CLIENT_OPTIONS ?? "";
  if (which === "") return {};
  if (which === "proxy") return { proxy: { host: "127.0.0.1", port: 9, noProxy: "127.0.0.1,localhost" } };
  if (which === "ca") {
    const { rootCertificates } = await import("node:tls");
    return { ca: rootCertificates[0] };
  }
  if (which === "dispatcher") {
    const { Agent } = await import("undici");
    return { dispatcher: new Agent({ keepAliveTimeout: 10_000, connections: 32 }) };
  }
  throw new RangeError(`BENCH_CLIENT_OPTIONS must be proxy, ca or dispatcher, got ${which}`);
}

/** The feature update every case sends: one feature, the same JSON on the wire for all clients. */
export const FEATURE = "canCreatePublicRoom";
/** First uid of the benchmark's users; calls use `BASE_UID + i`. */
export const BASE_UID = 7215545057281;

/** The bulk-throughput cases, as `bench/throughput-case.ts` names them. */
export const CASES = ["raw-fetch", "openapi-fetch", "facade-bulk", "undici-request"] as const;
export type CaseName = (typeof CASES)[number];

/** A simulated pod in its own process, so client and server do not share an event loop. */
export interface PodProcess {
  url: string;
  token: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startPodProcess(extraArgs: string[] = []): Promise<PodProcess> {
  const child = spawn(process.execPath, ["src/simulator/main.js", "--port", "0", ...extraArgs], {
    cwd: BUILD_DIR,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let url: string | undefined;
  let token: string | undefined;
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`simulator exited (${code}) before it was ready: ${stderr}`)));
    lines.on("line", (line) => {
      if (line.startsWith("listening ")) url = line.slice("listening ".length).trim();
      if (line.startsWith("token ")) token = line.slice("token ".length).trim();
      if (url !== undefined && token !== undefined) resolve();
    });
  });
  child.removeAllListeners("exit");
  return {
    url: url as string,
    token: token as string,
    pid: child.pid as number,
    stop: () => stopChild(child),
  };
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/**
 * Runs the compiled `bench/<script>.js` in a fresh Node process (its own JIT and heap) and returns the JSON object it prints as its
 * last stdout line.
 */
export async function runCase<T>(script: string, args: string[], nodeArgs: string[] = []): Promise<T> {
  const child = spawn(process.execPath, [...nodeArgs, `bench/${script}.js`, ...args], {
    cwd: BUILD_DIR,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  const last = stdout.trim().split("\n").at(-1) ?? "";
  if (code !== 0) throw new Error(`bench/${script} ${args.join(" ")} exited with ${code}\n${stderr}${stdout}`);
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`bench/${script} printed no result line:\n${stdout}\n${stderr}`);
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function fmt(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A fixed-width text table, first column left-aligned. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Markdown version of {@link table}. */
export function markdownTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(header.map((_, i) => (i === 0 ? "---" : "---:"))), ...rows.map(line)].join("\n");
}
