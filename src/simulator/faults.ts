/**
 * Seeded fault injection: one draw per request decides its fate, so the same seed and the same order of requests
 * give the same sequence of faults.
 */

/**
 * Faults the simulated pod injects into user-admin requests (`/pod/...`). Shares are probabilities in [0, 1];
 * their sum must not exceed 1. Everything is drawn from a PRNG seeded with `seed`, so a run is repeatable.
 *
 * @example
 * ```ts
 * const faults: SimulatorFaults = { rateLimit: 0.1, retryAfterSeconds: 1, serverError: 0.05, dropConnection: 0.01, seed: 42 };
 * const pod = await startSimulatedPod({ faults });
 * ```
 */
export interface SimulatorFaults {
  /** Share of requests answered 429 with a `Retry-After` header. Default 0. */
  rateLimit?: number;
  /** The `Retry-After` of a 429, in seconds (fractions allowed). Default 1. */
  retryAfterSeconds?: number;
  /** Share of requests answered 503. Default 0. */
  serverError?: number;
  /** Share of requests whose socket is destroyed without an answer, before the request is applied. Default 0. */
  dropConnection?: number;
  /** Delay before each answer, in milliseconds: a fixed value or a `[min, max]` range drawn per request. Default 0. */
  latencyMs?: number | readonly [number, number];
  /** Seed of the PRNG. Default 1. */
  seed?: number;
}

/**
 * What a request gets: nothing special, a 429, a 503 or a dropped connection.
 *
 * @example
 * ```ts
 * if (plan.next() === Fault.Drop) socket.destroy();
 * ```
 * @internal
 */
export const Fault = { None: 0, RateLimit: 1, ServerError: 2, Drop: 3 } as const;
/**
 * One of the {@link Fault} values.
 *
 * @example
 * ```ts
 * const fault: Fault = Fault.RateLimit;
 * ```
 * @internal
 */
export type Fault = (typeof Fault)[keyof typeof Fault];

/**
 * mulberry32: a tiny, fast 32-bit PRNG, good enough to spread faults and fully determined by its seed.
 *
 * @example
 * ```ts
 * const random = mulberry32(42);
 * const first = random(); // the same on every run
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Fault settings, checked once, with cumulative thresholds so a request costs one draw and a few compares.
 *
 * @example
 * ```ts
 * const plan = new FaultPlan({ rateLimit: 0.1, seed: 7 });
 * const fault = plan.next();
 * ```
 * @internal
 */
export class FaultPlan {
  readonly active: boolean;
  readonly retryAfter: string;
  readonly #dropBelow: number;
  readonly #rateLimitBelow: number;
  readonly #serverErrorBelow: number;
  readonly #latencyMin: number;
  readonly #latencySpan: number;
  readonly #random: () => number;
  // Latency has its own stream so switching latency on does not change which requests fail.
  readonly #latencyRandom: () => number;

  constructor(faults: SimulatorFaults | undefined) {
    const f = faults ?? {};
    const drop = share(f.dropConnection, "dropConnection");
    const rateLimit = share(f.rateLimit, "rateLimit");
    const serverError = share(f.serverError, "serverError");
    if (drop + rateLimit + serverError > 1 + 1e-9) {
      throw new RangeError("faults: dropConnection + rateLimit + serverError must not exceed 1");
    }
    const retryAfter = f.retryAfterSeconds ?? 1;
    if (typeof retryAfter !== "number" || !(retryAfter >= 0) || !Number.isFinite(retryAfter)) {
      throw new RangeError(`faults.retryAfterSeconds must be a number of seconds >= 0, got ${String(retryAfter)}`);
    }
    const [min, max] = latencyRange(f.latencyMs);
    const seed = f.seed ?? 1;
    if (!Number.isInteger(seed)) throw new RangeError(`faults.seed must be an integer, got ${String(seed)}`);
    this.retryAfter = String(retryAfter);
    this.#dropBelow = drop;
    this.#rateLimitBelow = drop + rateLimit;
    this.#serverErrorBelow = drop + rateLimit + serverError;
    this.#latencyMin = min;
    this.#latencySpan = max - min;
    this.#random = mulberry32(seed);
    this.#latencyRandom = mulberry32(seed ^ 0x5bd1e995);
    this.active = this.#serverErrorBelow > 0 || max > 0;
  }

  /** The fault for the next request. */
  next(): Fault {
    if (this.#serverErrorBelow === 0) return Fault.None;
    const r = this.#random();
    if (r < this.#dropBelow) return Fault.Drop;
    if (r < this.#rateLimitBelow) return Fault.RateLimit;
    if (r < this.#serverErrorBelow) return Fault.ServerError;
    return Fault.None;
  }

  /** Milliseconds to wait before answering the next request; 0 for none. */
  latency(): number {
    if (this.#latencySpan === 0) return this.#latencyMin;
    return this.#latencyMin + Math.floor(this.#latencyRandom() * (this.#latencySpan + 1));
  }
}

function share(value: number | undefined, name: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new RangeError(`faults.${name} must be a share between 0 and 1, got ${String(value)}`);
  }
  return value;
}

/**
 * A latency setting checked, as `[min, max]` milliseconds: `faults.latencyMs` (a number or a `[min, max]` range), or
 * the command line's text (`"MS"` or `"MIN-MAX"`). The one rule for both; messages name `name`.
 *
 * @example
 * ```ts
 * latencyRange([2, 10]); // [2, 10]
 * latencyRange("2-10", "--latency"); // [2, 10]
 * latencyRange("10-2", "--latency"); // RangeError: --latency must be a number >= 0 or a MIN-MAX range, got "10-2"
 * ```
 * @throws RangeError for anything else, or a range whose max is below its min.
 * @internal
 */
export function latencyRange(
  value: SimulatorFaults["latencyMs"] | string,
  name = "faults.latencyMs",
): [number, number] {
  if (value === undefined) return [0, 0];
  let min: number;
  let max: number;
  if (typeof value === "string") {
    const match = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(value.trim());
    min = match ? Number(match[1]) : Number.NaN;
    max = match?.[2] === undefined ? min : Number(match[2]);
  } else [min, max] = typeof value === "number" ? [value, value] : value;
  if (!(Number.isFinite(min) && Number.isFinite(max) && min >= 0 && max >= min)) {
    const form = typeof value === "string" ? "MIN-MAX" : "[min, max]";
    throw new RangeError(`${name} must be a number >= 0 or a ${form} range, got ${JSON.stringify(value)}`);
  }
  return [min, max];
}
