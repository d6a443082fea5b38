/**
 * `npx tsx scripts/kill-run.ts [users] [concurrency] [kills] [seed]` (defaults 30000 100 5 1): `kill -9` at random
 * moments of a `pod-admin features apply` run against the simulated pod, each run resumed from the last one's
 * report, writes counted per user. Prints, per kill, the writes the pod received twice (the goal: at most the
 * `concurrency` calls in flight) and checks every user ends in the intended state. Long: not part of `npm test`
 * (test/cli.hardening.e2e.test.ts runs a small version).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { killRun } from "./lib/kill-run.js";

const [users = 30_000, concurrency = 100, kills = 5, seed = 1] = process.argv.slice(2).map(Number);
const work = await mkdtemp(join(tmpdir(), "pod-admin-kill-run-"));
try {
  const result = await killRun({ users, concurrency, kills, seed, work });
  for (const [i, kill] of result.kills.entries()) {
    console.log(
      `kill ${i + 1}: SIGKILL after ${kill.writesAtKill} writes received; the resumed run sent ${kill.sentTwice} ` +
        `of them again (in flight at most ${concurrency})`,
    );
  }
  const worst = Math.max(0, ...result.kills.map((k) => k.sentTwice));
  console.log(
    `${users} users, concurrency ${concurrency}, ${result.kills.length} kills (seed ${seed}): ${result.writes} writes ` +
      `received, ${result.writes - users} sent twice in all, at most ${worst} per kill; ` +
      `${result.wrong.length} users not in the intended state; ${result.seconds.toFixed(1)} s`,
  );
  process.exitCode = worst <= concurrency && result.wrong.length === 0 ? 0 : 1;
} finally {
  await rm(work, { recursive: true, force: true });
}
