/**
 * One rate-limited bulk run in its own process:
 * `node bench/ratelimit-case.js <url> <token> <perSecond> <windowMs> <seconds> <concurrency> <maxSeconds> [calls]`
 * (compiled),
 * against a simulated pod started with `--rate-limit-per-second <perSecond> --rate-window <windowMs>`.
 *
 * Sends `perSecond × seconds` `features/update` calls (distinct uids) through `pod.bulk.updateFeatures` with the
 * client's defaults, and prints as its last line `{ calls, ms, succeeded, failed, notAttempted, allowedRate,
 * requests, answered429, share429, … }`: `allowedRate` is the success rate over the limit, `(succeeded / s) /
 * perSecond`; the 429 share comes from the pod's own counters (`GET /__simulator/stats`), so every request the
 * client made, retries included, is counted without touching the client's transport. `maxSeconds` (0: none) aborts
 * a run that is still going after that long; the items never sent are then in `notAttempted`, and `stoppedAtCap`
 * says so. `calls` (default `perSecond × seconds`) is for the cases that share a pod or change its limit; the
 * section then reads the pod's figures itself.
 */
import { createPodClient } from "../src/index.js";
import type { SimulatorStats } from "../src/simulator/index.js";
import { BASE_UID, benchClientOptions, FEATURE } from "./lib.js";

const [url, token, perSecondArg, windowArg, secondsArg, concurrencyArg, maxSecondsArg, callsArg] = process.argv.slice(
  2,
) as [string, string, string, string, string, string, string, string | undefined];
const perSecond = Number(perSecondArg);
const windowMs = Number(windowArg);
const seconds = Number(secondsArg);
const concurrency = Number(concurrencyArg);
const maxSeconds = Number(maxSecondsArg ?? 0);
const calls = callsArg === undefined ? Math.round(perSecond * seconds) : Number(callsArg);

const statsUrl = `${new URL(url).origin}/__simulator/stats`;
async function podStats(): Promise<SimulatorStats> {
  const res = await fetch(statsUrl);
  if (!res.ok) throw new Error(`GET ${statsUrl} answered ${res.status}`);
  return (await res.json()) as SimulatorStats;
}

const pod = createPodClient({ baseUrl: url, sessionToken: token, ...(await benchClientOptions()) });
const items = (function* () {
  for (let i = 0; i < calls; i++) yield { uid: BASE_UID + i, features: [{ entitlement: FEATURE, enabled: true }] };
})();

const before = await podStats();
const signal = maxSeconds > 0 ? AbortSignal.timeout(maxSeconds * 1000) : undefined;
const cpuBefore = process.cpuUsage();
const started = performance.now();
const report = await pod.bulk.updateFeatures(items, signal === undefined ? { concurrency } : { concurrency, signal });
const ms = performance.now() - started;
const cpu = process.cpuUsage(cpuBefore);
const after = await podStats();

const requests = after.requests - before.requests;
const answered429 = (after.byStatus[429] ?? 0) - (before.byStatus[429] ?? 0);
/** The failures by error class and status, e.g. `{ "PodRateLimitError 429": 12 }`: enough to see what went wrong. */
const failures: Record<string, number> = {};
for (const { error } of report.failed) {
  const key = `${error.name}${"status" in error ? ` ${String(error.status)}` : ""}`;
  failures[key] = (failures[key] ?? 0) + 1;
}

console.log(
  JSON.stringify({
    perSecond,
    windowMs,
    calls,
    concurrency,
    ms,
    succeeded: report.succeeded,
    failed: report.failed.length,
    notAttempted: report.notAttempted.length,
    maxSeconds,
    stoppedAtCap: signal?.aborted ?? false,
    allowedRate: report.succeeded / (ms / 1000) / perSecond,
    requests,
    answered429,
    share429: requests === 0 ? 0 : answered429 / requests,
    limiter: {
      admitted: after.rateLimiter.admitted - before.rateLimiter.admitted,
      refused: after.rateLimiter.refused - before.rateLimiter.refused,
    },
    clientCpuMs: (cpu.user + cpu.system) / 1000,
    failures,
  }),
);
process.exit(0);
