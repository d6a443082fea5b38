import { PodError } from "./errors.js";
/**
 * A failed item: its uid, the input exactly as given (so it can be retried as is) and why it failed.
 *
 * @example
 * ```ts
 * const retry = report.failed.filter((f) => f.error instanceof PodServerError).map((f) => f.input);
 * ```
 */
export interface BulkFailure<Item> {
  /** The item's uid as a decimal string (or as given, when it was not a valid uid). */
  uid: string;
  /** The item as given. */
  input: Item;
  /** A {@link ValidationError}, {@link PodApiError} or {@link PodNetworkError}. */
  error: Error;
}

/**
 * The result of a bulk run: every input item is counted exactly once, in `succeeded`, `failed` or `notAttempted`.
 *
 * @example
 * ```ts
 * const report = await pod.bulk.updateFeatures(items);
 * console.log(`${report.succeeded}/${report.total} applied, ${report.failed.length} failed`);
 * ```
 */
export interface BulkReport<Item> {
  /** Items taken from the input. */
  total: number;
  /** Items applied (a count: holding every success would defeat streaming). */
  succeeded: number;
  /** Items that failed, with their input and error. */
  failed: BulkFailure<Item>[];
  /** Items never sent because the run was aborted or stopped, in input order. */
  notAttempted: Item[];
  /**
   * Set when the run stopped by itself because nothing could succeed: a circuit breaker tripped
   * ({@link PodError.circuitBreaker} says which). Its message names the cause and what to do; the items not taken
   * are in `notAttempted`, ready to run again once the cause is fixed.
   */
  stoppedBy?: PodError;
}

/** How a streamed run ended: what {@link BulkStreams} generators return once they are done. */
export interface BulkStreamEnd {
  /** Set when the run stopped by itself because nothing could succeed; see {@link BulkReport.stoppedBy}. */
  stoppedBy?: PodError;
}

/**
 * The bulk scheduler, generic: it knows items, slots, outcomes and progress, nothing of pods. The pod's parts (an
 * item's shape and uid, the call, when a run cannot succeed) come in as a {@link ScheduledTask}; bulk.ts plugs
 * them in.
 *
 * Our own rather than p-map's `pMapIterable`, which also runs unordered with backpressure: when a run stops (abort,
 * a breaker, the caller's code throwing) this one accounts exactly for every item already pulled from a one-shot
 * source, started or not, and reports each as settled or not attempted.
 */

/** Any source of items: an array, a generator, a stream of parsed CSV rows. @inline */
export type Items<Item> = Iterable<Item> | AsyncIterable<Item>;

/** What the scheduler needs of a task. @internal */
export interface ScheduledTask<Item> {
  /** Checks an item before it runs; returns its key (a uid), or throws its error (the item fails, unsent). */
  check(item: Item): string;
  /** Runs one item; a rejection is the item's failure. */
  run(item: Item): Promise<unknown>;
  /** The key of an item never checked (not attempted), as given. */
  keyOf(item: unknown): string;
  /** The current send rate for progress reports, if the task has one. */
  sendRate?(): number | undefined;
  /** Called with each failure: an error returned stops the run, reported as `stoppedBy`. */
  stopWhen?(error: unknown, counts: { succeeded: number; failed: number }): Error | undefined;
}

/** The scheduler's part of the bulk options. @internal */
export interface ScheduleOptions {
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((progress: BulkProgress) => void) | undefined;
  progressIntervalMs?: number | undefined;
}

const MAX_CONCURRENCY = 1000;

function checkScheduleOptions(options: ScheduleOptions) {
  if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
    throw new TypeError("signal must be an AbortSignal");
  }
  const concurrency = options.concurrency ?? 300;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new RangeError(
      `concurrency must be an integer from 1 to ${MAX_CONCURRENCY}, got ${String(options.concurrency)}`,
    );
  }
  const progressIntervalMs = options.progressIntervalMs ?? 250;
  if (!(progressIntervalMs >= 0)) throw new RangeError("progressIntervalMs must be a number ≥ 0");
  if (options.onProgress !== undefined && typeof options.onProgress !== "function") {
    throw new TypeError("onProgress must be a function");
  }
  return { concurrency, progressIntervalMs };
}

