/**
 * Peak RSS of `pod-admin features apply FILE --dry-run` on a large CSV (one row per user), in its own process:
 * `npx tsx bench/cli-dryrun-memory.ts [users]` (default 1,000,000). Compiles the package like `npm run bench`
 * (see `lib.ts`), writes the CSV to a temporary directory, runs the compiled `src/cli/main.js` with plain `node`
 * and samples the kernel's high-water mark of its RSS (`VmHWM`, Linux) until it exits. Prints
 * `{ users, seconds, peakRssMB, exitCode }` as its last line. The plan must stay within 150 MB at 1,000,000 users.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { BASE_UID, BUILD_DIR, build, FEATURE } from "./lib.js";

const users = Number(process.argv[2] ?? 1_000_000);
if (!(Number.isInteger(users) && users > 0)) throw new RangeError("users must be a positive integer");

process.stderr.write("compiling src/ and bench/ (tsc) …\n");
build();
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
