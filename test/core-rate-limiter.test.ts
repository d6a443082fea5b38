/**
 * The rate limiter's queue (src/rate-limiter.ts), on a fake clock: the turns it gives are in order and each is given
 * once, whatever the queue's length or the waiters that abort; `max` bounds a known start. Its algorithm (pacing,
 * slow start, hold and probe, cut, regrowth) is pinned in test/flow-control.test.ts.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { AdaptiveRateLimiter } from "../src/core/rate-limiter.js";

afterEach(() => {
  vi.useRealTimers();
});

/** Asks for `n` turns; the list fills with the tickets in the order the turns are given. */
function take(limiter: AdaptiveRateLimiter, n: number, signal?: AbortSignal): number[] {
  const given: number[] = [];
  for (let i = 0; i < n; i++) {
    const turn = limiter.acquire(signal);
    if (typeof turn === "number") given.push(turn);
    else
      void turn.then(
        (ticket) => given.push(ticket),
        () => {},
      );
  }
  return given;
}

describe("AdaptiveRateLimiter's queue (fake clock)", () => {
  it("a known start above max starts at max; nothing refused or cut yet", () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({ perSecond: 100, max: 50 }, () => Date.now());
    expect(limiter.ratePerSecond).toBe(50);
    expect(new AdaptiveRateLimiter({ perSecond: 100 }, () => Date.now()).ratePerSecond).toBe(100);
    expect(limiter.refused).toBe(0);
    expect(limiter.cuts).toBe(0);
    expect(limiter.waiting).toBe(0);
  });

  it("thousands of waiters get their turns in order, each ticket once, and the queue empties", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({ perSecond: 100_000 }, () => Date.now());
    const given = take(limiter, 5_000);
    expect(limiter.waiting).toBeGreaterThan(0);
    await vi.advanceTimersByTimeAsync(200);
    expect(given).toStrictEqual(Array.from({ length: 5_000 }, (_, i) => i + 1));
    expect(limiter.waiting).toBe(0);
    // The queue still works after it was compacted.
    const more = take(limiter, 3);
    await vi.advanceTimersByTimeAsync(10);
    expect(more).toStrictEqual([5_001, 5_002, 5_003]);
  });

  it("a waiter that aborts in the middle of the queue takes no turn; the others keep their order", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({ perSecond: 100 }, () => Date.now());
    expect(limiter.acquire()).toBe(1);
    const first = take(limiter, 2);
    const controller = new AbortController();
    const aborted = limiter.acquire(controller.signal) as Promise<number>;
    const outcome = aborted.catch((error: unknown) => error);
    const last = take(limiter, 2);
    expect(limiter.waiting).toBe(5);
    const reason = new Error("user stopped");
    controller.abort(reason);
    expect(await outcome).toBe(reason);
    expect(limiter.waiting).toBe(4);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(first).toStrictEqual([2, 3]);
    expect(last).toStrictEqual([4, 5]);
    expect(limiter.waiting).toBe(0);
  });

  it("a waiter's signal aborting after its turn was given changes nothing", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({ perSecond: 100 }, () => Date.now());
    limiter.acquire();
    const controller = new AbortController();
    const turn = limiter.acquire(controller.signal);
    await vi.advanceTimersByTimeAsync(20);
    await expect(turn).resolves.toBe(2);
    controller.abort(new Error("too late"));
    const next = take(limiter, 1);
    await vi.advanceTimersByTimeAsync(20);
    expect(next).toStrictEqual([3]);
  });

  it("a probe that got no answer (a network error) is followed by another probe, alone, and an admitted one resumes", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({}, () => Date.now());
    const before = take(limiter, 3);
    limiter.answered(before[0] as number, 429);
    const during = take(limiter, 10);
    await vi.advanceTimersByTimeAsync(500);
    expect(during).toHaveLength(1); // the probe
    limiter.noAnswer(during[0] as number);
    await vi.advanceTimersByTimeAsync(500);
    expect(during).toHaveLength(2); // the next probe, and only it
    limiter.noAnswer(during[1] as number);
    await vi.advanceTimersByTimeAsync(500);
    expect(during).toHaveLength(3);
    limiter.answered(during[2] as number, 200);
    await vi.advanceTimersByTimeAsync(0);
    expect(during).toHaveLength(10);
  });

  it("during a hold, a call from before it that gets no answer does not free a second probe", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({}, () => Date.now());
    const before = take(limiter, 3);
    limiter.answered(before[0] as number, 429);
    const during = take(limiter, 10);
    await vi.advanceTimersByTimeAsync(500);
    expect(during).toHaveLength(1); // the probe, still out
    limiter.noAnswer(before[1] as number);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(during).toHaveLength(1);
    limiter.answered(during[0] as number, 200);
    await vi.advanceTimersByTimeAsync(0);
    expect(during).toHaveLength(10);
  });

  it("a hold that ended without a rate learned resumes in slow start, not with every waiting call at once", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({}, () => Date.now());
    const before = take(limiter, 2);
    limiter.answered(before[0] as number, 429); // too few answers to learn a rate from: hold only
    const probe = take(limiter, 1);
    await vi.advanceTimersByTimeAsync(100);
    expect(probe).toHaveLength(1);
    limiter.answered(probe[0] as number, 200);
    expect(limiter.cuts).toBe(0);
    expect(limiter.ratePerSecond).toBeUndefined(); // still unlimited
    const after = take(limiter, 100);
    await vi.advanceTimersByTimeAsync(1_000);
    // Slow start's window again (10 in flight, one of them from before the hold), not all 100.
    expect(after.length).toBeGreaterThan(0);
    expect(after.length).toBeLessThanOrEqual(10);
    expect(limiter.waiting).toBe(100 - after.length);
  });
});