/**
 * Progress of a bulk run, reported at most every `progressIntervalMs` and once at the end.
 *
 * @example
 * ```ts
 * const onProgress = (p: BulkProgress) => console.log(`${p.done} done, ${p.failed} failed, ${p.ratePerSecond.toFixed(0)}/s`);
 * ```
 */
export interface BulkProgress {
  /** Items settled so far: `succeeded + failed`. */
  done: number;
  /** Items the pod accepted. */
  succeeded: number;
  /** Items that failed (after retries) or were invalid. */
  failed: number;
  /** Calls running now, including those waiting for their turn under the rate limit. */
  inFlight: number;
  /** Calls allowed at once: the `concurrency` option. */
  concurrency: number;
  /** Average settled items per second since the start. */
  ratePerSecond: number;
  /**
   * The client's send rate now, in calls per second, as its rate limiter paces calls: learned from the pod's 429
   * answers (see {@link RateLimitOptions}); `undefined` while unlimited, `0` while holding after a 429.
   */
  sendRatePerSecond: number | undefined;
  /** Milliseconds since the start. */
  elapsedMs: number;
}

/**
 * What happened to one input item; the streaming form yields one per item, in the order they settle.
 *
 * @example
 * ```ts
 * for await (const outcome of pod.bulk.stream.updateFeatures(items)) {
 *   if (outcome.status === "failed") console.error(outcome.uid, outcome.error.message);
 * }
 * ```
 */
export type BulkOutcome<Item> =
  | {
      /** The pod accepted the item. */
      status: "succeeded";
      /** The item's uid as a decimal string. */
      uid: string;
      /** The item as given. */
      input: Item;
    }
  | {
      /** The item was invalid, or its call failed after retries. */
      status: "failed";
      /** The item's uid as a decimal string (or as given, when it was not a valid uid). */
      uid: string;
      /** The item as given, so it can be retried as is. */
      input: Item;
      /** A {@link ValidationError}, {@link PodApiError} or {@link PodNetworkError}. */
      error: Error;
    }
  | {
      /** The run was aborted before the item was sent. */
      status: "notAttempted";
      /** The item's uid as given. */
      uid: string;
      /** The item as given. */
      input: Item;
    };

/**
 * A bulk run stopped because of the caller's code, not the pod: the input threw while being read, or `onProgress`
 * threw. The calls already started were awaited first; `report` (from the report form) accounts for every item
 * taken so far, and `cause` is the original error.
 *
 * @example
 * ```ts
 * try {
 *   await pod.bulk.updateFeatures(readRows("users.csv"));
 * } catch (error) {
 *   if (error instanceof BulkRunError) console.error(error.cause, error.report?.succeeded);
 *   else throw error;
 * }
 * ```
 */
export class BulkRunError extends PodError {
  override name = "BulkRunError";
  /** What the run did before it stopped: only set by the report form (`pod.bulk.updateFeatures`, …). */
  readonly report: BulkReport<unknown> | undefined;

  /** @internal */
  constructor(message: string, options: { cause: unknown; report?: BulkReport<unknown> | undefined }) {
    super(message, { cause: options.cause });
    this.report = options.report;
  }
}

/**
 * Runs `task` over `items`: pulls an item only when a slot is free and the consumer has taken the earlier outcomes,
 * so memory stays flat whatever the input's length, and yields one outcome per item as it settles. Stops taking
 * items when the signal aborts, when the caller's code (the input, `onProgress`) throws, or when `task.stopWhen`
 * says nothing can succeed; every item read is still accounted for, those never started as `notAttempted`.
 * @internal
 */
