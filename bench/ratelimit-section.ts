/**
 * The rate-limited section of `npm run bench`: `pod.bulk.updateFeatures` against simulated pods that admit N calls a
 * second (fixed windows of W ms), then three shapes of their own: a token bucket with latency, a limit that drops and
 * rises during the run, and two clients sharing one pod. One fresh pod process and fresh client processes per case
 * (`bench/ratelimit-case.ts`); each case is drawn as an SVG from the pod's own timeline. Run alone with
 * `npm run bench:ratelimit` (or `BENCH_ONLY=ratelimit`).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkRateLimit } from "../src/simulator/ratelimit.js";
import { fmt, markdownTable, runCase, startPodProcess, table } from "./lib.js";
import { lineChart, smooth } from "./svg.js";

/** One case of the section: the pod it runs against and how many clients share it. */
export interface RateLimitCase {
  /** File-safe id, the SVG's name: `ratelimit-<name>.svg`. */
  name: string;
  /** The table's first column. */
  label: string;
  /** The limit at the start, calls/s. */
  perSecond: number;
  windowMs: number;
  /** The simulator's flags. */
  podArgs: string[];
  /** Client processes sharing the pod, each sending `calls / clients`. */
  clients: number;
  /** Calls in all. */
  calls: number;
  /** Changes of the limit during the run (the simulator's `--rate-changes`). */
  changes?: { afterSeconds: number; perSecond: number }[];
}

/** What the pod's `GET /__simulator/timeline` answers. */
interface Timeline {
  stepMs: number;
  admitted: number[];
  refused: number[];
  allowed: number[];
}

/** What `bench/ratelimit-case.ts` prints. */
export interface RateLimitResult {
  /** Added by the section: the case's id and label. */
  name?: string;
  label?: string;
  /** Added by the section, for cases of more than one client: each client's share of the allowed rate. */
  perClient?: number[];
  /** Added by the section, for a limit that rises during the run: seconds until the client used 0.9 of it. */
  riseFoundSeconds?: number | null;
  /** Added by the section: the SVG's path, relative to docs/. */
  picture?: string;
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
  /** The cases of their own shape to run: token-bucket, changing, shared (BENCH_RATE_EXTRAS; "none" for none). */
  extras: string[];
  /** True when every setting is its default: only then does a section-only run update docs/benchmarks.md. */
  defaults: boolean;
}

