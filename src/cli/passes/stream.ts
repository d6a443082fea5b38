/**
 * What the read pass and the write pass share: running over a bulk outcome stream with the command's options, and
 * which failures stop a pass for good (a refused session, a failed login, a tripped breaker).
 */
import { PodError, PodUnauthorizedError } from "../../core/errors.js";
import { AuthenticationError } from "../../core/rsa-auth.js";
import type { BulkOutcome, BulkProgress, ScheduleOptions } from "../../core/scheduler.js";

/**
 * Why a pass stops: the pod refused the session token (401), the login failed, or a circuit breaker tripped.
 *
 * @example
 * ```ts
 * const error = new PodUnauthorizedError({ status: 401, method: "GET", path: "/pod/v2/sessioninfo", attempts: 1 });
 * const stop: PassStop | undefined = stopOf(error);
 * console.log(stop?.kind); // token
 * ```
 */
export type PassStop =
  | { kind: "token"; error: PodUnauthorizedError }
  | { kind: "login"; error: AuthenticationError }
  | { kind: "breaker"; error: PodError };

/**
 * Why `error` stops the pass, or undefined if it does not: after these, every later call would fail the same way.
 *
 * @example
 * ```ts
 * console.log(stopOf(new Error("a row's own failure"))); // undefined: the pass goes on
 * ```
 */
export function stopOf(error: unknown): PassStop | undefined {
  if (error instanceof PodUnauthorizedError) return { kind: "token", error };
  if (error instanceof AuthenticationError) return { kind: "login", error };
  if (error instanceof PodError && error.circuitBreaker !== undefined) return { kind: "breaker", error };
  return undefined;
}

/**
 * Runs one pass over a bulk outcome stream: `start` gets the command's options (its concurrency, the pass's abort
 * signal, progress every 200 ms), each outcome goes to `onOutcome` as it settles, and the stream's `stoppedBy` is
 * returned once it ends. Outcomes are pulled one at a time (not `for await`) so that the stream's end is read.
 *
 * @example
 * ```ts
 * const stoppedBy = await runPass(
 *   (options) => pod.bulk.stream.updateFeatures(items, options),
 *   { concurrency: 300, signal: new AbortController().signal, progress: undefined },
 *   (outcome) => console.log(outcome.uid, outcome.status),
 * );
 * ```
 */
export async function runPass<Item, Stop extends Error>(
  start: (options: ScheduleOptions) => AsyncGenerator<BulkOutcome<Item>, { stoppedBy?: Stop } | undefined>,
  options: { concurrency: number; signal: AbortSignal; progress: { update(p: BulkProgress): void } | undefined },
  onOutcome: (outcome: BulkOutcome<Item>) => void,
): Promise<Stop | undefined> {
  const outcomes = start({
    concurrency: options.concurrency,
    signal: options.signal,
    onProgress: options.progress?.update,
    progressIntervalMs: 200,
  });
  for (;;) {
    const next = await outcomes.next();
    if (next.done) return next.value?.stoppedBy;
    onOutcome(next.value);
  }
}
