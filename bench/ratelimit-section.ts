/**
 * The rate-limited section of `npm run bench`: `pod.bulk.updateFeatures` against simulated pods that admit N calls a
 * second (fixed windows of W ms), one fresh pod process and one fresh client process per run
 * (`bench/ratelimit-case.ts`). Run alone with `npm run bench:ratelimit` (or `BENCH_ONLY=ratelimit`).
 */
import { readFileSync } from "node:fs";
import { checkRateLimit } from "../src/simulator/ratelimit.js";
import { fmt, markdownTable, runCase, startPodProcess, table } from "./lib.js";

/** What `bench/ratelimit-case.ts` prints. */
export interface RateLimitResult {
  perSecond: number;
  windowMs: number;
  calls: number;
  concurrency: number;
  ms: number;
  succeeded: number;
  failed: number;
  notAttempted: number;
  maxSeconds: number;
  stoppedAtCap: boolean;
  allowedRate: number;
  requests: number;
  answered429: number;
  share429: number;
  limiter: { admitted: number; refused: number };
  clientCpuMs: number;
  failures: Record<string, number>;
  /** Added by the section: the pod process's CPU time over the run's wall time (1 = one core busy). */
  podCpu?: number;
  /** Added by the section: the client process's CPU time over its timed run. */
  clientCpu?: number;
}

/** The section's settings, from the environment. */
export interface RateLimitSettings {
  limits: number[];
  windows: number[];
  seconds: number;
  maxSeconds: number;
  concurrency: number;
  /** True when every setting is its default: only then does a section-only run update docs/benchmarks.md. */
  defaults: boolean;
}

export const DEFAULT_LIMITS = [50, 400, 1500, 5000];
export const DEFAULT_WINDOWS = [100, 1000];
export const DEFAULT_SECONDS = 40;
/** The target the client's rate limiting is written for. */
export const TARGET = { allowedRate: 0.8, share429: 0.1 };

/** Reads BENCH_RATE_* (see bench/run.ts) and checks every limit × window against the simulator's own rules. */
export function rateLimitSettings(env: NodeJS.ProcessEnv, concurrency: number): RateLimitSettings {
  const list = (name: string, fallback: number[]) => {
    const text = env[name];
    if (text === undefined || text.trim() === "") return fallback;
    const values = text.split(",").map((part) => Number(part.trim()));
    if (values.some((n) => !(Number.isFinite(n) && n > 0))) {
      throw new RangeError(`${name} must be a comma-separated list of numbers > 0, got ${JSON.stringify(text)}`);
    }
    return values;
  };
  const positive = (name: string, fallback: number, zeroAllowed = false) => {
    const value = Number(env[name] ?? fallback);
    if (!(Number.isFinite(value) && (value > 0 || (zeroAllowed && value === 0)))) {
      throw new RangeError(`${name} must be a number ${zeroAllowed ? ">= 0" : "> 0"}, got ${env[name]}`);
    }
    return value;
  };
  const limits = list("BENCH_RATE_LIMITS", DEFAULT_LIMITS);
  const windows = list("BENCH_RATE_WINDOWS", DEFAULT_WINDOWS);
  const seconds = positive("BENCH_RATE_SECONDS", DEFAULT_SECONDS);
  // A client can crawl (say, a whole second of Retry-After per 100 ms window): stop a run at 3× its ideal time.
  const maxSeconds = positive("BENCH_RATE_MAX_SECONDS", seconds * 3, true);
  for (const windowMs of windows) {
    for (const perSecond of limits) {
      checkRateLimit(
        { perSecond, windowMs },
        { perSecond: "BENCH_RATE_LIMITS", windowMs: "BENCH_RATE_WINDOWS", algorithm: "algorithm" },
      );
    }
  }
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const defaults =
    same(limits, DEFAULT_LIMITS) &&
    same(windows, DEFAULT_WINDOWS) &&
    seconds === DEFAULT_SECONDS &&
    maxSeconds === DEFAULT_SECONDS * 3 &&
    concurrency === 300;
  return { limits, windows, seconds, maxSeconds, concurrency, defaults };
}

