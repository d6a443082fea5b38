/**
 * `npm run fault-run` (`tsx scripts/fault-run.ts [users]`, default 10,000; a few minutes): the hostile-answers fault
 * run of issue 21. Not part of `npm test`.
 *
 * The real `pod-admin` (compiled, run with plain `node` under `/usr/bin/time -v`) applies one feature to every user,
 * named by email, with `--only-changes`, so each user costs a lookup (by batches of 100), a read and a write. It
 * talks to a hostile proxy in front of the simulated pod that answers a seeded share of requests itself:
 * - oversized: a `Content-Length` of 400 MB (then nothing), or 9 MiB of chunked body;
 * - nested: 20,000 levels of `[` after a long digit run (the lossless parser's recursion);
 * - redirecting: `307` to a trap server on another port, which must receive nothing;
 * - compressed: a gzip bomb (64 KB that inflates to 64 MiB);
 * - non-JSON: an HTML error page (200 or 502) that echoes the session token back;
 * - endless: a body that never ends;
 * - forwarded, then garbled: the pod applies the write, its answer is replaced by HTML (applied, reported failed).
 * Every other request is forwarded as it is.
 *
 * Then it checks that every user is accounted for (applied on the pod, or in the report as failed or not
 * attempted; none lost, none twice), that the token appears in no output and no file, and prints the peak RSS of
 * the `pod-admin` process (the kernel's `Maximum resident set size`). Exit 1 when a check fails or the peak is over
 * 300 MB. Knobs: FAULT_SHARE (share of requests answered hostile, default 0.3), FAULT_SEED (default 21).
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { mulberry32, startSimulatedPod } from "../src/simulator/index.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const USERS = Number(process.argv[2] ?? 10_000);
const SHARE = Number(process.env.FAULT_SHARE ?? 0.3);
const SEED = Number(process.env.FAULT_SEED ?? 21);
const PEAK_LIMIT_MB = 300;
const BASE_UID = 7215545057281;
const FEATURE = "canCreatePublicRoom";
const TOKEN = `fault-run-secret-${Math.random().toString(36).slice(2)}-token`;
if (!(Number.isInteger(USERS) && USERS > 0)) throw new RangeError("users must be a positive integer");

const FAULTS = [
  "declared-oversize",
  "chunked-oversize",
  "nested",
  "redirect",
  "gzip-bomb",
  "html-200",
  "html-502-echo",
  "endless",
  "applied-then-garbled",
] as const;
type FaultName = (typeof FAULTS)[number];

// --- compile the CLI, so the measured process runs plain node -------------------------------------------------
const BUILD_DIR = join(ROOT, "node_modules", ".cache", "symphony-pod-admin-fault-run");
process.stderr.write("compiling src/ (tsc) …\n");
rmSync(BUILD_DIR, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const compiled = spawnSync(process.execPath, [tsc, "-p", "bench/tsconfig.build.json", "--outDir", BUILD_DIR], {
  cwd: ROOT,
  encoding: "utf8",
});
if (!existsSync(join(BUILD_DIR, "src", "cli", "main.js"))) {
  throw new Error(`could not compile the CLI:\n${compiled.stdout}${compiled.stderr}`);
}

// --- the pod, the trap a redirect points to, the hostile proxy ----------------------------------------------
const pod = await startSimulatedPod({ sessionToken: TOKEN });
const podUrl = new URL(pod.url);

const trapHits: { path: string | undefined; hadToken: boolean }[] = [];
const trap = createServer((req, res) => {
  trapHits.push({ path: req.url, hadToken: JSON.stringify(req.headers).includes(TOKEN) });
  res.end('{"format":"TEXT","message":"OK"}');
});
await new Promise<void>((resolve) => trap.listen(0, "127.0.0.1", resolve));
const trapOrigin = `http://127.0.0.1:${(trap.address() as AddressInfo).port}`;

const MiB = 1024 * 1024;
const bomb = gzipSync(Buffer.alloc(64 * MiB, "["), { level: 9 });
const DEEP = 20_000;
const deepJson = `[9007199254740993,${"[".repeat(DEEP)}${"]".repeat(DEEP)}]`;
const deepLookup = `{"users":[{"id":9007199254740993,"x":${"[".repeat(DEEP)}${"]".repeat(DEEP)}}]}`;
const filler = Buffer.alloc(64 * 1024, " ");

const random = mulberry32(SEED);
const injected: Record<FaultName | "forwarded", number> = Object.fromEntries(
  [...FAULTS, "forwarded"].map((name) => [name, 0]),
) as Record<FaultName | "forwarded", number>;
const open = new Set<ServerResponse>();

function pickFault(): FaultName | undefined {
  if (random() >= SHARE) return undefined;
  return FAULTS[Math.floor(random() * FAULTS.length)];
}

function forward(req: IncomingMessage, res: ServerResponse, body: Buffer, garble: boolean) {
  const upstream = request(
    {
      host: podUrl.hostname,
      port: podUrl.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, host: podUrl.host, "content-length": String(body.length) },
    },
    (answer) => {
      if (garble) {
        answer.resume();
        answer.on("end", () => {
          res.writeHead(200, { "content-type": "text/html" });
          res.end("<html><body>Service temporarily unavailable</body></html>");
        });
        return;
      }
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on("error", () => res.destroy());
  upstream.end(body);
}

function hostile(fault: FaultName, req: IncomingMessage, res: ServerResponse) {
  const lookup = req.url?.includes("/v3/users") ?? false;
  switch (fault) {
    case "declared-oversize":
      res.writeHead(200, { "content-type": "application/json", "content-length": String(400 * MiB) });
      res.write("[");
      return; // the rest never comes; the client must not wait for it
    case "chunked-oversize": {
      res.writeHead(200, { "content-type": "application/json" });
      let sent = 0;
      const pump = () => {
        while (!res.destroyed && sent < 9 * MiB) {
          sent += filler.length;
          if (!res.write(filler)) return void res.once("drain", pump);
        }
        if (!res.destroyed) res.end("]");
      };
      res.write("[");
      pump();
      return;
    }
    case "nested":
      res.writeHead(200, { "content-type": "application/json" });
      res.end(lookup ? deepLookup : deepJson);
      return;
    case "redirect":
      res.writeHead(307, { location: `${trapOrigin}${req.url}` });
      res.end();
      return;
    case "gzip-bomb":
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" });
      res.end(bomb);
      return;
    case "html-200":
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html><head><title>Login</title></head><body>Please sign in to the proxy</body></html>");
      return;
    case "html-502-echo":
      res.writeHead(502, { "content-type": "text/html" });
      res.end(`<html><body>Bad gateway for token ${String(req.headers.sessiontoken)}</body></html>`);
      return;
    case "endless": {
      res.writeHead(200, { "content-type": "application/json" });
      const pump = () => {
        while (!res.destroyed && res.write(filler)) {}
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
      return;
    }
    case "applied-then-garbled":
      return; // handled by forward()
  }
}

const proxy = createServer((req, res) => {
  open.add(res);
  res.on("close", () => open.delete(res));
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const fault = pickFault();
    const write = req.method === "POST";
    if (fault === undefined || (fault === "applied-then-garbled" && !write)) {
      injected.forwarded++;
      forward(req, res, Buffer.concat(chunks), false);
    } else if (fault === "applied-then-garbled") {
      injected[fault]++;
      forward(req, res, Buffer.concat(chunks), true);
    } else {
      injected[fault]++;
      hostile(fault, req, res);
    }
  });
});
await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/pod`;

// --- the runs ---------------------------------------------------------------------------------------------------
const work = mkdtempSync(join(os.tmpdir(), "pod-admin-fault-run-"));
let failed = false;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failed = true;
};

/** Runs the compiled pod-admin under /usr/bin/time -v; its peak RSS from the kernel's figure. */
async function podAdmin(args: string[]) {
  const started = performance.now();
  const child = spawn("/usr/bin/time", ["-v", process.execPath, join(BUILD_DIR, "src", "cli", "main.js"), ...args], {
    cwd: work,
    env: { ...process.env, POD_SESSION_TOKEN: TOKEN, POD_URL: undefined },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const [code] = (await once(child, "exit")) as [number | null];
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  const peakKB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? Number.NaN);
  const cli = stderr.replace(/(Command exited with non-zero status \d+\n)?\s*Command being timed:[\s\S]*$/, "");
  const timeExit = /Exit status: (\d+)/.exec(stderr)?.[1];
  return {
    code: timeExit === undefined ? code : Number(timeExit),
    stdout,
    stderr: cli,
    seconds,
    peakMB: Math.round(peakKB / 102.4) / 10,
  };
}

/** Files of the working directory, stdout and stderr that hold the token. */
function leaksOf(run: { stdout: string; stderr: string }): string[] {
  const leaks: string[] = [];
  if (run.stdout.includes(TOKEN)) leaks.push("stdout");
  if (run.stderr.includes(TOKEN)) leaks.push("stderr");
  for (const name of readdirSync(work)) {
    if (readFileSync(join(work, name)).includes(TOKEN)) leaks.push(name);
  }
  return leaks;
}

async function writeCsv(name: string, header: string, row: (uid: number) => string): Promise<string> {
  const path = join(work, name);
  const out = createWriteStream(path);
  out.write(`${header}\n`);
  for (let i = 0; i < USERS; i++) if (!out.write(`${row(BASE_UID + i)}\n`)) await once(out, "drain");
  await new Promise<void>((resolve) => out.end(() => resolve()));
  return path;
}

const resetInjected = () => {
  for (const key of Object.keys(injected)) injected[key as FaultName] = 0;
};

try {
  // Phase 1: users named by uid; with --only-changes each costs a read and a write, both facing the hostile mix.
  const csv = await writeCsv("users.csv", "uid,entitlement,enabled", (uid) => `${uid},${FEATURE},true`);
  const report = join(work, "report.jsonl");
  process.stderr.write(`phase 1: pod-admin over ${USERS} users, ${Math.round(SHARE * 100)} % of answers hostile …\n`);
  const run = await podAdmin([
    "features",
    "apply",
    csv,
    "--pod",
    proxyUrl,
    "--only-changes",
    "--report",
    report,
    "--quiet",
  ]);
  process.stderr.write(`${run.stdout}${run.stderr.split("\n").slice(0, 25).join("\n")}\n…\n`);

  const reported = new Map<string, string>();
  let duplicates = 0;
  for (const line of readFileSync(report, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    const value = JSON.parse(line) as { uid?: unknown; _report?: { status?: string } };
    const uid = String(value.uid);
    if (reported.has(uid)) duplicates++;
    reported.set(uid, value._report?.status ?? "?");
  }
  let applied = 0;
  let appliedAndReported = 0;
  let lost = 0;
  const byStatus: Record<string, number> = {};
  for (let i = 0; i < USERS; i++) {
    const uid = String(BASE_UID + i);
    const done = pod.state.features(uid)[FEATURE] === true;
    const status = reported.get(uid);
    if (status !== undefined) byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (done) applied++;
    if (done && status !== undefined) appliedAndReported++;
    if (!done && status === undefined) lost++;
  }
  const leaks = leaksOf(run);
  console.log(
    JSON.stringify(
      {
        phase: "1: uids, --only-changes (reads and writes hostile)",
        users: USERS,
        seconds: run.seconds,
        exitCode: run.code,
        peakRssMB: run.peakMB,
        summary: /\d+ succeeded, \d+ failed, \d+ not attempted/.exec(run.stdout + run.stderr)?.[0],
        appliedOnPod: applied,
        inReport: reported.size,
        reportByStatus: byStatus,
        appliedAndReported,
        lost,
        duplicatesInReport: duplicates,
        requestsAtProxy: Object.values(injected).reduce((a, b) => a + b, 0),
        injected,
        trapHits: trapHits.length,
        leaks,
      },
      null,
      2,
    ),
  );
  check(lost === 0, `every user accounted for: ${applied} applied on the pod, ${reported.size} in the report, 0 lost`);
  check(duplicates === 0, "no user twice in the report");
  check(applied + reported.size - appliedAndReported === USERS, `applied ∪ reported = ${USERS} users`);
  check(run.peakMB < PEAK_LIMIT_MB, `peak RSS ${run.peakMB} MB < ${PEAK_LIMIT_MB} MB`);
  check(leaks.length === 0, `the session token in no output and no file${leaks.length ? ` (found in ${leaks})` : ""}`);
  check(trapHits.length === 0, "no redirect followed (the trap server received nothing)");
  check(run.code === 1, `pod-admin exited 1 (some items failed), got ${run.code}`);

  // Phase 2: other users, named by email: lookups by batches of 100 face the mix too. A lookup that fails stops
  // pod-admin before anything is sent (it will not guess who a user is): exit 2, no write, no secret.
  resetInjected();
  const offset = USERS;
  const emails = await writeCsv(
    "emails.csv",
    "email,entitlement,enabled",
    (uid) => `user.${uid + offset}@example.com,${FEATURE},true`,
  );
  const writesBefore = pod.stats().writes;
  process.stderr.write(`phase 2: pod-admin over ${USERS} users named by email …\n`);
  const byEmail = await podAdmin([
    "features",
    "apply",
    emails,
    "--pod",
    proxyUrl,
    "--report",
    join(work, "emails-report.jsonl"),
    "--quiet",
  ]);
  process.stderr.write(`${byEmail.stdout}${byEmail.stderr.split("\n").slice(0, 10).join("\n")}\n…\n`);
  const writes = pod.stats().writes - writesBefore;
  const emailLeaks = leaksOf(byEmail);
  console.log(
    JSON.stringify(
      {
        phase: "2: emails (lookups hostile)",
        users: USERS,
        seconds: byEmail.seconds,
        exitCode: byEmail.code,
        peakRssMB: byEmail.peakMB,
        writesReachingThePod: writes,
        injected,
        leaks: emailLeaks,
      },
      null,
      2,
    ),
  );
  const stopped = byEmail.code === 2 && writes === 0 && /Nothing was sent/.test(byEmail.stderr);
  const completed = byEmail.code === 1 || byEmail.code === 0;
  check(
    stopped || completed,
    `phase 2: stopped cleanly before sending (exit 2, 0 writes) or ran (exit ${byEmail.code})`,
  );
  check(byEmail.peakMB < PEAK_LIMIT_MB, `phase 2: peak RSS ${byEmail.peakMB} MB < ${PEAK_LIMIT_MB} MB`);
  check(emailLeaks.length === 0, "phase 2: the session token in no output and no file");
  check(trapHits.length === 0, "phase 2: no redirect followed");
} finally {
  for (const res of open) res.destroy();
  await Promise.all([pod.close(), new Promise((done) => proxy.close(done)), new Promise((done) => trap.close(done))]);
  rmSync(work, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
