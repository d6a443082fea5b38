import { describeValueKind } from "./errors.js";
/**
 * When and how long to retry. Options are merged over {@link DEFAULT_RETRY}; per-call options override the
 * client's.
 *
 * @example
 * ```ts
 * const pod = createPodClient({ baseUrl, sessionToken, retry: { maxAttempts: 8, maxDelayMs: 20_000 } });
 * await pod.users.listFeatures(uid, { retry: { maxAttempts: 1 } }); // this call: no retry
 * ```
 */
export interface RetryOptions {
  /** Attempts in all, the first included; `1` turns retries off. Default 5. */
  maxAttempts?: number;
  /** Backoff before the first retry, in milliseconds; doubles on each retry, with jitter. Default 500. */
  initialDelayMs?: number;
  /** Ceiling of one backoff, in milliseconds (at most 2,147,483,647, a Node timer's range). Default 8,000. */
  maxDelayMs?: number;
  /**
   * Ceiling of one wait asked by the pod with `Retry-After`, in milliseconds. Default 60,000. A call's first 429 may
   * go sooner, once the pod admits again (docs/errors-and-retries.md, "Retry-After").
   */
  maxRetryAfterMs?: number;
}

/**
 * The retry policy used where none is given: 5 attempts, 500 ms doubling to at most 8 s, `Retry-After` honoured up
 * to 60 s.
 *
 * @example
 * ```ts
 * console.log(DEFAULT_RETRY.maxAttempts); // 5
 * ```
 */
export const DEFAULT_RETRY: Readonly<Required<RetryOptions>> = Object.freeze({
  maxAttempts: 5,
  initialDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
});

/** 429 and 5xx are worth another try (501 says the route will never work); every other 4xx is final. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

/** Exponential backoff with "equal jitter": half fixed so retries do spread out, half random so clients do not sync. */
export function backoffDelay(retry: number, policy: Required<RetryOptions>, random: () => number = Math.random) {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (retry - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** `Retry-After` as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (value == null) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 && !signal?.aborted) return Promise.resolve();
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Validates retry options once, at the boundary, so a typo fails loudly instead of retrying forever. */
export function resolveRetry(base: Required<RetryOptions>, override: RetryOptions | undefined, field: string) {
  if (override === undefined) return base;
  if (override === null || typeof override !== "object" || Array.isArray(override)) {
    throw new TypeError(`${field} must be an object such as { maxAttempts: 3 }, got ${describeValueKind(override)}`);
  }
  for (const key of Object.keys(override)) {
    if (!Object.hasOwn(base, key)) {
      throw new TypeError(`${field}.${key} is not a retry option; expected one of: ${Object.keys(base).join(", ")}`);
    }
  }
  const merged = { ...base, ...definedOnly(override) };
  for (const [key, value] of Object.entries(merged)) {
    const attempts = key === "maxAttempts";
    // A wait is a Node timer: beyond MAX_TIMER_MS one fires after 1 ms, and a 30-day ceiling would retry at once.
    if (
      typeof value !== "number" ||
      !Number.isFinite(value) ||
      value < (attempts ? 1 : 0) ||
      (attempts ? !Number.isInteger(value) : value > MAX_TIMER_MS)
    ) {
      const got = typeof value === "string" ? `the string ${JSON.stringify(value)}` : String(value);
      const error = typeof value === "number" ? RangeError : TypeError;
      throw new error(
        `${field}.${key} must be ${attempts ? "an integer ≥ 1" : `a number of ms from 0 to ${MAX_TIMER_MS}`}, got ${got}`,
      );
    }
  }
  return merged;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The longest timer Node honours; beyond it `setTimeout` fires after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** A per-attempt timeout must be a finite, positive number of milliseconds that a Node timer can hold. */
export function checkTimeoutMs(value: unknown, field: string): number {
  if (typeof value !== "number" || !(value > 0) || value > MAX_TIMER_MS) {
    throw new RangeError(`${field} must be a number of milliseconds from 1 to ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  return value;
}
