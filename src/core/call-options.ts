/**
 * The options every call takes as its last argument ({@link CallOptions}), the client's defaults they override,
 * and their checks.
 */
import { describeValueKind } from "./errors.js";
import { checkTimeoutMs, type RetryOptions, resolveRetry } from "./retry.js";

/**
 * Per-call options, accepted as the last argument of every method.
 *
 * @example
 * ```ts
 * await pod.users.listFeatures(uid, { signal: AbortSignal.timeout(5_000), retry: { maxAttempts: 2 } });
 * ```
 */
export interface CallOptions {
  /** Aborts the call, its retries and backoff waits; the call rejects with the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Overrides the client's retry policy for this call. */
  retry?: RetryOptions | undefined;
  /** Overrides the client's per-attempt timeout for this call, in milliseconds. */
  timeoutMs?: number | undefined;
}

/** Settings every call inherits from the client. @internal */
export interface CallDefaults {
  retry: Required<RetryOptions>;
  timeoutMs: number;
}

/** Resolves per-call options over the client's defaults. @internal */
export function settingsFor(defaults: CallDefaults, options: CallOptions | undefined) {
  if (options === undefined) return defaults;
  checkCallOptions(options);
  const timeoutMs =
    options.timeoutMs === undefined ? defaults.timeoutMs : checkTimeoutMs(options.timeoutMs, "timeoutMs");
  return {
    retry: options.retry ? resolveRetry(defaults.retry, options.retry, "retry") : defaults.retry,
    timeoutMs,
    signal: options.signal,
  };
}

/**
 * The last argument of every method, checked at the boundary: a mistyped option fails with a TypeError naming it,
 * instead of a TypeError from deep inside the client or, worse, being ignored.
 * @internal
 */
export function checkCallOptions(options: unknown, what = "options"): asserts options is CallOptions {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(
      `${what} must be an object such as { signal, retry, timeoutMs }, got ${describeValueKind(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (key !== "signal" && key !== "retry" && key !== "timeoutMs") {
      throw new TypeError(`${what}.${key} is not an option; expected signal, retry or timeoutMs`);
    }
  }
  const { signal, retry } = options as CallOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${what}.signal must be an AbortSignal (e.g. AbortSignal.timeout(5000)), got ${describeValueKind(signal)}`,
    );
  }
  if (retry !== undefined && (retry === null || typeof retry !== "object" || Array.isArray(retry))) {
    throw new TypeError(`${what}.retry must be an object such as { maxAttempts: 3 }, got ${describeValueKind(retry)}`);
  }
}
