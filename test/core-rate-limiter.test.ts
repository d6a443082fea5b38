/**
 * The rate limiter's queue (src/rate-limiter.ts), on a fake clock: the turns it gives are in order and each is given
 * once, whatever the queue's length or the waiters that abort; `max` bounds a known start. Its algorithm (pacing,
 * slow start, hold and probe, cut, regrowth) is pinned in test/flow-control.test.ts.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { AdaptiveRateLimiter, type RateLimiterChange } from "../src/core/rate-limiter.js";

/** Slow start by its in-flight window alone: these cases pin the window's steps, not the ramp's pacing. */
const WINDOW_ONLY = { slowStartRamp: false };

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
    const limiter = new AdaptiveRateLimiter({}, () => Date.now(), WINDOW_ONLY);
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
    const limiter = new AdaptiveRateLimiter({}, () => Date.now(), WINDOW_ONLY);
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
    const limiter = new AdaptiveRateLimiter({}, () => Date.now(), WINDOW_ONLY);
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

/** Unlimited start: 40 calls admitted within 100 ms (400/s at the busiest), then 5 answered 429: one cut, a hold. */
async function cutFrom400() {
  vi.useFakeTimers();
  const limiter = new AdaptiveRateLimiter({}, () => Date.now(), WINDOW_ONLY);
  const changes: RateLimiterChange[] = [];
  limiter.onChange = (change) => changes.push(change);
  await vi.advanceTimersByTimeAsync(50);
  for (let i = 0; i < 40; i++) limiter.answered(limiter.acquire() as number, 200);
  const refused = take(limiter, 5);
  for (const ticket of refused) limiter.answered(ticket, 429);
  return { limiter, changes };
}

/** Three calls answered 429 (one cut), then a probe admitted 50 ms later: the rate the hold resumed at. */
async function cutThenResume(limiter: AdaptiveRateLimiter): Promise<number> {
  for (const ticket of take(limiter, 3)) limiter.answered(ticket, 429);
  expect(limiter.cuts).toBe(1);
  const probe = take(limiter, 1);
  await vi.advanceTimersByTimeAsync(50);
  limiter.answered(probe[0] as number, 200);
  return limiter.ratePerSecond ?? Number.NaN;
}

