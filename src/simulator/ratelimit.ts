/**
 * The simulated pod's rate limiter: a per-pod budget of calls per second, in fixed windows or as a token bucket,
 * answered with a whole-second `Retry-After` as real pods send it.
 */

import type { ServerResponse } from "node:http";

/**
 * The `rateLimit` option of `startSimulatedPod`, documented there (pod.ts), as the limiter reads it.
 *
 * @internal
 */
export interface SimulatorRateLimit {
  perSecond: number;
  windowMs?: number | undefined;
  algorithm?: "fixed-window" | "token-bucket" | undefined;
  changes?: readonly { afterSeconds: number; perSecond: number }[] | undefined;
  now?: (() => number) | undefined;
}

/**
 * What the limiter's option names are called in error messages: the API's names by default, the flags in the CLI.
 *
 * @example
 * ```ts
 * checkRateLimit({ perSecond: 0 }, { perSecond: "--rate-limit-per-second", windowMs: "--rate-window", algorithm: "--rate-algorithm" });
 * ```
 * @internal
 */
export interface RateLimitNames {
  perSecond: string;
  windowMs: string;
  algorithm: string;
  /** Default `rateLimit.changes`. */
  changes?: string;
}

const API_NAMES: RateLimitNames = {
  perSecond: "rateLimit.perSecond",
  windowMs: "rateLimit.windowMs",
  algorithm: "rateLimit.algorithm",
};

type Change = { afterSeconds: number; perSecond: number };

const ALGORITHMS = ["fixed-window", "token-bucket"] as const;

/**
 * The settings checked, with their defaults filled in, and the calls one window (or a full bucket) holds.
 *
 * @example
 * ```ts
 * const { perWindow } = checkRateLimit({ perSecond: 1500, windowMs: 100 }); // 150
 * ```
 * @throws RangeError naming the option, for a value that makes no sense.
 * @internal
 */
export function checkRateLimit(
  limit: SimulatorRateLimit,
  names: RateLimitNames = API_NAMES,
): Required<Omit<SimulatorRateLimit, "now">> & { perWindow: number } {
  if (typeof limit !== "object" || limit === null) {
    throw new TypeError("rateLimit must be an object such as { perSecond: 100 }");
  }
  const { perSecond, windowMs = 1000, algorithm = "fixed-window", changes = [] } = limit;
  const changesName = names.changes ?? "rateLimit.changes";
  if (!Array.isArray(changes)) throw new TypeError(`${changesName} must be an array of { afterSeconds, perSecond }`);
  let previous = Number.NEGATIVE_INFINITY;
  for (const change of changes as Change[]) {
    const after = change?.afterSeconds;
    if (typeof after !== "number" || !Number.isFinite(after) || after < 0 || after <= previous) {
      throw new RangeError(
        `${changesName}: afterSeconds must be numbers >= 0 in increasing order, got ${String(after)}`,
      );
    }
    previous = after;
    checkRateLimit({ perSecond: change.perSecond, windowMs, algorithm }, names);
  }
  if (typeof perSecond !== "number" || !(perSecond > 0) || !Number.isFinite(perSecond)) {
    throw new RangeError(`${names.perSecond} must be a number of calls per second > 0, got ${String(perSecond)}`);
  }
  if (typeof windowMs !== "number" || !(Number.isInteger(windowMs) && windowMs > 0)) {
    throw new RangeError(`${names.windowMs} must be a whole number of milliseconds > 0, got ${String(windowMs)}`);
  }
  if (!(ALGORITHMS as readonly unknown[]).includes(algorithm)) {
    throw new RangeError(`${names.algorithm} must be one of ${ALGORITHMS.join(", ")}, got ${String(algorithm)}`);
  }
  const exact = (perSecond * windowMs) / 1000;
  const perWindow = Math.round(exact);
  if (algorithm === "fixed-window" && (perWindow < 1 || Math.abs(exact - perWindow) > 1e-9)) {
    throw new RangeError(
      `${names.perSecond} × ${names.windowMs} / 1000 (the calls a fixed window admits) must be a whole number >= 1, ` +
        `got ${perSecond} × ${windowMs} / 1000 = ${exact}`,
    );
  }
  if (algorithm === "token-bucket" && exact < 1) {
    throw new RangeError(
      `${names.perSecond} × ${names.windowMs} / 1000 (the bucket's capacity) must be at least 1 call, got ${exact}`,
    );
  }
  return { perSecond, windowMs, algorithm, changes, perWindow: algorithm === "fixed-window" ? perWindow : exact };
}

/**
 * A per-pod rate limiter. {@link RateLimiter.take} admits a call (answers 0) or refuses it (answers the
 * `Retry-After` in whole seconds, at least 1). Refused calls use up nothing.
 *
 * - Fixed windows: windows of `windowMs` aligned to the clock (`Math.floor(now / windowMs)`), each admitting
 *   `perSecond × windowMs / 1000` calls; a refusal's `Retry-After` is the seconds until the window ends, rounded up.
 * - Token bucket: `perSecond × windowMs / 1000` tokens when full (and at start), refilled continuously at
 *   `perSecond`; a refusal's `Retry-After` is the seconds until one token is back, rounded up.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ perSecond: 10 });
 * const retryAfter = limiter.take();
 * if (retryAfter > 0) answer429(retryAfter);
 * ```
 * @internal
 */
