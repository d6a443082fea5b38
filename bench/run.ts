/**
 * `npm run bench`: every case side by side against its baseline, each measured process fresh, then a table on
 * stdout and the same figures in `docs/benchmarks.md`. Not part of `npm test`; nothing here asserts a timing.
 *
 * Knobs (environment): BENCH_ROUNDS (bulk-throughput rounds, default 5), BENCH_DRY_RUN_USERS (default 1000000), BENCH_CALLS (default 20000),
 * BENCH_CONCURRENCY (default 300), BENCH_WARMUP (calls before timing, default 2000), BENCH_MEMORY_ITEMS
 * (default 1000000), BENCH_CLI_ROWS (default 100000), BENCH_CLI_RUNS (default 2), BENCH_CLIENT_OPTIONS=proxy|ca|dispatcher
 * (the client under test with that connection option set, see bench/lib.ts; use with BENCH_NO_DOCS=1),
 * BENCH_NO_DOCS=1 (do not write
 * docs/benchmarks.md).
 *
 * The rate-limited section (bench/ratelimit-section.ts): BENCH_RATE_LIMITS (calls/s, default 20,50,400,1500,5000),
 * BENCH_RATE_WINDOWS (ms, default 100,1000), BENCH_RATE_SECONDS (calls per run = limit × seconds, default 40),
 * BENCH_RATE_MAX_SECONDS (a run still going after this long is stopped; default 3 × BENCH_RATE_SECONDS, 0: never),
 * BENCH_RATE_EXTRAS (the cases of their own shape: token-bucket,changing,shared by default; none), BENCH_RATE_SVG_DIR
 * (where the pictures go; default docs/images, only when every BENCH_RATE_* setting is its default), BENCH_RATE_JSON
 * (a file for the section's raw results).
 * BENCH_ONLY=ratelimit (or `tsx bench/run.ts ratelimit`, `npm run bench:ratelimit`) runs only that section; it
 * updates its part of docs/benchmarks.md only when every BENCH_RATE_* setting is its default.
 *
 * BENCH_ONLY=directory (section 7, bench/directory-section.ts: lookup cost, email-keyed and --only-changes CLI
 * runs; BENCH_DIRECTORY_USERS, default 20000) runs only that section and prints it.
 * BENCH_ONLY=throughput (or `npm run bench -- throughput`, about 2 minutes) runs only sections 1 and 2 (bulk
 * throughput, per-call CPU) and issue 12's three targets that depend on them; it replaces those sections, rows and
 * ratio lines of docs/benchmarks.md only when BENCH_ROUNDS, BENCH_CALLS, BENCH_CONCURRENCY and BENCH_WARMUP are
 * their defaults.
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { DIRECTORY_HEADER, type DirectoryResult, directoryRows, runDirectorySection } from "./directory-section.js";
import {
  BASE_UID,
  BUILD_DIR,
  build,
  CASES,
  type CaseName,
  FEATURE,
  fmt,
  markdownTable,
  median,
  ROOT,
  runCase,
  startPodProcess,
  table,
} from "./lib.js";
import {
  type RateLimitResult,
  rateLimitDoc,
  rateLimitSettings,
  rateLimitTable,
  rateLimitTargetRow,
  runRateLimitSection,
  spliceRateLimitDoc,
} from "./ratelimit-section.js";

const env = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!(Number.isInteger(value) && value > 0)) throw new RangeError(`${name} must be a positive integer`);
  return value;
};
const ROUNDS = env("BENCH_ROUNDS", 5);
const CALLS = env("BENCH_CALLS", 20_000);
const CONCURRENCY = env("BENCH_CONCURRENCY", 300);
const WARMUP = env("BENCH_WARMUP", 2_000);
const MEMORY_ITEMS = env("BENCH_MEMORY_ITEMS", 1_000_000);
const CLI_ROWS = env("BENCH_CLI_ROWS", 100_000);
const CLI_RUNS = env("BENCH_CLI_RUNS", 2);
/** Bare openapi-fetch is the slowest case by far and no target depends on it: it runs in every other round. */
const OPENAPI_FETCH_ROUNDS = Math.ceil(ROUNDS / 2);
const RATE = rateLimitSettings(process.env, CONCURRENCY);
const SECTIONS = ["ratelimit", "throughput", "directory"];
const DIRECTORY_USERS = env("BENCH_DIRECTORY_USERS", 20_000);
const ONLY = process.env.BENCH_ONLY ?? process.argv[2];
if (ONLY !== undefined && !SECTIONS.includes(ONLY)) {
  throw new RangeError(`BENCH_ONLY must be one of ${SECTIONS.join(", ")} (or unset for everything), got ${ONLY}`);
}

