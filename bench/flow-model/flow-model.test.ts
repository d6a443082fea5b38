/**
 * A fake-clock model of the rate-limited bench cases, for tuning the client's flow control in seconds instead of
 * minutes, free of a loaded machine's noise: the client's real AdaptiveRateLimiter and the simulator's real
 * RateLimiter, 300 workers, 1-3 ms of loopback latency, and Retry-After honoured as the client does. Not part of
 * `npm test`: `npx vitest run --config bench/flow-model/vitest.config.ts`. Knobs: SHAPES=20/100,chg (a subset),
 * SEEDS=N, SEED0=N, FULL=1 (every shape 40 s, as the bench), TRACE=1 (admitted, refused, pace and cuts each second,
 * or each TRACE_MS ms), LATE=MS (every timer fires up to MS late, as on a loaded machine), OFFSET=MS (each
 * client of a shared shape starts this long after the one before). The 1,500/s and 5,000/s shapes run 20 s and 10 s, not the
 * bench's 40 s, to stay cheap; a limit that changes reports when its rise was found, as the bench does. It printed
 * the figures in the reports of issue 23.
 */
import { it, vi } from "vitest";
import { AdaptiveRateLimiter } from "../../src/core/rate-limiter.js";
import { RateLimiter } from "../../src/simulator/ratelimit.js";
import { riseFound } from "../ratelimit-section.js";

interface Shape {
  name: string;
  perSecond: number;
  windowMs: number;
  algorithm?: "fixed-window" | "token-bucket";
  seconds: number;
  latency?: [number, number];
  changes?: { afterSeconds: number; perSecond: number }[];
  calls?: number;
  clients?: number;
  random?: number;
}