/** The line every run prints, e.g. `rate-limited bulk 1500/s (100 ms windows): 0.87 of the allowed rate, 2.1 % …`. */
export function resultLine(r: RateLimitResult): string {
  return (
    `rate-limited bulk ${r.perSecond}/s (${r.windowMs} ms windows): ${r.allowedRate.toFixed(2)} of the allowed rate, ` +
    `${(r.share429 * 100).toFixed(1)} % of requests answered 429`
  );
}

/** Calls nobody got an answer for (the case's own assertion: there must be none), as a warning line, or "". */
export function lossLine(r: RateLimitResult): string {
  if (r.failed === 0 && r.notAttempted === 0) return "";
  const why = Object.entries(r.failures)
    .map(([name, count]) => `${count} ${name}`)
    .join(", ");
  const cap = r.stoppedAtCap ? ` (stopped at the ${fmt(r.maxSeconds)} s cap)` : "";
  return `  !! ${fmt(r.failed)} failed${why ? ` (${why})` : ""}, ${fmt(r.notAttempted)} not attempted${cap}`;
}

/** CPU time (user + system) of a process so far, in ms, from /proc; undefined where there is no /proc. */
function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the line, in clock ticks (USER_HZ, 100 on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/** Runs every limit × window, one pod process and one client process each; logs a line per run. */
export async function runRateLimitSection(
  settings: RateLimitSettings,
  log: (text: string) => void,
): Promise<RateLimitResult[]> {
  const results: RateLimitResult[] = [];
  for (const perSecond of settings.limits) {
    for (const windowMs of settings.windows) {
      const pod = await startPodProcess([
        "--rate-limit-per-second",
        String(perSecond),
        "--rate-window",
        String(windowMs),
      ]);
      try {
        const cpuBefore = cpuMs(pod.pid);
        const started = performance.now();
        const args = [pod.url, pod.token, perSecond, windowMs, settings.seconds, settings.concurrency];
        const result = await runCase<RateLimitResult>("ratelimit-case", [...args, settings.maxSeconds].map(String));
        const wallMs = performance.now() - started;
        const cpuAfter = cpuMs(pod.pid);
        if (cpuBefore !== undefined && cpuAfter !== undefined) result.podCpu = (cpuAfter - cpuBefore) / wallMs;
        result.clientCpu = result.clientCpuMs / result.ms;
        results.push(result);
        console.log(resultLine(result));
        const loss = lossLine(result);
        if (loss) console.log(loss);
        log(
          `  ${fmt(result.calls)} calls in ${fmt(result.ms / 1000, 1)} s, ${fmt(result.requests)} requests; CPU: ` +
            `pod ${result.podCpu === undefined ? "n/a" : `${fmt(result.podCpu * 100)} %`}, client ${fmt(result.clientCpu * 100)} % of a core`,
        );
      } finally {
        await pod.stop();
      }
    }
  }
  return results;
}

const verdict = (r: RateLimitResult) =>
  r.allowedRate >= TARGET.allowedRate && r.share429 < TARGET.share429 && r.failed === 0 && r.notAttempted === 0
    ? "met"
    : "MISSED";

/** The figures as rows: limit, window, allowed-rate fraction, 429 share, calls, failed / not attempted, CPU, verdict. */
function rows(results: RateLimitResult[]): string[][] {
  return results.map((r) => [
    `${r.perSecond}/s, ${r.windowMs} ms windows`,
    r.allowedRate.toFixed(2),
    `${(r.share429 * 100).toFixed(1)} %`,
    fmt(r.calls),
    `${fmt(r.ms / 1000, 1)} s${r.stoppedAtCap ? " (cap)" : ""}`,
    `${fmt(r.failed)} / ${fmt(r.notAttempted)}`,
    r.podCpu === undefined ? "n/a" : `${fmt(r.podCpu * 100)} %`,
    `${fmt((r.clientCpu ?? 0) * 100)} %`,
    verdict(r),
  ]);
}
const HEADER = [
  "rate-limited bulk",
  "of the allowed rate",
  "answered 429",
  "calls",
  "time",
  "failed / not attempted",
  "pod CPU",
  "client CPU",
  "target",
];

/** The section's text table, for stdout. */
export function rateLimitTable(results: RateLimitResult[]): string {
  return table(HEADER, rows(results));
}

/** The row of the targets table: the worst run's figures. */
export function rateLimitTargetRow(results: RateLimitResult[]): string[] {
  const worstRate = Math.min(...results.map((r) => r.allowedRate));
  const worst429 = Math.max(...results.map((r) => r.share429));
  return [
    `rate-limited bulk: every run ≥ ${TARGET.allowedRate} of the allowed rate, < ${TARGET.share429 * 100} % answered 429, none lost`,
    `${worstRate.toFixed(2)}, ${(worst429 * 100).toFixed(1)} %`,
    results.every((r) => verdict(r) === "met") ? "met" : "MISSED",
  ];
}

export const DOC_START = "<!-- bench:ratelimit -->";
export const DOC_END = "<!-- /bench:ratelimit -->";

/** The section of docs/benchmarks.md, between markers so a section-only run can replace it in place. */
export function rateLimitDoc(results: RateLimitResult[], settings: RateLimitSettings, date: string): string {
  return `${DOC_START}
### 5. Rate-limited bulk

\`pod.bulk.updateFeatures\` (the client's defaults, concurrency ${settings.concurrency}) against a simulated pod
that admits N user-admin calls a second for the whole pod, in fixed windows of W ms aligned to the clock
(\`--rate-limit-per-second N --rate-window W\`: N × W / 1000 calls per window). The calls over the limit get 429
with a whole-second \`Retry-After\`, as real pods send it: 1 s even for a 100 ms window. Each run sends
N × ${settings.seconds} calls (${settings.seconds} s at the limit, distinct uids) from a fresh client process to a
fresh pod process, and is stopped after ${fmt(settings.maxSeconds)} s at most (the calls not sent by then are
*not attempted*).

- *Of the allowed rate*: (calls that succeeded / s) / N. A run starts part-way through a window, so a perfect
  client gets up to one window's worth more than N a second through, a little over 1.00.
- *Answered 429*: the share of all the requests the pod received, retries included, from the pod's own counters
  (\`GET /__simulator/stats\`).
- *Pod CPU*, *client CPU*: each process's CPU time over the run (100 % = one core busy, of two): the pod is not
  the bottleneck while its figure stays well under 100 %.
- *Target*: ≥ ${TARGET.allowedRate} of the allowed rate with < ${TARGET.share429 * 100} % of requests answered
  429, and nothing failed or left unattempted. Run on ${date}.

${markdownTable(HEADER, rows(results))}

\`\`\`
${results.map((r) => [resultLine(r), lossLine(r)].filter(Boolean).join("\n")).join("\n")}
\`\`\`

Alone: \`npm run bench:ratelimit\` (about ${fmt(Math.ceil((settings.limits.length * settings.windows.length * (settings.seconds + 3)) / 60))} minutes at the limit, longer when the client falls behind);
one case: \`BENCH_RATE_LIMITS=1500 BENCH_RATE_WINDOWS=100 npm run bench:ratelimit\` (about ${settings.seconds + 5} s).
${DOC_END}`;
}

/** Replaces the section in an existing docs/benchmarks.md (or inserts it before "## Method"). */
export function spliceRateLimitDoc(page: string, section: string): string {
  const start = page.indexOf(DOC_START);
  const end = page.indexOf(DOC_END);
  if (start !== -1 && end > start) return page.slice(0, start) + section + page.slice(end + DOC_END.length);
  const method = page.indexOf("\n## Method");
  if (method === -1) return `${page.trimEnd()}\n\n${section}\n`;
  return `${page.slice(0, method)}\n${section}\n${page.slice(method)}`;
}