describe("AdaptiveRateLimiter's cut, hold and climb back (fake clock)", () => {
  it("tells its listener of each cut (from, to) and of each hold's end (how long it held)", async () => {
    const { limiter, changes } = await cutFrom400();
    expect(limiter.cuts).toBe(1);
    expect(changes).toStrictEqual([{ kind: "cut", from: Number.POSITIVE_INFINITY, to: 0.7 * 400 }]);
    await vi.advanceTimersByTimeAsync(30);
    const probe = take(limiter, 1);
    expect(probe).toHaveLength(1);
    limiter.answered(probe[0] as number, 200);
    expect(changes.slice(1)).toStrictEqual([{ kind: "resumed", heldMs: 30 }]);
  });

  it("climbs back along CUBIC's concave curve: 7/8 of the way back at half of K (2 s), the old rate at K", async () => {
    const { limiter } = await cutFrom400();
    const probe = take(limiter, 1);
    await vi.advanceTimersByTimeAsync(5);
    limiter.answered(probe[0] as number, 200); // regrowth starts when sending does
    expect(limiter.ratePerSecond).toBeCloseTo(280, 6);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(limiter.ratePerSecond).toBeCloseTo(400 - 120 / 8, 6);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(limiter.ratePerSecond).toBeCloseTo(400, 6);
  });

  it("once paced after a cut, calls in flight are not capped by slow start: a second's worth goes unanswered", async () => {
    const { limiter } = await cutFrom400();
    const probe = take(limiter, 1);
    await vi.advanceTimersByTimeAsync(5);
    limiter.answered(probe[0] as number, 200);
    const sent = take(limiter, 400);
    await vi.advanceTimersByTimeAsync(1_000);
    // Paced from 280/s climbing to 385/s: well over slow start's window of 10 + 41 answers.
    expect(sent.length).toBeGreaterThan(250);
    expect(sent.length).toBeLessThan(400);
  });

  it("refused probes back off from 5 ms, then from one pace of what the pod admits, doubling, to at most ~10 % of it", async () => {
    vi.useFakeTimers({ now: 0 });
    const limiter = new AdaptiveRateLimiter({}, () => Date.now(), WINDOW_ONLY);
    // 15 calls admitted at the start (too few to cut from), then a 429 400 ms later: a hold, no cut.
    for (let i = 0; i < 15; i++) limiter.answered(limiter.acquire() as number, 200);
    await vi.advanceTimersByTimeAsync(400);
    limiter.answered(limiter.acquire() as number, 429);
    const probes: number[] = [];
    let refusing = true;
    void (async () => {
      while (refusing) {
        const ticket = await limiter.acquire();
        probes.push(Date.now());
        limiter.answered(ticket, 429);
      }
    })();
    await vi.advanceTimersByTimeAsync(1_400);
    refusing = false;
    expect(limiter.cuts).toBe(0);
    const gaps = probes.slice(1).map((at, i) => at - (probes[i] as number));
    // 5 ms, then at least one pace of what the pod admits (15 over the 400 ms since the start: 27 ms), doubling, up
    // to one probe per 10 % of that rate as it thins (15 over 1 s and more: 396, then 538 ms).
    expect(probes[0]).toBe(400);
    expect(gaps).toStrictEqual([5, 27, 54, 107, 214, 396, 538]);
  });

  it("a lost probe: the next one goes after the probe delay (5 ms), not at once", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({}, () => Date.now(), WINDOW_ONLY);
    const before = take(limiter, 3);
    limiter.answered(before[0] as number, 429);
    const during = take(limiter, 3);
    expect(during).toHaveLength(1); // the first probe goes at once
    limiter.noAnswer(during[0] as number);
    await vi.advanceTimersByTimeAsync(4);
    expect(during).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(during).toHaveLength(2);
  });

  it("a call made while others wait goes after them, even when a turn frees at that instant", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({}, () => Date.now(), WINDOW_ONLY);
    const first = take(limiter, 10); // slow start: 10 in flight
    const waiting = take(limiter, 3);
    expect(waiting).toHaveLength(0);
    limiter.answered(first[0] as number, 200); // frees a turn (and one more: the window grows to 11)
    const late = take(limiter, 1);
    expect(late).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(waiting).toStrictEqual([11, 12]);
    limiter.answered(first[1] as number, 200);
    limiter.answered(first[2] as number, 200);
    await vi.advanceTimersByTimeAsync(0);
    expect(waiting).toStrictEqual([11, 12, 13]);
    expect(late).toStrictEqual([14]);
  });

  it("slow start ends by itself once 1,000 calls may be in flight", () => {
    vi.useFakeTimers();
    const answeredThenBurst = (answers: number) => {
      const limiter = new AdaptiveRateLimiter({}, () => Date.now(), WINDOW_ONLY);
      for (let i = 0; i < answers; i++) limiter.answered(limiter.acquire() as number, 200);
      return take(limiter, 1_005).length;
    };
    expect(answeredThenBurst(989)).toBe(999); // a window of 10 + 989
    expect(answeredThenBurst(990)).toBe(1_005); // 1,000: no window any more
  });

  it("a paced cut goes under the last second's average admitted, not its busiest 100 ms", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({ perSecond: 400 }, () => Date.now());
    // 40 calls admitted in the first 100 ms (400/s then), then nothing for 800 ms: 40 in the last second.
    const burst = take(limiter, 40);
    await vi.advanceTimersByTimeAsync(100);
    expect(burst).toHaveLength(40);
    for (const ticket of burst) limiter.answered(ticket, 200);
    await vi.advanceTimersByTimeAsync(800);
    const rate = await cutThenResume(limiter);
    expect(rate).toBeGreaterThan(0.97 * 40);
    expect(rate).toBeLessThan(0.97 * 50); // 40 over the ~900 ms since sending started
  });

  it("a cut while sending below the pace goes under what the pod admitted, not back to the plateau", async () => {
    vi.useFakeTimers();
    const limiter = new AdaptiveRateLimiter({ perSecond: 400 }, () => Date.now());
    // One call every 10 ms, each admitted: 100/s, a quarter of the pace.
    for (let i = 0; i < 100; i++) {
      limiter.answered(limiter.acquire() as number, 200);
      await vi.advanceTimersByTimeAsync(10);
    }
    const rate = await cutThenResume(limiter);
    expect(rate).toBeGreaterThan(0.97 * 90);
    expect(rate).toBeLessThanOrEqual(0.97 * 101);
  });
});