function rand(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function simulate(shape: Shape, seed: number) {
  vi.useFakeTimers({ now: 1_700_000_000_000 + Math.floor(rand(seed)() * 1000), loopLimit: 1e8 });
  const r = rand(seed + 1);
  const late = Number(process.env.LATE ?? 0);
  if (late > 0) {
    const fakeSetTimeout = globalThis.setTimeout;
    const lr = rand(seed + 7);
    globalThis.setTimeout = ((fn: () => void, ms?: number) =>
      fakeSetTimeout(fn, (ms ?? 0) + Math.floor(lr() * late))) as typeof setTimeout;
  }
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  const pod = new RateLimiter({
    perSecond: shape.perSecond,
    windowMs: shape.windowMs,
    algorithm: shape.algorithm ?? "fixed-window",
    changes: shape.changes ?? [],
    now: () => Date.now(),
  });
  const seconds = process.env.FULL ? 40 : shape.seconds;
  const calls = shape.calls ?? shape.perSecond * seconds;
  const clients = shape.clients ?? 1;
  let requests = 0;
  let refused = 0;
  const started = Date.now();
  (globalThis as { __flowDebug?: boolean }).__flowDebug = !!process.env.DEBUG;
  const perClient: number[] = [];
  async function client(index: number, n: number) {
    // Client processes start apart (OFFSET=MS between each), as the bench's do.
    const offset = Number(process.env.OFFSET ?? 0) * index;
    if (offset > 0) await sleep(offset);
    const limiter = new AdaptiveRateLimiter({}, () => Date.now());
    if (index === 0) first = limiter;
    let next = 0;
    let done = 0;
    async function worker() {
      while (next < n) {
        next++;
        for (;;) {
          const t = await limiter.acquire();
          requests++;
          await sleep(Math.floor(r() * 3));
          let ra = pod.take();
          if (shape.random && ra === 0 && r() < shape.random) ra = -1;
          const [lo, hi] = shape.latency ?? [0, 0];
          await sleep(1 + Math.floor(r() * 2) + (ra === 0 ? lo + Math.floor(r() * (hi - lo + 1)) : 0));
          limiter.answered(t, ra === 0 ? 200 : 429);
          if (ra === 0) break;
          refused++;
          await sleep(Math.max(0, ra) * 1000);
        }
        done++;
      }
    }
    await Promise.all(Array.from({ length: 300 }, worker));
    perClient[index] = Date.now() - started;
    return done;
  }
  const trace: string[] = [];
  let first: AdaptiveRateLimiter | undefined;
  let lastA = 0;
  let lastR = 0;
  const tracer = process.env.TRACE
    ? setInterval(
        () => {
          trace.push(
            `${((Date.now() - started) / 1000).toFixed(1)}s adm ${pod.admitted - lastA} ref ${pod.refused - lastR} pace ${first?.ratePerSecond?.toFixed(0)} cuts ${first?.cuts}`,
          );
          lastA = pod.admitted;
          lastR = pod.refused;
        },
        Number(process.env.TRACE_MS ?? 1000),
      )
    : undefined;
  let finished = false;
  const all = Promise.all(Array.from({ length: clients }, (_, i) => client(i, Math.round(calls / clients)))).then(
    (d) => {
      finished = true;
      return d;
    },
  );
  while (!finished) await vi.advanceTimersByTimeAsync(50);
  const done = await all;
  if (tracer) {
    clearInterval(tracer);
    console.log(trace.join("\n"));
  }
  const ms = Date.now() - started;
  vi.useRealTimers();
  return { ms, done, requests, refused, perClient, rise: riseText(pod.timeline.toJSON(), shape.changes?.at(-1)) };
}

/** The bench's "rise found in" figure, after the last change of the limit. */
function riseText(
  timeline: { stepMs: number; admitted: number[] },
  rise: { afterSeconds: number; perSecond: number } | undefined,
): string {
  if (rise === undefined) return "";
  const seconds = riseFound(timeline, rise);
  return seconds === null ? " rise never found" : ` rise found in ${seconds.toFixed(1)} s`;
}

function budget(shape: Shape, ms: number) {
  let total = 0,
    from = 0,
    rate = shape.perSecond;
  for (const c of shape.changes ?? []) {
    const at = c.afterSeconds * 1000;
    if (at >= ms) break;
    total += ((at - from) * rate) / 1000;
    from = at;
    rate = c.perSecond;
  }
  return total + ((ms - from) * rate) / 1000;
}

const SHAPES: Shape[] = [
  { name: "20/100", perSecond: 20, windowMs: 100, seconds: 40 },
  { name: "20/1000", perSecond: 20, windowMs: 1000, seconds: 40 },
  { name: "50/100", perSecond: 50, windowMs: 100, seconds: 40 },
  { name: "50/1000", perSecond: 50, windowMs: 1000, seconds: 40 },
  { name: "400/100", perSecond: 400, windowMs: 100, seconds: 40 },
  { name: "400/1000", perSecond: 400, windowMs: 1000, seconds: 40 },
  { name: "1500/100", perSecond: 1500, windowMs: 100, seconds: 20 },
  { name: "1500/1000", perSecond: 1500, windowMs: 1000, seconds: 20 },
  { name: "5000/100", perSecond: 5000, windowMs: 100, seconds: 10 },
  { name: "5000/1000", perSecond: 5000, windowMs: 1000, seconds: 10 },
  { name: "tb400", perSecond: 400, windowMs: 100, algorithm: "token-bucket", seconds: 40, latency: [20, 80] },
  {
    name: "chg",
    perSecond: 1000,
    windowMs: 100,
    seconds: 40,
    calls: 33000,
    changes: [
      { afterSeconds: 10, perSecond: 300 },
      { afterSeconds: 20, perSecond: 1000 },
    ],
  },
  { name: "random", perSecond: 100000, windowMs: 1000, seconds: 0.1, calls: 10000, random: 0.1 },
  { name: "shared", perSecond: 400, windowMs: 100, seconds: 40, clients: 2 },
];

const only = process.env.SHAPES?.split(",");
it("model", async () => {
  for (const shape of SHAPES) {
    if (only && !only.includes(shape.name)) continue;
    const seeds = Number(process.env.SEEDS ?? 1);
    for (let seed = Number(process.env.SEED0 ?? 1); seed <= seeds; seed++) {
      const res = await simulate(shape, seed);
      const total = res.done.reduce((a, b) => a + b, 0);
      const clients = res.perClient.map((ms, i) => ((res.done[i] ?? 0) / budget(shape, ms)).toFixed(2)).join("+");
      console.log(
        `${shape.name.padEnd(9)} seed ${seed}: ${(total / budget(shape, res.ms)).toFixed(3)} of allowed, ${((100 * res.refused) / res.requests).toFixed(1)} % 429 (${res.refused}), ${(res.ms / 1000).toFixed(1)} s ${clients}${res.rise}`,
      );
    }
  }
}, 600_000);