export class RateLimiter {
  readonly #windowMs: number;
  #perWindow: number;
  #perMs: number;
  #perSecond: number;
  readonly #bucket: boolean;
  readonly #changes: readonly Change[];
  #nextChange = 0;
  /** When the first call was counted: changes and the timeline count from there. */
  #startedAt = Number.NaN;
  readonly #now: () => number;
  // Fixed windows: the current window's number and the calls it has admitted.
  #window = Number.NaN;
  #used = 0;
  // Token bucket: tokens left, as of #refilledAt.
  #tokens: number;
  #refilledAt = Number.NaN;
  admitted = 0;
  refused = 0;
  /** What the limiter did, in {@link TIMELINE_STEP_MS} steps since its first call. */
  readonly timeline = new RateTimeline();

  constructor(limit: SimulatorRateLimit) {
    const { perSecond, windowMs, algorithm, perWindow, changes } = checkRateLimit(limit);
    this.#changes = changes;
    this.#perSecond = perSecond;
    const now = limit.now ?? Date.now;
    if (typeof now !== "function") throw new TypeError("rateLimit.now must be a function answering milliseconds");
    this.#windowMs = windowMs;
    this.#perWindow = perWindow;
    this.#perMs = perSecond / 1000;
    this.#bucket = algorithm === "token-bucket";
    this.#now = now;
    this.#tokens = perWindow;
  }

  /** Takes one call from the budget: 0 when admitted, else the whole seconds to wait (≥ 1). */
  take(): number {
    const now = this.#now();
    if (Number.isNaN(this.#startedAt)) this.#startedAt = now;
    const since = now - this.#startedAt;
    while (this.#nextChange < this.#changes.length) {
      const change = this.#changes[this.#nextChange] as Change;
      if (since < change.afterSeconds * 1000) break;
      this.#nextChange++;
      this.#setRate(change.perSecond, now);
    }
    const wait = this.#bucket ? this.#takeToken(now) : this.#takeSlot(now);
    if (wait === 0) this.admitted++;
    else this.refused++;
    this.timeline.count(since, wait === 0, this.#perSecond);
    return wait;
  }

  /** A change of the limit: the current window keeps what it used; a bucket keeps its tokens (capped to the new size). */
  #setRate(perSecond: number, now: number): void {
    if (this.#bucket) this.#takeToken(now); // refill at the old rate up to now
    this.#perSecond = perSecond;
    this.#perMs = perSecond / 1000;
    this.#perWindow = this.#bucket
      ? (perSecond * this.#windowMs) / 1000
      : Math.round((perSecond * this.#windowMs) / 1000);
    if (this.#bucket) this.#tokens = Math.min(this.#tokens, this.#perWindow);
  }

  #takeSlot(now: number): number {
    const window = Math.floor(now / this.#windowMs);
    if (window !== this.#window) {
      this.#window = window;
      this.#used = 0;
    }
    if (this.#used < this.#perWindow) {
      this.#used++;
      return 0;
    }
    return wholeSeconds((window + 1) * this.#windowMs - now);
  }

  #takeToken(now: number): number {
    // A clock going backwards refills nothing.
    const elapsed = Number.isNaN(this.#refilledAt) ? 0 : Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(this.#perWindow, this.#tokens + elapsed * this.#perMs);
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return wholeSeconds((1 - this.#tokens) / this.#perMs);
  }
}

/** Milliseconds as a `Retry-After`: whole seconds, rounded up, at least 1. */
function wholeSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The step of {@link RateTimeline}, in ms. */
export const TIMELINE_STEP_MS = 100;
/** Steps a timeline keeps at most (an hour): a long-running simulator stops recording rather than grow. */
const TIMELINE_MAX_STEPS = 36_000;

/**
 * What a simulated pod's limiter did, step by step since its first call: calls admitted and refused, and the limit
 * in force (calls/s). What `GET /__simulator/timeline` answers.
 *
 * @example
 * ```ts
 * const { stepMs, admitted, refused, allowed } = await (await fetch(`${origin}/__simulator/timeline`)).json();
 * ```
 * @internal
 */
export class RateTimeline {
  readonly #admitted: number[] = [];
  readonly #refused: number[] = [];
  readonly #allowed: number[] = [];

  /** Counts one call `sinceMs` after the first. */
  count(sinceMs: number, admitted: boolean, perSecond: number): void {
    const step = Math.floor(sinceMs / TIMELINE_STEP_MS);
    if (step >= TIMELINE_MAX_STEPS || step < 0) return;
    while (this.#admitted.length <= step) {
      this.#admitted.push(0);
      this.#refused.push(0);
      // A step without calls had the limit of the step before (a change applies at the first call after its time).
      this.#allowed.push(this.#allowed.at(-1) ?? perSecond);
    }
    if (admitted) this.#admitted[step] = (this.#admitted[step] ?? 0) + 1;
    else this.#refused[step] = (this.#refused[step] ?? 0) + 1;
    this.#allowed[step] = perSecond;
  }

  toJSON(): { stepMs: number; admitted: number[]; refused: number[]; allowed: number[] } {
    return { stepMs: TIMELINE_STEP_MS, admitted: this.#admitted, refused: this.#refused, allowed: this.#allowed };
  }
}

/** Answers `value` as JSON with status 200 (the simulator's own routes). @internal */
export function sendJson(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(200, ["content-type", "application/json", "content-length", String(Buffer.byteLength(body))]);
  res.end(body);
}
