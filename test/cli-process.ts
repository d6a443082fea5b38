import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

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
