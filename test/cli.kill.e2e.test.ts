/**
 * `kill -9` at a random moment of a 50,000-user run: the report (a journal written as outcomes settle) must let
 * `pod-admin features apply REPORT` finish the job, with no user lost and none sent again that the report says
 * was applied.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { mulberry32, startSimulatedPod } from "../src/simulator/index.js";
import { startPodAdmin } from "./cli-process.js";

const USERS = 50_000;
const FEATURE = "canCreatePublicRoom";
const intended = (uid: number) => uid % 3 !== 0;

let work: string;
let csv: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pod-admin-kill-"));
  csv = join(work, "users.csv");
  const out = createWriteStream(csv);
  out.write("uid,entitlement,enabled\n");
  for (let uid = 1; uid <= USERS; uid++) out.write(`${uid},${FEATURE},${intended(uid)}\n`);
  await new Promise<void>((resolve) => out.end(() => resolve()));
});
afterAll(() => rm(work, { recursive: true, force: true }));

interface JournalLine {
  uid?: string;
  _report: { status: string; item: number };
}

/** The journal as written so far: the uid of each item, and the uids it marks applied. */
async function readJournal(path: string) {
  const lines = (await readFile(path, "utf8"))
    .split("\n")
    .filter((line) => line.endsWith("}")) // a line cut short by the kill says nothing
    .map((line) => JSON.parse(line) as JournalLine);
  const uidOf = new Map<number, number>();
  for (const line of lines) if (line._report.status === "pending") uidOf.set(line._report.item, Number(line.uid));
  const applied = lines.filter((l) => l._report.status === "succeeded").map((l) => uidOf.get(l._report.item) as number);
  return { items: uidOf.size, applied };
}

// Three kills, one per seed, each at a random moment of a run that applies the previous run's journal: the chain
// covers a first run and resumed ones, and costs one 50,000-user job instead of three.
it("SIGKILL at random moments (seeds 1, 2, 3), each run resumed from the last one's report: nothing lost, nothing applied sent again", {
  timeout: 180_000,
}, async () => {
  // Latency keeps calls in flight at every moment, so each kill lands mid-run with outcomes still unknown.
  const pod = await startSimulatedPod({ faults: { latencyMs: [1, 8], seed: 7 } });
  const token = { POD_SESSION_TOKEN: pod.currentToken() };
  const flipped = new Set<number>();
  let input = csv;
  let remaining = USERS;
  try {
    for (const seed of [1, 2, 3]) {
      const random = mulberry32(seed);
      const report = join(work, `report-${seed}.jsonl`);
      pod.resetStats();
      const run = startPodAdmin(["features", "apply", input, "--pod", pod.url, "--report", report, "--quiet"], {
        env: token,
        cwd: work,
      });
      const killAfter = Math.floor(remaining * (0.05 + random() * 0.4));
      await waitFor(() => pod.stats().writes >= killAfter);
      await new Promise((r) => setTimeout(r, random() * 20));
      run.child.kill("SIGKILL");
      expect((await run.done).signal).toBe("SIGKILL");

      const journal = await readJournal(report);
      expect(journal.items).toBe(remaining); // every item is in the journal before the first call
      expect(journal.applied.length).toBeGreaterThan(0);
      expect(journal.applied.length).toBeLessThan(remaining);
      // Every user marked applied holds the intended state. Flip it: a second call would flip it back.
      for (const uid of journal.applied) {
        expect(pod.state.features(uid)[FEATURE]).toBe(intended(uid));
        pod.state.setFeatures(uid, { [FEATURE]: !intended(uid) });
        flipped.add(uid);
      }
      input = report;
      remaining -= journal.applied.length;
    }

    const last = await startPodAdmin(
      ["features", "apply", input, "--pod", pod.url, "--report", join(work, "report-final.jsonl"), "--quiet"],
      { env: token, cwd: work },
    ).done;
    expect(last.stderr).toBe("");
    expect(last.code).toBe(0);
    expect(last.stdout).toContain(`${remaining} users, ${remaining} calls`);
    const wrong: number[] = [];
    for (let uid = 1; uid <= USERS; uid++) {
      // Marked applied by some report: never sent again, so still flipped. Every other user: the intended state.
      const expected = flipped.has(uid) ? !intended(uid) : intended(uid);
      if (pod.state.features(uid)[FEATURE] !== expected) wrong.push(uid);
    }
    expect(wrong).toEqual([]);
  } finally {
    await pod.close();
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
