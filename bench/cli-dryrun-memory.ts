/**
 * Peak RSS of `pod-admin features apply FILE --dry-run` on a large CSV (one row per user), in its own process:
 * `npx tsx bench/cli-dryrun-memory.ts [users]` (default 1,000,000; about 30 s). Compiles the package with the
 * benchmark's tsconfig into a directory of its own (so it never clobbers a running `npm run bench`), writes the CSV
 * to a temporary directory, runs the compiled `src/cli/main.js` with plain `node` (no tsx loader in the measured
 * process) and samples the kernel's high-water mark of its RSS (`VmHWM`, Linux) until it exits. Prints
 * `{ users, seconds, peakRssMB, exitCode }` as its last line. The plan must stay within 150 MB at 1,000,000 users.
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { join } from "node:path";
import { BASE_UID, FEATURE, ROOT } from "./lib.js";

const users = Number(process.argv[2] ?? 1_000_000);
if (!(Number.isInteger(users) && users > 0)) throw new RangeError("users must be a positive integer");

const BUILD_DIR = join(ROOT, "node_modules", ".cache", "symphony-pod-admin-cli-memory");
process.stderr.write("compiling src/ (tsc) …\n");
rmSync(BUILD_DIR, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const compiled = spawnSync(process.execPath, [tsc, "-p", "bench/tsconfig.build.json", "--outDir", BUILD_DIR], {
  cwd: ROOT,
  encoding: "utf8",
});
// Type errors (another change in progress) do not stop the emit; a missing output does.
if (!existsSync(join(BUILD_DIR, "src", "cli", "main.js"))) {
  throw new Error(`could not compile the CLI:\n${compiled.stdout}${compiled.stderr}`);
}
const work = mkdtempSync(join(os.tmpdir(), "pod-admin-dryrun-memory-"));
try {
  const csv = join(work, "users.csv");
  const out = createWriteStream(csv);
  out.write("uid,entitlement,enabled\n");
  for (let i = 0; i < users; i++) {
    if (!out.write(`${BASE_UID + i},${FEATURE},${i % 2 === 0}\n`)) await once(out, "drain");
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));

  const started = performance.now();
  const child = spawn(process.execPath, ["src/cli/main.js", "features", "apply", csv, "--dry-run", "--quiet"], {
    cwd: BUILD_DIR,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  let peakKB = 0;
  const timer = setInterval(() => {
    try {
      const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0);
      if (kb > peakKB) peakKB = kb;
    } catch {
      // exited, or no /proc
    }
  }, 20);
  const [code] = (await once(child, "exit")) as [number | null];
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(output);
  console.log(JSON.stringify({ users, seconds, peakRssMB: Math.round(peakKB / 102.4) / 10, exitCode: code }));
  if (code !== 0) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