export async function* schedule<Item>(
  items: Items<Item>,
  task: ScheduledTask<Item>,
  options: ScheduleOptions = {},
): AsyncGenerator<BulkOutcome<Item>, { stoppedBy?: Error }> {
  const { concurrency, progressIntervalMs } = checkScheduleOptions(options);
  const iterator = openIterator(items);
  const { signal, onProgress } = options;
  const limit = concurrency;
  let stoppedBy: Error | undefined;
  /** The task says nothing can succeed: stop taking items. */
  const checkStop = (error: unknown) => {
    if (stoppedBy) return;
    stoppedBy = task.stopWhen?.(error, { succeeded, failed });
    if (stoppedBy) stopped = true;
  };

  const started = Date.now();
  let inFlight = 0;
  let succeeded = 0;
  let failed = 0;
  let exhausted = false;
  let stopped = false;
  const ready: BulkOutcome<Item>[] = [];
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const onAbort = () => {
    stopped = true;
    notify();
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  if (signal?.aborted) stopped = true;

  // The caller's code failing (the input, onProgress) stops the run like an abort; it is thrown at the end.
  let runError: BulkRunError | undefined;
  let taken = 0;
  const fail = (what: string, error: unknown) => {
    runError ??= new BulkRunError(
      `bulk run stopped after ${taken} items were read: ${what} threw (${describe(error)})`,
      {
        cause: error,
      },
    );
    stopped = true;
  };

  let lastProgress = 0;
  const progress = (force: boolean) => {
    if (!onProgress) return;
    const now = Date.now();
    if (!force && now - lastProgress < progressIntervalMs) return;
    lastProgress = now;
    const elapsedMs = now - started;
    const done = succeeded + failed;
    try {
      onProgress({
        done,
        succeeded,
        failed,
        inFlight,
        concurrency: limit,
        ratePerSecond: elapsedMs > 0 ? (done * 1000) / elapsedMs : 0,
        sendRatePerSecond: task.sendRate?.(),
        elapsedMs,
      });
    } catch (error) {
      fail("onProgress", error);
    }
  };
  /** The input's next item; undefined when it is exhausted or threw (then the run stops). */
  const pull = async (): Promise<IteratorResult<Item> | undefined> => {
    if (exhausted) return undefined;
    try {
      const next = await iterator.next();
      if (next.done) exhausted = true;
      else taken++;
      return next.done ? undefined : next;
    } catch (error) {
      exhausted = true; // a throwing iterator is finished; do not ask it again
      fail("the input", error);
      return undefined;
    }
  };

  const start = (item: Item) => {
    let uid: string;
    try {
      uid = task.check(item);
    } catch (error) {
      failed++;
      ready.push({ status: "failed", uid: task.keyOf(item), input: item, error: error as Error });
      return;
    }
    inFlight++;
    task.run(item).then(
      () => {
        succeeded++;
        settle({ status: "succeeded", uid, input: item });
      },
      (error: unknown) => {
        failed++;
        checkStop(error);
        settle({ status: "failed", uid, input: item, error: asError(error) });
      },
    );
  };
  const settle = (outcome: BulkOutcome<Item>) => {
    inFlight--;
    ready.push(outcome);
    notify();
  };

  try {
    for (;;) {
      // Fill free slots; `ready` counts against the limit so a slow consumer holds the input back.
      while (!stopped && !exhausted && inFlight + ready.length < limit) {
        const next = await pull();
        if (!next) break;
        // Aborted while the input was being read: this item is not sent.
        if (stopped) ready.push({ status: "notAttempted", uid: task.keyOf(next.value), input: next.value });
        else start(next.value);
      }
      while (ready.length > 0) {
        // biome-ignore lint/style/noNonNullAssertion: length checked
        yield ready.shift()!;
        progress(false);
      }
      if (inFlight === 0 && (exhausted || stopped)) break;
      // Calls that settled while outcomes were being yielded freed slots, or left outcomes: no waiting for those.
      if ((!stopped && !exhausted && inFlight < limit) || ready.length > 0) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
    // Stopped: what was never started is still accounted for, in input order.
    for (let next = await pull(); next; next = await pull()) {
      yield { status: "notAttempted", uid: task.keyOf(next.value), input: next.value };
    }
    progress(true);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!exhausted) await iterator.return?.();
  }
  if (runError) throw runError;
  return stoppedBy ? { stoppedBy } : {};
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function openIterator<Item>(items: Items<Item>): AsyncIterator<Item> | Iterator<Item> {
  if (items !== null && typeof items === "object") {
    const asyncIt = (items as AsyncIterable<Item>)[Symbol.asyncIterator];
    if (typeof asyncIt === "function") return asyncIt.call(items);
    const syncIt = (items as Iterable<Item>)[Symbol.iterator];
    if (typeof syncIt === "function") return syncIt.call(items);
  }
  throw new TypeError("items must be an Iterable or an AsyncIterable (an array, a generator, a stream)");
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Runs `work` over a list already in memory, `concurrency` at a time; the first failure rejects (the others still
 * running settle unobserved). For small fixed lists such as a lookup's batches; bulk runs use {@link schedule},
 * which gives every item an outcome instead.
 * @internal
 */
export async function runPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
