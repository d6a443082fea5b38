/**
 * What the run's flow control saw, in the words of the summary and the progress log: the rate the pod admitted and
 * the share of requests it answered 429.
 */
import type { FlowControlStats } from "../core/rate-limiter.js";

/**
 * The summary's line: the rate the pod admitted over the run, and the share of its answers that were 429.
 *
 * @example
 * ```ts
 * flowSummary({ admitted: 0, refused: 0, ratePerSecond: undefined }, { admitted: 990, refused: 10, ratePerSecond: 200 }, 5);
 * // "Flow control: the pod admitted 198 calls/s; 10 of 1000 requests (1.0 %) answered 429."
 * ```
 */
export function flowSummary(before: FlowControlStats, after: FlowControlStats, seconds: number): string {
  const admitted = after.admitted - before.admitted;
  const refused = after.refused - before.refused;
  const requests = admitted + refused;
  const rate = admitted / Math.max(seconds, 0.001);
  const share = requests === 0 ? "0.0" : ((100 * refused) / requests).toFixed(1);
  return (
    `Flow control: the pod admitted ${rate.toFixed(0)} calls/s; ${refused} of ${requests} requests (${share} %) ` +
    "answered 429.\n"
  );
}

/**
 * The progress log's addition: the share of requests answered 429 so far, once there is one.
 *
 * @example
 * ```ts
 * flowProgress({ admitted: 0, refused: 0, ratePerSecond: undefined }, { admitted: 97, refused: 3, ratePerSecond: 50 });
 * // " · 429: 3.0 % of 100 requests"
 * ```
 */
export function flowProgress(before: FlowControlStats, now: FlowControlStats): string {
  const refused = now.refused - before.refused;
  if (refused === 0) return "";
  const requests = now.admitted - before.admitted + refused;
  return ` · 429: ${((100 * refused) / requests).toFixed(1)} % of ${requests} requests`;
}