const LABELS: Record<CaseName, string> = {
  "raw-fetch": "(a) global fetch + p-map",
  "openapi-fetch": "(b) bare openapi-fetch + p-map",
  "facade-bulk": "(c) pod.bulk.updateFeatures",
  "undici-request": `(d) undici request() + p-map, Agent({ connections: ${CONCURRENCY} })`,
};

/** Hand-written findings, appended to the generated page. */
const NOTES = readFileSync(join(ROOT, "bench", "notes.md"), "utf8");

const log = (text: string) => process.stderr.write(`${text}\n`);
const benchStarted = performance.now();

log("compiling src/ and bench/ (tsc) …");
build();

const machine = {
  cpu: os.cpus()[0]?.model.trim() ?? "unknown CPU",
  cores: os.availableParallelism(),
  memoryGB: os.totalmem() / 1024 ** 3,
  node: process.version,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  date: new Date().toISOString(),
};

/** Section 7 as text: the lookup line and the CLI table. */
function directoryText(result: DirectoryResult): string {
  return [
    `lookup: ${fmt(result.lookupUsersPerSecond)} users/s resolved by email (${fmt(result.lookupCalls)} calls for ` +
      `${fmt(result.users)} users); writing the same users: ${fmt(result.writeUsersPerSecond)} users/s ` +
      `(lookup ${fmt(result.lookupUsersPerSecond / result.writeUsersPerSecond, 1)}× faster)`,
    "",
    table(DIRECTORY_HEADER, directoryRows(result)),
  ].join("\n");
}

