/**
 * `kill -9` at random moments of a `features apply` run, each run resumed from the last one's report, against the
 * simulated pod behind a proxy that counts the writes each user receives. A write received twice was in flight
 * when the run was killed (its outcome not yet in the report); the goal is at most `concurrency` per kill.
 * Used by scripts/kill-run.ts (30,000 users, concurrency 100) and, smaller, by test/cli.hardening.e2e.test.ts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { Agent, createServer, request, type Server } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { mulberry32, startSimulatedPod } from "../../src/simulator/index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const TSX = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const FEATURE = "canCreatePublicRoom";
const WRITE = /^\/pod\/v1\/admin\/user\/(\d+)\/features\/update$/;

/** What one kill cost. */
export interface KillFigures {
  /** Writes the pod had received when the run was killed. */
  writesAtKill: number;
  /** Users the resumed run wrote again although the pod had already received their write. */
  sentTwice: number;
}

/** The whole chain: every kill, and whether every user ended with the intended state. */
export interface KillRunResult {
  kills: KillFigures[];
  /** Users whose final state is not what the input asked for (must be empty). */
  wrong: number[];
  /** Writes received in all: `users` plus every write sent twice. */
  writes: number;
  seconds: number;
}

/**
 * Runs `users` users at `concurrency`, killed `kills` times (SIGKILL, at random moments chosen from `seed`), each
 * run resumed from the previous report, then a last run to the end. `work` is a directory for the files.
 *
 * @example
 * ```ts
 * const result = await killRun({ users: 30_000, concurrency: 100, kills: 5, seed: 1, work: "/tmp/kill" });
 * console.log(Math.max(...result.kills.map((k) => k.sentTwice)) <= 100);
 * ```
 */
export async function killRun(options: {
  users: number;
  concurrency: number;
  kills: number;
  seed: number;
  work: string;
  latencyMs?: [number, number];
}): Promise<KillRunResult> {
  const started = performance.now();
  const { users, concurrency, work } = options;
  const random = mulberry32(options.seed);
  const FIRST = 1_000_000;
  const intended = (i: number) => i % 3 !== 0;
  const pod = await startSimulatedPod({
    users: Array.from({ length: users }, (_, i) => FIRST + i),
    faults: { latencyMs: options.latencyMs ?? [1, 8], seed: options.seed },
  });
  const counts = new Map<number, number>();
  let writes = 0;
  const proxy = await countingProxy(pod.origin, (uid) => {
    counts.set(uid, (counts.get(uid) ?? 0) + 1);
    writes++;
  });
  try {
    let input = join(work, "users.csv");
    const out = createWriteStream(input);
    out.write("uid,entitlement,enabled\n");
    for (let i = 0; i < users; i++) out.write(`${FIRST + i},${FEATURE},${intended(i)}\n`);
    await new Promise<void>((done) => out.end(() => done()));

    const kills: KillFigures[] = [];
    let before = new Map<number, number>();
    const token = pod.currentToken();
    for (let k = 0; k <= options.kills; k++) {
      const report = join(work, `report-${k}.jsonl`);
      const args = ["features", "apply", input, "--pod", proxy.url, "--report", report, "--quiet"];
      const child = startCli([...args, "--concurrency", String(concurrency)], token, work);
      const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
      const at = writes;
      if (k < options.kills) {
        // A random moment after 5 to 60 % of what is left was received, plus up to 20 ms.
        const remaining = users - counts.size;
        const threshold = at + Math.max(1, Math.floor(remaining * (0.05 + random() * 0.55)));
        while (writes < threshold) await sleep(2);
        await sleep(random() * 20);
        child.kill("SIGKILL");
        await exited;
      } else {
        const code = await exited;
        if (code !== 0) throw new Error(`the last run exited with ${code}`);
      }
      // The previous kill's cost: users this run wrote that the pod had already received before it.
      if (k > 0) {
        let sentTwice = 0;
        for (const [uid, count] of counts)
          if ((before.get(uid) ?? 0) > 0 && count > (before.get(uid) ?? 0)) sentTwice++;
        (kills[k - 1] as KillFigures).sentTwice = sentTwice;
      }
      if (k < options.kills) kills.push({ writesAtKill: writes, sentTwice: 0 });
      before = new Map(counts);
      input = report;
    }
    const wrong: number[] = [];
    for (let i = 0; i < users; i++) if (pod.state.features(FIRST + i)[FEATURE] !== intended(i)) wrong.push(FIRST + i);
    return { kills, wrong, writes, seconds: (performance.now() - started) / 1000 };
  } finally {
    await new Promise((done) => proxy.server.close(done));
    proxy.server.closeAllConnections();
    await pod.close();
  }
}

/** The real `pod-admin` process, from source. */
function startCli(args: string[], token: string, cwd: string): ChildProcess {
  return spawn(process.execPath, ["--import", TSX, join(ROOT, "src/cli/main.ts"), ...args], {
    cwd,
    env: { ...process.env, POD_SESSION_TOKEN: token, POD_URL: undefined },
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** An HTTP proxy to `origin` that calls `onWrite(uid)` for each `features/update` it receives. */
async function countingProxy(origin: string, onWrite: (uid: number) => void): Promise<{ server: Server; url: string }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1000 });
  const server = createServer((req, res) => {
    const match = req.method === "POST" ? WRITE.exec(req.url ?? "") : null;
    if (match) onWrite(Number(match[1]));
    const upstream = request(`${origin}${req.url}`, { method: req.method, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", () => done()));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/pod` };
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