export const DEFAULT_LIMITS = [20, 50, 400, 1500, 5000];
export const EXTRAS = ["token-bucket", "changing", "shared"];
export const DEFAULT_WINDOWS = [100, 1000];
export const DEFAULT_SECONDS = 40;
/** The target the client's rate limiting is written for. */
export const TARGET = { allowedRate: 0.95, share429: 0.03 };
/** Two clients on one pod: together at least this share of its limit, each at least {@link SHARED_TARGET.each}. */
export const SHARED_TARGET = { together: 0.9, each: 0.4 };
/** A limit that rises during the run must be found (0.9 of it used over a second) within this many seconds. */
export const RISE_TARGET_SECONDS = 5;

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
  const extrasText = env.BENCH_RATE_EXTRAS;
  const extras =
    extrasText === undefined || extrasText.trim() === ""
      ? EXTRAS
      : extrasText.trim() === "none"
        ? []
        : extrasText.split(",").map((part) => part.trim());
  for (const extra of extras) {
    if (!EXTRAS.includes(extra)) {
      throw new RangeError(`BENCH_RATE_EXTRAS must list some of ${EXTRAS.join(", ")} (or none), got ${extra}`);
    }
  }
  const same = <T>(a: T[], b: T[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const defaults =
    same(extras, EXTRAS) &&
    same(limits, DEFAULT_LIMITS) &&
    same(windows, DEFAULT_WINDOWS) &&
    seconds === DEFAULT_SECONDS &&
    maxSeconds === DEFAULT_SECONDS * 3 &&
    concurrency === 300;
  return { limits, windows, seconds, maxSeconds, concurrency, extras, defaults };
}

/** The section's cases: every limit × window, then the extras. */
export function rateLimitCases(settings: RateLimitSettings): RateLimitCase[] {
  const { seconds } = settings;
  const cases: RateLimitCase[] = [];
  for (const perSecond of settings.limits) {
    for (const windowMs of settings.windows) {
      cases.push({
        name: `${perSecond}-${windowMs}ms`,
        label: `${perSecond}/s, ${windowMs} ms windows`,
        perSecond,
        windowMs,
        podArgs: ["--rate-limit-per-second", String(perSecond), "--rate-window", String(windowMs)],
        clients: 1,
        calls: Math.round(perSecond * seconds),
      });
    }
  }
  if (settings.extras.includes("token-bucket")) {
    cases.push({
      name: "400-token-bucket-latency",
      label: "400/s, token bucket of 40, 20–80 ms latency",
      perSecond: 400,
      windowMs: 100,
      podArgs: [
        ...["--rate-limit-per-second", "400", "--rate-window", "100", "--rate-algorithm", "token-bucket"],
        ...["--latency", "20-80"],
      ],
      clients: 1,
      calls: 400 * seconds,
    });
  }
  if (settings.extras.includes("changing")) {
    // Down to 300/s for a quarter of the run, then back: Symphony's throttling adapting to load.
    const drop = seconds / 4;
    const changes = [
      { afterSeconds: drop, perSecond: 300 },
      { afterSeconds: 2 * drop, perSecond: 1000 },
    ];
    cases.push({
      name: "changing-1000-300-1000",
      label: `1000/s → 300/s → 1000/s, 100 ms windows`,
      perSecond: 1000,
      windowMs: 100,
      podArgs: [
        ...["--rate-limit-per-second", "1000", "--rate-window", "100"],
        ...["--rate-changes", changes.map((c) => `${c.afterSeconds}:${c.perSecond}`).join(",")],
      ],
      clients: 1,
      calls: Math.round(allowedCalls(1000, changes, seconds * 1000)),
      changes,
    });
  }
  if (settings.extras.includes("shared")) {
    cases.push({
      name: "shared-400-100ms",
      label: "400/s, 100 ms windows, two clients",
      perSecond: 400,
      windowMs: 100,
      podArgs: ["--rate-limit-per-second", "400", "--rate-window", "100"],
      clients: 2,
      calls: 400 * seconds,
    });
  }
  return cases;
}

/** Calls a limit allows in its first `ms` (the limit starting at `perSecond`, then following `changes`). */
export function allowedCalls(
  perSecond: number,
  changes: readonly { afterSeconds: number; perSecond: number }[] | undefined,
  ms: number,
): number {
  let total = 0;
  let from = 0;
  let rate = perSecond;
  for (const change of changes ?? []) {
    const at = change.afterSeconds * 1000;
    if (at >= ms) break;
    total += ((at - from) * rate) / 1000;
    from = at;
    rate = change.perSecond;
  }
  return total + ((ms - from) * rate) / 1000;
}

/** The line every run prints, e.g. `rate-limited bulk 1500/s (100 ms windows): 0.87 of the allowed rate, 2.1 % …`. */
export function resultLine(r: RateLimitResult): string {
  const clients = r.perClient ? ` (clients: ${r.perClient.map((x) => x.toFixed(2)).join(", ")})` : "";
  const rise =
    r.riseFoundSeconds === undefined
      ? ""
      : `, rise found in ${r.riseFoundSeconds === null ? "never" : `${r.riseFoundSeconds.toFixed(1)} s`}`;
  return (
    `rate-limited bulk ${r.label ?? `${r.perSecond}/s, ${r.windowMs} ms windows`}: ${r.allowedRate.toFixed(3)} of the allowed rate${clients}, ` +
    `${(r.share429 * 100).toFixed(1)} % of requests answered 429${rise}`
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

interface PodStats {
  requests: number;
  byStatus: Record<string, number>;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return (await res.json()) as T;
}

/** Seconds from a rise of the limit until a whole second's admitted calls reached 0.9 of it; null: never. */
export function riseFound(
  timeline: Pick<Timeline, "stepMs" | "admitted">,
  rise: { afterSeconds: number; perSecond: number },
): number | null {
  const perSecondSteps = 1000 / timeline.stepMs;
  const from = Math.round((rise.afterSeconds * 1000) / timeline.stepMs);
  let sum = 0;
  for (let i = from; i < timeline.admitted.length; i++) {
    sum += timeline.admitted[i] ?? 0;
    if (i - from >= perSecondSteps) sum -= timeline.admitted[i - perSecondSteps] ?? 0;
    if (i - from + 1 >= perSecondSteps && sum >= 0.9 * rise.perSecond) {
      return ((i + 1 - from) * timeline.stepMs) / 1000;
    }
  }
  return null;
}

/** The case's picture: the pod's send (arrival), admitted and allowed rates, in calls/s, smoothed over 500 ms. */
function picture(c: RateLimitCase, timeline: Timeline): string {
  const perSecond = 1000 / timeline.stepMs;
  const width = Math.max(1, Math.round(500 / timeline.stepMs));
  const sent = timeline.admitted.map((a, i) => (a + (timeline.refused[i] ?? 0)) * perSecond);
  const admitted = timeline.admitted.map((a) => a * perSecond);
  return lineChart({
    title: `${c.label}${c.clients > 1 ? " (both together)" : ""}`,
    stepSeconds: timeline.stepMs / 1000,
    yLabel: "calls per second",
    series: [
      { name: "sent (arriving at the pod)", color: "#d62728", values: smooth(sent, width) },
      { name: "admitted", color: "#1f77b4", values: smooth(admitted, width) },
      { name: "allowed", color: "#2ca02c", values: timeline.allowed, dashed: true },
    ],
  });
}

/**
 * Runs every case, one pod process and fresh client processes each; logs a line per case. With `svgDir`, writes
 * each case's picture there as `ratelimit-<name>.svg`.
 */
export async function runRateLimitSection(
  settings: RateLimitSettings,
  log: (text: string) => void,
  svgDir?: string,
): Promise<RateLimitResult[]> {
  const results: RateLimitResult[] = [];
  for (const c of rateLimitCases(settings)) {
    const pod = await startPodProcess(c.podArgs);
    try {
      const origin = new URL(pod.url).origin;
      const before = await getJson<PodStats>(`${origin}/__simulator/stats`);
      const cpuBefore = cpuMs(pod.pid);
      const started = performance.now();
      const each = Math.round(c.calls / c.clients);
      const runs = await Promise.all(
        Array.from({ length: c.clients }, () => {
          const args = [pod.url, pod.token, c.perSecond, c.windowMs, settings.seconds, settings.concurrency];
          return runCase<RateLimitResult>("ratelimit-case", [...args, settings.maxSeconds, each].map(String));
        }),
      );
      const wallMs = performance.now() - started;
      const cpuAfter = cpuMs(pod.pid);
      const after = await getJson<PodStats>(`${origin}/__simulator/stats`);
      const timeline = await getJson<Timeline>(`${origin}/__simulator/timeline`);
      const first = runs[0] as RateLimitResult;
      const ms = Math.max(...runs.map((r) => r.ms));
      const succeeded = runs.reduce((sum, r) => sum + r.succeeded, 0);
      const requests = after.requests - before.requests;
      const answered429 = (after.byStatus[429] ?? 0) - (before.byStatus[429] ?? 0);
      const result: RateLimitResult = {
        ...first,
        name: c.name,
        label: c.label,
        calls: c.calls,
        ms,
        succeeded,
        failed: runs.reduce((sum, r) => sum + r.failed, 0),
        notAttempted: runs.reduce((sum, r) => sum + r.notAttempted, 0),
        stoppedAtCap: runs.some((r) => r.stoppedAtCap),
        allowedRate: succeeded / allowedCalls(c.perSecond, c.changes, ms),
        requests,
        answered429,
        share429: requests === 0 ? 0 : answered429 / requests,
        clientCpuMs: runs.reduce((sum, r) => sum + r.clientCpuMs, 0),
        failures: Object.assign({}, ...runs.map((r) => r.failures)),
      };
      if (c.clients > 1) result.perClient = runs.map((r) => r.succeeded / allowedCalls(c.perSecond, c.changes, r.ms));
      const rise = c.changes?.at(-1);
      if (rise !== undefined) result.riseFoundSeconds = riseFound(timeline, rise);
      if (cpuBefore !== undefined && cpuAfter !== undefined) result.podCpu = (cpuAfter - cpuBefore) / wallMs;
      result.clientCpu = result.clientCpuMs / result.ms;
      if (svgDir !== undefined) {
        mkdirSync(svgDir, { recursive: true });
        writeFileSync(join(svgDir, `ratelimit-${c.name}.svg`), picture(c, timeline));
        result.picture = `images/ratelimit-${c.name}.svg`;
      }
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
  return results;
}

const verdict = (r: RateLimitResult) => {
  const none = r.failed === 0 && r.notAttempted === 0;
  if (r.perClient !== undefined) {
    const met = r.allowedRate >= SHARED_TARGET.together && r.perClient.every((x) => x >= SHARED_TARGET.each) && none;
    return met ? "met" : "MISSED";
  }
  const rise =
    r.riseFoundSeconds === undefined || (r.riseFoundSeconds !== null && r.riseFoundSeconds <= RISE_TARGET_SECONDS);
  return r.allowedRate >= TARGET.allowedRate && r.share429 < TARGET.share429 && none && rise ? "met" : "MISSED";
};

/** The figures as rows: limit, window, allowed-rate fraction, 429 share, calls, failed / not attempted, CPU, verdict. */
function rows(results: RateLimitResult[]): string[][] {
  return results.map((r) => [
    r.label ?? `${r.perSecond}/s, ${r.windowMs} ms windows`,
    r.perClient === undefined
      ? r.allowedRate.toFixed(3)
      : `${r.allowedRate.toFixed(3)} (${r.perClient.map((x) => x.toFixed(2)).join(" + ")})`,
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
    `${worstRate.toFixed(3)}, ${(worst429 * 100).toFixed(1)} %`,
    results.every((r) => verdict(r) === "met") ? "met" : "MISSED",
  ];
}

export const DOC_START = "<!-- bench:ratelimit -->";
export const DOC_END = "<!-- /bench:ratelimit -->";

/** The section of docs/benchmarks.md, between markers so a section-only run can replace it in place. */
export function rateLimitDoc(results: RateLimitResult[], settings: RateLimitSettings, date: string): string {
  const pictures = results
    .filter((r) => r.picture !== undefined)
    .map((r) => `![${r.label ?? r.name ?? ""}](${r.picture})`)
    .join("\n\n");
  return `${DOC_START}
### 5. Rate-limited bulk

\`pod.bulk.updateFeatures\` (the client's defaults, concurrency ${settings.concurrency}) against a simulated pod
that admits N user-admin calls a second for the whole pod, in fixed windows of W ms aligned to the clock
(\`--rate-limit-per-second N --rate-window W\`: N × W / 1000 calls per window). The calls over the limit get 429
with a whole-second \`Retry-After\`, as real pods send it: 1 s even for a 100 ms window. Each run sends
N × ${settings.seconds} calls (${settings.seconds} s at the limit, distinct uids) from a fresh client process to a
fresh pod process, and is stopped after ${fmt(settings.maxSeconds)} s at most (the calls not sent by then are
*not attempted*). Three cases of their own shape follow the grid:

- *token bucket*: a bucket of 40 calls refilled at 400/s (\`--rate-algorithm token-bucket\`), with 20–80 ms of
  latency on every admitted call (\`--latency 20-80\`);
- *a limit that changes*: 1,000/s, then 300/s from ${settings.seconds / 4} s to ${settings.seconds / 2} s into the run,
  then 1,000/s again (\`--rate-changes\`), as Symphony's throttling adapts to load. *Rise found*: seconds from the
  rise until a whole second's admitted calls reach 0.9 of the new limit (the pod's own timeline);
- *two clients*: two client processes, each with half the calls, sharing one pod's 400/s. Its figure is both
  together over the longer run, each client's own in brackets.

- *Of the allowed rate*: calls that succeeded over the calls the limit allowed during the run (N × seconds, or the
  changing limit's sum). A run starts part-way through a window, so a perfect client can get a little over 1.00.
- *Answered 429*: the share of all the requests the pod received, retries included, from the pod's own counters
  (\`GET /__simulator/stats\`).
- *Pod CPU*, *client CPU*: each process's CPU time over the run (100 % = one core busy): the pod is not the
  bottleneck while its figure stays well under 100 %.
- *Target* (issue 23): ≥ ${TARGET.allowedRate} of the allowed rate with < ${TARGET.share429 * 100} % of requests
  answered 429, nothing failed or left unattempted, a risen limit found within ${RISE_TARGET_SECONDS} s; two clients
  together ≥ ${SHARED_TARGET.together} and each ≥ ${SHARED_TARGET.each}. Run on ${date}.

${markdownTable(HEADER, rows(results))}

\`\`\`
${results.map((r) => [resultLine(r), lossLine(r)].filter(Boolean).join("\n")).join("\n")}
\`\`\`

Each case over time, from the pod's timeline (\`GET /__simulator/timeline\`, 100 ms steps, the sent and admitted
rates smoothed over 500 ms): the calls arriving at the pod (*sent*), the calls it admitted, and its limit
(*allowed*, dashed). The gap between *sent* and *admitted* is the 429s; the gap between *admitted* and *allowed* is
budget the client left unused.

${pictures}

Alone: \`npm run bench:ratelimit\` (about ${fmt(Math.ceil(((results.length || settings.limits.length * settings.windows.length) * (settings.seconds + 5)) / 60))} minutes at the limit, longer when the client falls behind);
one case: \`BENCH_RATE_LIMITS=1500 BENCH_RATE_WINDOWS=100 BENCH_RATE_EXTRAS=none npm run bench:ratelimit\`
(about ${settings.seconds + 5} s).
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