if (ONLY === "directory") {
  const work = mkdtempSync(join(os.tmpdir(), "bench-directory-"));
  try {
    console.log(`\n${directoryText(await runDirectorySection(DIRECTORY_USERS, work, log))}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  process.exit(0);
}

/** Where the section's pictures go: BENCH_RATE_SVG_DIR, else docs/images when the docs are updated. */
const svgDir =
  process.env.BENCH_RATE_SVG_DIR ??
  (process.env.BENCH_NO_DOCS !== "1" && RATE.defaults ? join(ROOT, "docs", "images") : undefined);

if (ONLY === "ratelimit") {
  const results = await runRateLimitSection(RATE, log, svgDir);
  if (process.env.BENCH_RATE_JSON) writeFileSync(process.env.BENCH_RATE_JSON, JSON.stringify(results, null, 2));
  console.log(`\n${rateLimitTable(results)}`);
  if (process.env.BENCH_NO_DOCS === "1") {
    // print only
  } else if (RATE.defaults) {
    const file = join(ROOT, "docs", "benchmarks.md");
    const date = `${machine.date} (${machine.cpu}, ${machine.cores} cores, Node ${machine.node})`;
    writeFileSync(file, spliceRateLimitDoc(readFileSync(file, "utf8"), rateLimitDoc(results, RATE, date)));
    log("updated the rate-limited section of docs/benchmarks.md");
  } else {
    log("docs/benchmarks.md left as it is: BENCH_RATE_* settings differ from the defaults");
  }
  process.exit(0);
}

// --- 1. bulk throughput ---------------------------------------------------------------------------------------
interface ThroughputResult {
  case: CaseName;
  calls: number;
  ms: number;
  callsPerSecond: number;
  errors: number;
}

const pod = await startPodProcess();
log(`simulated pod (pid ${pod.pid}) at ${pod.url}`);
const throughput: Record<CaseName, number[]> = {
  "raw-fetch": [],
  "openapi-fetch": [],
  "facade-bulk": [],
  "undici-request": [],
};
const ratiosVsFetch: number[] = [];
const ratiosVsUndici: number[] = [];
let throughputErrors = 0;
try {
  // The server's own warm-up (JIT, sockets), so the first measured case of round 1 is not penalised.
  await runCase("throughput-case", ["undici-request", pod.url, pod.token, String(CALLS / 2), String(CONCURRENCY), "0"]);
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round, so no case is always first (or always after the same one).
    const order = CASES.map((_, i) => CASES[(i + round) % CASES.length] as CaseName).filter(
      (name) => name !== "openapi-fetch" || round % 2 === 0,
    );
    const perRound: Partial<Record<CaseName, number>> = {};
    for (const name of order) {
      const args = [name, pod.url, pod.token, String(CALLS), String(CONCURRENCY), String(WARMUP)];
      const result = await runCase<ThroughputResult>("throughput-case", args);
      throughputErrors += result.errors;
      throughput[name].push(result.callsPerSecond);
      perRound[name] = result.callsPerSecond;
      log(`round ${round + 1}/${ROUNDS} ${name.padEnd(15)} ${fmt(result.callsPerSecond)} calls/s`);
    }
    const { "facade-bulk": c, "raw-fetch": a, "undici-request": d } = perRound as Record<CaseName, number>;
    ratiosVsFetch.push(c / a);
    ratiosVsUndici.push(c / d);
  }
} finally {
  await pod.stop();
}

// --- 2. per-call CPU overhead ---------------------------------------------------------------------------------
const OVERHEAD_RUNS = 3;
const overhead: { "openapi-fetch": number[]; facade: number[]; ratio: number[] } = {
  "openapi-fetch": [],
  facade: [],
  ratio: [],
};
for (let run = 0; run < OVERHEAD_RUNS; run++) {
  const first = run % 2 === 0 ? "openapi-fetch" : "facade";
  const result = await runCase<{ "openapi-fetch": number; facade: number }>("overhead-case", [first, "1500"]);
  overhead["openapi-fetch"].push(result["openapi-fetch"]);
  overhead.facade.push(result.facade);
  overhead.ratio.push(result.facade / result["openapi-fetch"]);
  log(
    `per-call run ${run + 1}/${OVERHEAD_RUNS}: openapi-fetch ${fmt(result["openapi-fetch"])} ops/s, facade ${fmt(result.facade)} ops/s`,
  );
}

// --- sections 1 and 2: figures, targets, and the run that stops here ----------------------------------------
const spread = (values: number[], digits = 0) =>
  `${fmt(Math.min(...values), digits)}–${fmt(Math.max(...values), digits)}`;
const throughputHeader = ["bulk throughput (20,000 calls)", "calls/s median", "min–max", "runs"];
throughputHeader[0] = `bulk throughput (${fmt(CALLS)} calls, concurrency ${CONCURRENCY})`;
const throughputRows = CASES.map((name) => [
  LABELS[name],
  fmt(median(throughput[name])),
  spread(throughput[name]),
  String(throughput[name].length),
]);
const ratioFetch = median(ratiosVsFetch);
const ratioUndici = median(ratiosVsUndici);

const overheadHeader = ["per-call CPU, stubbed fetch", "ops/s median", "min–max", "runs"];
const overheadRows = [
  ["bare openapi-fetch POST", fmt(median(overhead["openapi-fetch"])), spread(overhead["openapi-fetch"]), "3"],
  ["pod.users.updateFeatures", fmt(median(overhead.facade)), spread(overhead.facade), "3"],
];
const overheadRatio = median(overhead.ratio);

const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
// Issue 12's targets: openapi-fetch runs every call, and the bulk facade keeps ≥ 2× the hand-written fetch loop and
// ≥ 0.6 of undici request(); per-call CPU no worse than before it (facade 1.51× bare openapi-fetch's ops/s).
const overheadTarget = 1.51;
const targetHeader = ["target", "figure", ""];
const throughputTargetRows = [
  ["bulk facade / raw fetch ≥ 2", ratioFetch.toFixed(2), verdict(ratioFetch >= 2)],
  ["bulk facade / undici request() ≥ 0.6", ratioUndici.toFixed(2), verdict(ratioUndici >= 0.6)],
  [
    "facade per-call ops/s / bare openapi-fetch's ≥ 1.51 (before openapi-fetch ran the facade)",
    overheadRatio.toFixed(2),
    verdict(overheadRatio >= overheadTarget),
  ],
];
const ratioLines = [
  `bulk facade/raw-fetch throughput ratio: ${ratioFetch.toFixed(2)}`,
  `bulk facade/undici-request throughput ratio: ${ratioUndici.toFixed(2)}`,
];

function printThroughput(): void {
  console.log(table(throughputHeader, throughputRows));
  console.log(
    `\nper-round ratios c/a: ${ratiosVsFetch.map((r) => r.toFixed(2)).join(" ")}; c/d: ${ratiosVsUndici.map((r) => r.toFixed(2)).join(" ")}${throughputErrors ? `; ${throughputErrors} non-2xx answers!` : ""}\n`,
  );
  console.log(table(overheadHeader, overheadRows));
  console.log(`facade/openapi-fetch per-call ratio: ${overheadRatio.toFixed(2)}\n`);
}

/** Sections 1 and 2 of docs/benchmarks.md; `alone` dates a run of these two sections only. */
function throughputDoc(alone?: string): string {
  const note = alone ? `\n\nSections 1 and 2 re-measured alone (\`npm run bench -- throughput\`) on ${alone}.` : "";
  return `### 1. Bulk throughput

${fmt(CALLS)} \`POST /v1/admin/user/{uid}/features/update\` calls (one feature each, distinct uids) at concurrency
${CONCURRENCY}, against the simulated pod in a separate process on loopback.${note}

${markdownTable(throughputHeader, throughputRows)}

Per-round ratios c/a: ${ratiosVsFetch.map((r) => r.toFixed(2)).join(", ")}; c/d: ${ratiosVsUndici.map((r) => r.toFixed(2)).join(", ")}.
The ratio lines above are the medians of these per-round ratios.${throughputErrors ? ` **${throughputErrors} calls got a non-2xx answer.**` : " Every call got a 2xx answer."}

### 2. Per-call CPU overhead

The same stubbed \`fetch\` (answers at once with a 200 JSON \`Response\`) under bare openapi-fetch
(\`createClient({ fetch: stub }).POST(...)\` with the wire body) and under \`pod.users.updateFeatures\`
(\`createPodClient({ fetch: stub })\`: uid conversion, input validation with the compiled validators, renaming,
the request pipeline, error handling). tinybench, 1.5 s per task after 0.3 s warm-up, ${OVERHEAD_RUNS} processes
alternating which task runs first.

${markdownTable(overheadHeader, overheadRows)}

facade / openapi-fetch per-call ratio (median of per-process ratios): **${overheadRatio.toFixed(2)}**
`;
}

/** docs/benchmarks.md with sections 1 and 2, their three target rows and the two ratio lines replaced. */
function spliceThroughputDoc(page: string, date: string): string {
  const start = page.indexOf("### 1. Bulk throughput");
  const end = page.indexOf("### 3. ");
  if (start === -1 || end < start) throw new Error("docs/benchmarks.md has no sections 1 and 2 to replace");
  let out = `${page.slice(0, start)}${throughputDoc(date)}\n${page.slice(end)}`;
  const lines = out.split("\n");
  for (const row of throughputTargetRows) {
    const at = lines.findIndex((line) => line.startsWith(`| ${row[0]} |`));
    if (at !== -1) lines[at] = `| ${row.join(" | ")} |`;
  }
  for (const ratioLine of ratioLines) {
    const label = ratioLine.slice(0, ratioLine.indexOf(":") + 1);
    const at = lines.findIndex((line) => line.startsWith(label));
    if (at !== -1) lines[at] = ratioLine;
  }
  out = lines.join("\n");
  return out;
}

if (ONLY === "throughput") {
  console.log();
  printThroughput();
  console.log(table(targetHeader, throughputTargetRows));
  for (const line of ratioLines) console.log(line);
  const defaults = ROUNDS === 5 && CALLS === 20_000 && CONCURRENCY === 300 && WARMUP === 2_000;
  if (process.env.BENCH_NO_DOCS === "1") {
    // print only
  } else if (defaults) {
    const file = join(ROOT, "docs", "benchmarks.md");
    const date = `${machine.date} (${machine.cpu}, ${machine.cores} cores, Node ${machine.node})`;
    writeFileSync(file, spliceThroughputDoc(readFileSync(file, "utf8"), date));
    log("updated sections 1 and 2 of docs/benchmarks.md");
  } else {
    log("docs/benchmarks.md left as it is: BENCH_ROUNDS/CALLS/CONCURRENCY/WARMUP differ from the defaults");
  }
  process.exit(0);
}

// --- 3. memory on streamed input ------------------------------------------------------------------------------
interface MemoryResult {
  items: number;
  seconds: number;
  itemsPerSecond: number;
  rssStartMB: number;
  peak100kMB: number;
  peakEndMB: number;
  heapEndMB: number;
  succeeded: number;
}
const memory = await runCase<MemoryResult>("memory-case", [String(MEMORY_ITEMS), String(CONCURRENCY)], ["--expose-gc"]);
log(`memory: peak ${fmt(memory.peak100kMB, 1)} MB at 100k, ${fmt(memory.peakEndMB, 1)} MB at ${fmt(memory.items)}`);

// --- 4. CLI end to end ----------------------------------------------------------------------------------------
const work = mkdtempSync(join(os.tmpdir(), "pod-admin-bench-"));
const cli: { rowsPerSecond: number[]; seconds: number[]; peakRssMB: number[]; exitCodes: number[] } = {
  rowsPerSecond: [],
  seconds: [],
  peakRssMB: [],
  exitCodes: [],
};
try {
  const csv = join(work, "features.csv");
  const out = createWriteStream(csv);
  out.write("uid,entitlement,enabled\n");
  for (let i = 0; i < CLI_ROWS; i++) {
    if (!out.write(`${BASE_UID + i},${FEATURE},${i % 2 === 0}\n`)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
  const cliPod = await startPodProcess();
  try {
    for (let run = 0; run < CLI_RUNS; run++) {
      const result = await runCli(csv, cliPod.url, cliPod.token);
      cli.rowsPerSecond.push(CLI_ROWS / result.seconds);
      cli.seconds.push(result.seconds);
      cli.peakRssMB.push(result.peakRssMB);
      cli.exitCodes.push(result.code);
      log(
        `cli run ${run + 1}/${CLI_RUNS}: ${fmt(CLI_ROWS / result.seconds)} rows/s, peak RSS ${fmt(result.peakRssMB, 1)} MB`,
      );
    }
  } finally {
    await cliPod.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

// --- 5. rate-limited bulk ---------------------------------------------------------------------------------------
const rateLimited: RateLimitResult[] = await runRateLimitSection(RATE, log, svgDir);

// --- 6. the CLI's plan on a million users (--dry-run), peak RSS -------------------------------------------------
const DRY_RUN_USERS = env("BENCH_DRY_RUN_USERS", 1_000_000);
log(`cli dry run on ${fmt(DRY_RUN_USERS)} users (bench/cli-dryrun-memory.ts) …`);
const dryRunOut = spawnSync(
  process.execPath,
  ["--import", "tsx", "bench/cli-dryrun-memory.ts", String(DRY_RUN_USERS)],
  {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  },
);
const dryRun = JSON.parse(dryRunOut.stdout.trim().split("\n").at(-1) ?? "{}") as {
  users: number;
  seconds: number;
  peakRssMB: number;
  exitCode: number;
};
log(`cli dry run: ${fmt(dryRun.users)} users in ${fmt(dryRun.seconds, 1)} s, peak RSS ${fmt(dryRun.peakRssMB, 1)} MB`);

/** Runs the compiled `pod-admin features apply` and reports its wall time and peak RSS (VmHWM). */
async function runCli(file: string, url: string, token: string) {
  const started = performance.now();
  const child = spawn(process.execPath, ["src/cli/main.js", "features", "apply", file, "--pod", url, "--quiet"], {
    cwd: BUILD_DIR,
    env: { ...process.env, POD_SESSION_TOKEN: token },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  // The kernel's high-water mark of the CLI's RSS, read until it exits (it only grows).
  let peakKB = 0;
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
      if (kb > peakKB) peakKB = kb;
    } catch {
      // exited, or no /proc
    }
  };
  const timer = setInterval(sample, 20);
  const [code] = (await once(child, "exit")) as [number | null];
  clearInterval(timer);
  const seconds = (performance.now() - started) / 1000;
  if (code !== 0) throw new Error(`pod-admin exited with ${code}:\n${stderr}`);
  return { seconds, peakRssMB: peakKB / 1024, code };
}

// --- 7. provisioning by email and --only-changes -----------------------------------------------------------------
const directoryWork = mkdtempSync(join(os.tmpdir(), "bench-directory-"));
const directory = await runDirectorySection(DIRECTORY_USERS, directoryWork, log).finally(() =>
  rmSync(directoryWork, { recursive: true, force: true }),
);

// --- report -------------------------------------------------------------------------------------------------

const memoryHeader = ["memory, streamed input, stubbed fetch", "value"];
const memoryRows = [
  ["RSS before the run", `${fmt(memory.rssStartMB, 1)} MB`],
  ["peak RSS at 100,000 items", `${fmt(memory.peak100kMB, 1)} MB`],
  [`peak RSS at ${fmt(memory.items)} items`, `${fmt(memory.peakEndMB, 1)} MB`],
  ["growth between the two", `${fmt(memory.peakEndMB - memory.peak100kMB, 1)} MB`],
  ["heap after the run (after GC)", `${fmt(memory.heapEndMB, 1)} MB`],
  ["items/s", fmt(memory.itemsPerSecond)],
];

const cliHeader = [`pod-admin features apply, ${fmt(CLI_ROWS)}-row CSV`, "median", "min–max", "runs"];
const cliRows = [
  [
    "rows/s (wall clock, process start to exit)",
    fmt(median(cli.rowsPerSecond)),
    spread(cli.rowsPerSecond),
    `${CLI_RUNS}`,
  ],
  ["peak RSS of the CLI process (MB)", fmt(median(cli.peakRssMB), 1), spread(cli.peakRssMB, 1), `${CLI_RUNS}`],
];

const targetRows = [
  ...throughputTargetRows,
  ["memory: peak RSS ≤ 150 MB", `${fmt(memory.peakEndMB, 1)} MB`, verdict(memory.peakEndMB <= 150)],
  [
    "memory: growth 100k → 1M ≤ 20 MB",
    `${fmt(memory.peakEndMB - memory.peak100kMB, 1)} MB`,
    verdict(memory.peakEndMB - memory.peak100kMB <= 20),
  ],
  rateLimitTargetRow(rateLimited),
  [
    `CLI --dry-run on ${fmt(dryRun.users)} users: peak RSS ≤ 150 MB`,
    `${fmt(dryRun.peakRssMB, 1)} MB`,
    verdict(dryRun.exitCode === 0 && dryRun.peakRssMB <= 150),
  ],
];

const totalSeconds = (performance.now() - benchStarted) / 1000;

const machineLine = `${machine.cpu}, ${machine.cores} cores, ${fmt(machine.memoryGB, 1)} GB, Node ${machine.node}, ${machine.os}, ${machine.date}`;
console.log(`\nmachine: ${machineLine}\n`);
printThroughput();
console.log(table(memoryHeader, memoryRows));
console.log();
console.log(table(cliHeader, cliRows));
console.log();
console.log(rateLimitTable(rateLimited));
console.log();
console.log(
  `cli dry run: ${fmt(dryRun.users)} users, ${fmt(dryRun.seconds, 1)} s, peak RSS ${fmt(dryRun.peakRssMB, 1)} MB\n`,
);
console.log(directoryText(directory));
console.log();
console.log(table(targetHeader, targetRows));
console.log(`\n(whole run: ${fmt(totalSeconds)} s)`);
for (const line of ratioLines) console.log(line);

if (process.env.BENCH_NO_DOCS !== "1") {
  writeFileSync(join(ROOT, "docs", "benchmarks.md"), renderDoc());
  log("wrote docs/benchmarks.md");
}

function renderDoc(): string {
  return `# Benchmarks

Figures of the latest \`npm run bench\` on the machine below. Every figure is a median over fresh processes; the
spread (min–max) is given with it. Nothing here is asserted by \`npm test\`.

**Machine:** ${machine.cpu}, ${machine.cores} cores, ${fmt(machine.memoryGB, 1)} GB RAM, ${machine.os}
**Node:** ${machine.node} · **Date:** ${machine.date} · **Whole run:** ${fmt(totalSeconds)} s

## Results

${markdownTable(targetHeader, targetRows)}

\`\`\`
${ratioLines.join("\n")}
\`\`\`

${throughputDoc()}
### 3. Memory on streamed input

${fmt(memory.items)} items from an async generator through \`pod.bulk.updateFeatures\` at concurrency ${CONCURRENCY},
\`fetch\` stubbed with an object that answers at once (no server, so the client runs as fast as it can and any
per-item retention would show). Peak RSS is the kernel's high-water mark (\`process.resourceUsage().maxRSS\`)
read when the generator hands out item 100,000 and at the end; the process runs the compiled JavaScript with
plain \`node --expose-gc\`.

${markdownTable(memoryHeader, memoryRows)}

### 4. CLI end to end

\`pod-admin features apply FILE --pod URL --quiet\` (the compiled \`src/cli/main.js\`, as the \`pod-admin\` bin
runs it) on a ${fmt(CLI_ROWS)}-row CSV (\`uid,entitlement,enabled\`, one row per user, so one call per row) against
the simulated pod in a separate process. Rows/s is wall clock from spawning the process to its exit (startup,
plan pass and summary included); peak RSS is the process's \`VmHWM\` from \`/proc/<pid>/status\`.

${markdownTable(cliHeader, cliRows)}

${rateLimitDoc(rateLimited, RATE, "the date above")}

### 6. The CLI's plan on a million users

\`pod-admin features apply FILE --dry-run\` on a ${fmt(dryRun.users)}-user CSV (\`bench/cli-dryrun-memory.ts\`: the
compiled CLI under plain \`node\`, peak RSS from \`VmHWM\`). The plan refuses a user named twice with an external
sort on disk, so its memory does not grow with the users: ${fmt(dryRun.seconds, 1)} s, peak RSS
${fmt(dryRun.peakRssMB, 1)} MB (target ≤ 150 MB; 339 MB before, when it kept an entry per user).

### 7. Provisioning by email, and \`--only-changes\`

Against one simulated pod process with no rate limit (so the figures are the client's and the pod's own costs),
${fmt(directory.users)} users (\`bench/directory-section.ts\`). **Lookup:** \`pod.users.lookup({ emails })\` resolves
${fmt(directory.lookupUsersPerSecond)} users/s in ${fmt(directory.lookupCalls)} calls (100 a call); the same client
writes the same users with \`pod.bulk.updateFeatures\` at ${fmt(directory.writeUsersPerSecond)} users/s, so a lookup
costs about ${fmt((directory.writeUsersPerSecond / directory.lookupUsersPerSecond) * 100, 1)} % of the write it
precedes. **The CLI** (\`pod-admin features apply\`, compiled, a process per run), each run on its own
${fmt(directory.users)} users; the calls are the pod's own counts (\`GET /__simulator/stats\`):

${markdownTable([...DIRECTORY_HEADER], directoryRows(directory))}

Read-before-write overhead: \`--only-changes\` where every user differs takes
${fmt(directory.cli.at(-1)?.ratio ?? 0, 2)}× the plain run (one read more per user). Where every user already
holds the file, it sends no write and takes ${fmt(directory.cli[2]?.ratio ?? 0, 2)}× the plain run: reads and
writes cost alike here, so on call count alone \`--only-changes\` never wins; it pays for the plan's diff, for not
touching users that need nothing (audit trail, notifications), and where the pod's writes are slower or more
tightly limited than its reads.

## Method

- \`bench/run.ts\` first compiles \`src/\`, \`generated/\` and \`bench/\` with the project's TypeScript
  (\`bench/tsconfig.build.json\`, into \`node_modules/.cache/symphony-pod-admin-bench\`); every measured process
  then runs plain JavaScript with \`node\`, without the tsx loader (which adds a thread and ~50 MB of RSS).
- The simulated pod runs as its own process (\`src/simulator/main.js --port 0\`); one pod process serves all
  throughput rounds (warmed up first with ${fmt(CALLS / 2)} calls), a fresh one serves the CLI runs. Every round
  sends the same uids, so the pod's state does not grow between cases.
- Each throughput case runs in its own fresh child process (\`bench/throughput-case.ts\`), so cases share no JIT
  or heap state: ${fmt(WARMUP)} warm-up calls, then ${fmt(CALLS)} timed calls. ${ROUNDS} rounds; the case order
  rotates each round. Bare openapi-fetch (b) is the slowest case and no target depends on it, so it runs in every
  other round (${OPENAPI_FETCH_ROUNDS} runs) to keep the whole benchmark under 5 minutes on 2 cores.
- (a) is what a customer writes today: \`fetch(url, { method: "POST", headers, body })\` and \`res.text()\` inside
  \`p-map\`. (b) is \`createClient<paths>({ baseUrl })\` (global \`fetch\`) inside \`p-map\`. (c) is
  \`createPodClient({ baseUrl, sessionToken }).bulk.updateFeatures(generator, { concurrency })\` with the default
  transport. (d) is undici's \`request()\` with \`new Agent({ connections: ${CONCURRENCY} })\` inside \`p-map\`.

## How to reproduce

\`\`\`sh
npm ci
npm run bench            # prints the tables, rewrites this file
\`\`\`

Environment knobs: \`BENCH_ROUNDS\` (default 5), \`BENCH_CALLS\` (20000), \`BENCH_CONCURRENCY\` (300),
\`BENCH_WARMUP\` (2000), \`BENCH_MEMORY_ITEMS\` (1000000), \`BENCH_CLI_ROWS\` (100000), \`BENCH_CLI_RUNS\` (2),
\`BENCH_NO_DOCS=1\` (print only), \`BENCH_DIRECTORY_USERS\` (20000; \`BENCH_ONLY=directory\` runs section 7
alone and prints it). The rate-limited section: \`BENCH_RATE_LIMITS\` (20,50,400,1500,5000),
\`BENCH_RATE_WINDOWS\` (100,1000), \`BENCH_RATE_SECONDS\` (40), \`BENCH_RATE_MAX_SECONDS\` (3 × the seconds),
\`BENCH_RATE_EXTRAS\` (token-bucket,changing,shared, or none), \`BENCH_RATE_SVG_DIR\` (where the pictures go);
\`npm run bench:ratelimit\` (or \`BENCH_ONLY=ratelimit\`) runs it alone and, with the defaults, replaces its part of
this page. \`npm run bench -- throughput\` (or \`BENCH_ONLY=throughput\`, about 2 minutes) runs sections 1 and 2
alone and, with their defaults, replaces them, their three targets and the ratio lines here. Results vary with the
machine and its load; compare cases within one run, not figures across machines.

${NOTES}`;
}
