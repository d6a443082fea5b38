/**
 * Client-side flow control: paces the sends of one client by a rate, and learns that rate from the pod's 429s.
 * docs/errors-and-retries.md ("Flow control") explains the algorithm and the measurements behind its constants.
 * One algorithm, kept in one file (~1,000 lines, much of it the reasons for its constants).
 */

/**
 * How the client paces its calls. By default it starts unlimited and learns the pod's limit from its 429 answers;
 * give `perSecond` when you know the limit, and `max` to never exceed a rate.
 *
 * @example
 * ```ts
 * // The pod's limit is known: start there, never go above 2,000 calls/s.
 * const pod = createPodClient({ baseUrl, sessionToken, rateLimit: { perSecond: 1_500, max: 2_000 } });
 * ```
 */
export interface RateLimitOptions {
  /**
   * The send rate to start at, in calls per second. The client still lowers it when the pod answers 429, and probes
   * gently above it. Default: unlimited until the pod first answers 429.
   */
  perSecond?: number | undefined;
  /** A ceiling the send rate never exceeds, in calls per second. Default: none. */
  max?: number | undefined;
}

/**
 * What a client's flow control has seen since the client was made: read it with {@link PodClient.flowControl}, e.g.
 * to say at the end of a run what rate the pod admitted.
 *
 * @example
 * ```ts
 * const before = pod.flowControl();
 * await pod.bulk.updateFeatures(items);
 * const after = pod.flowControl();
 * const refused = after.refused - before.refused;
 * console.log(`${refused} of ${refused + after.admitted - before.admitted} answers were 429`);
 * ```
 */
export interface FlowControlStats {
  /** Answers other than 429 (any status), since the client was made. */
  admitted: number;
  /** Answers 429, since the client was made. */
  refused: number;
  /** The send rate now, in calls per second; `undefined` while unlimited, `0` while holding after a 429. */
  ratePerSecond: number | undefined;
}

/** Multiplicative decrease out of the unlimited start: the rate after the first cut is this share of the estimate. */
const BETA = 0.7;
/**
 * Decrease once paced: the rate after a cut is this share of what the pod admitted over the last second. That
 * figure is measured, not guessed, so the cut only needs to get back under it (a deep cut costs seconds of regrowth).
 */
const BETA_PACED = 0.97;
/**
 * Decrease at the end of a hold at the plateau whose probe was refused too: the second that ended when the budget
 * renewed, all at a pace at or above the limit, admitted at most the limit (0.97-0.99 of it in 100 ms windows, the
 * ends of some lost to holds), so a shallow cut is under it. Under {@link PLATEAU_SHARE}, so that the holds right after it count as below the
 * plateau (a pod shedding calls).
 */
const BETA_AT_PLATEAU = 0.985;
/**
 * Seconds CUBIC takes to climb back to the rate before a cut (K): this many, longer at low rates, and
 * {@link RECLIMB_SECONDS} when the pod admitted well above that rate lately.
 */
const RECOVERY_SECONDS = 2;
/**
 * At low rates K is longer, about this many calls: each probe above the plateau costs a 429 or two (in one-second
 * windows, up to ten), which at 20 calls/s every 3 s would be 3 % of the calls.
 */
const PLATEAU_CALLS = 200;
/**
 * ...and below this rate (calls/s), longer still, by the ratio: in one-second windows a probing cycle costs 5-9
 * 429s whatever the rate, which at 20 calls/s every 12 s was 2.5 % of the calls on top of the opening's.
 */
const LOW_RATE = 40;
/** ...but never more than this many seconds, or a rate learned from a handful of answers would hardly grow. */
const MAX_RECOVERY_SECONDS = 20;
/**
 * CUBIC's C above the plateau, relative to it, whatever the cut's depth: 3 × the plateau 3.8 s after passing it, so
 * a limit that rises is found within 5 s (8 s under 100 calls/s, where {@link MAX_CONVEX_STRETCH} applies).
 */
const CUBIC_C = (1 - BETA) / 2 ** 3;
/**
 * A long K (low rates) stretches the convex side too, by K / {@link RECOVERY_SECONDS} up to this factor, as it
 * stretches the concave one. At CUBIC_C's own pace, 50 calls/s passed the limit climbing 25 % a second, so the last
 * second's admitted answers, read at the cut, were 8-10 % under the limit (46 read for 50).
 */
const MAX_CONVEX_STRETCH = 2;
/**
 * At most one cut per this many milliseconds while below the plateau: a fixed window keeps answering 429 until it
 * resets, which the hold handles, and cuts compounding on every 429 would collapse the rate.
 */
const CUT_COOLDOWN_MS = 2000;
/** The lowest rate a cut goes to, in calls per second. */
const MIN_RATE = 0.5;
/** Tokens the bucket holds at most, in milliseconds of the current rate: absorbs timer lateness, no bursts. */
const BURST_MS = 10;
/**
 * Probes during a hold: the first goes at once, later ones back off to at most {@link PROBE_DELAY_MAX_MS}, or
 * longer when the pod admits few calls, so that probes spend at most about {@link PROBE_SHARE} of its budget.
 */
const PROBE_DELAY_FIRST_MS = 5;
const PROBE_DELAY_MAX_MS = 100;
const PROBE_SHARE = 0.1;
/**
 * A refused call is woken to carry a hold's probe before its `Retry-After` only when the pod asked for at most this
 * many ms: whole seconds rounded up from a window's end ask 1 s (2 s for a window just over a second).
 */
const CARRIER_MAX_RETRY_AFTER_MS = 2000;
/** Slow start: calls in flight allowed before the first answer; each answer that is not a 429 allows one more. */
const SLOW_START_WINDOW = 10;
/** Slow start ends by itself once this many calls may be in flight (more than any bulk run sends at once). */
const SLOW_START_CAP = 1_000;
/**
 * Slow start is paced too, at this many calls/s per admitted answer (plus {@link SLOW_START_WINDOW}): the rate
 * doubles each time the answers do, as TCP's window does per round trip. What a pod refuses of the opening is what
 * was sent in the round trip after its budget ran out, rate × round trip: cold connections take 20 ms or more, so
 * the in-flight window alone (or a ramp by time) had 25 calls in flight when a pod admitting 20 a second ran out,
 * and 250 when one admitting 400 did. Paced by answers, 5,000/s is reached ~0.25 s into a run.
 */
const RAMP_PER_ANSWER = 15;
/**
 * ...but the first calls of a fresh client go at once, as many as this: a few calls made together are not delayed
 * (10, the whole window, cost a pod of 20 calls/s in 100 ms windows 8 refusals at once).
 */
const RAMP_FIRST_CALLS = 5;
/** The ramp ends (unpaced) at this rate. */
const RAMP_END_RATE = 100_000;
/**
 * A run's first this many ms: its seconds straddle the opening's burst, so what the pod admitted over them is not
 * remembered as a rate it takes, nor trusted to tell a pod shedding calls from one refusing the excess.
 */
const OPENING_MS = 2000;
/** Two renewals of the pod's budget further apart than this (ms) say nothing about its rate. */
const RESET_SPAN_MS = 2000;
/** The budget's rate between two renewals makes a cut only when it is under this share of the pace... */
const RESET_CUT_BELOW = 0.8;
/** ...and the client sent at least this share of its pace between them, while not held (else they were not spent). */
const KEPT_UP_SHARE = 0.5;
/**
 * A rate the pod admitted over a whole second, within this many ms, and above {@link RECLIMB_ABOVE} × the plateau,
 * is climbed back to in {@link RECLIMB_SECONDS} once past the plateau, and K is that too: a limit that dropped for
 * a while and rose again (Symphony's throttling adapting to load) is found in 1 to 2 s, not 4 to 6.
 */
const PROVEN_MS = 30_000;
const RECLIMB_ABOVE = 1.2;
const RECLIMB_SECONDS = 1;
/** The admitted-rate estimate looks back this far, in 10 ms buckets. */
const BUCKET_MS = 10;
const BUCKETS = 100;
/** The first cut, out of the unlimited start, reads the admitted rate over the busiest span this long. */
const PEAK_SPAN_MS = 100;
/** A cut needs at least this many admitted answers behind its estimate; before that a 429 only holds. */
const MIN_SAMPLE = 20;
/** A cut needs at least this share of the last second's answers to be 429. */
const MIN_REFUSED_SHARE = 0.02;
/** Before the first cut, this many 429s outnumbering as many admitted answers mean a limit of a few calls a second. */
const DENSE_START_REFUSED = 3;
/** A 429 while the rate is below this share of the last plateau is not the rate's doing... */
const PLATEAU_SHARE = 0.99;
/** ...and this many of them since the last cut keep the plateau where it was. */
const REFUSED_BELOW_PLATEAU_TO_KEEP = 3;
/** A cut's last second, sent at under this share of the pace it was refused at, was read while climbing. */
const CLIMBED_SHARE = 0.9;
/**
 * The {@link COLLAPSE_CUTS}th cut in a row below the plateau, leaving it under this share of the last cycle's top:
 * the rate collapsed cut after cut (a storm of 429s, each finding the client sending twice what the pod admitted),
 * so the plateau is no measured limit. The low rates' long K (20 s at 20 calls/s) kept a pod that had recovered at
 * 20 calls/s for 20 s.
 */
const COLLAPSED_SHARE = 0.5;
/** Cuts in a row below the plateau that make a collapse; one or two are a limit found from above it. */
const COLLAPSE_CUTS = 3;
/** Sending this many times what the pod admits means a bad estimate (from a burst): cut at once, cooldown or not. */
const SENT_FAR_ABOVE_ADMITTED = 1.5;

interface Waiter {
  resolve: (ticket: number) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** A call refused with a 429, waiting to be retried: until the hold ends, or its `Retry-After` if sooner. */
interface RetryWaiter {
  /** Whether it may be woken to carry a probe: its `Retry-After` is short enough to be a window's rounding. */
  mayCarry: boolean;
  resolve: () => void;
  timer: ReturnType<typeof setTimeout>;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** A cut of the rate (calls per second; `from` Infinity out of the unlimited start), or the end of a 429 hold. @internal */
export type RateLimiterChange = { kind: "cut"; from: number; to: number } | { kind: "resumed"; heldMs: number };

/**
 * The rate limiter every call of a client goes through (facade, bulk, raw).
 *
 * - **Pacing.** A token bucket refilled at `rate` calls/s (at most {@link BURST_MS} ms of tokens), so a fast network
 *   cannot turn 300 calls in flight into 10,000 calls a second.
 * - **Slow start.** Until the first 429, calls in flight grow from {@link SLOW_START_WINDOW} by one per answer, and
 *   sends are paced at {@link RAMP_PER_ANSWER} calls/s per answer, so a run's opening burst cannot spend much more
 *   than the pod's budget before the pod says so.
 * - **Hold and probe.** A 429 stops new sends except one probe at a time; the first answer that is not a 429 to a
 *   call sent during the hold means the pod admits again, and pacing resumes. Against a fixed-window limit this is
 *   what keeps the rest of an exhausted window from being answered 429 call after call. The next call goes one pace
 *   after the probe that ended the hold. Calls refused wait for the hold's end too ({@link waitToRetry}), and when
 *   only they wait, one of them carries the next probe.
 * - **Cut.** Out of the unlimited start, a 429 lowers the rate to {@link BETA} × the busiest 100 ms admitted; once
 *   paced, to {@link BETA_PACED} × what the pod admitted over the last second (measured, so a shallow cut gets under
 *   it). At most once per {@link CUT_COOLDOWN_MS}, unless the rate is back at its plateau and refused again. At the
 *   plateau, a hold whose probe was refused too cuts when it ends, to {@link BETA_AT_PLATEAU} × the second that
 *   ended when the budget renewed.
 * - **A spent budget, measured.** Two holds whose probes were refused until one was admitted are two renewals of
 *   the pod's budget; the calls admitted between them are its rate, if the client kept to its pace between them
 *   (else the windows were not spent). A pace well above it goes just under it. The
 *   first renewal counts from the busy period's start when its hold lasted longer than the start took to reach it:
 *   its window then began about the first call, so that is an upper bound of the rate, far under the opening's burst
 *   estimate.
 * - **A limit of a few calls a second.** Before any cut, a hold whose probes were refused until a window reset (or
 *   most of the opening burst refused) resumes paced at what the pod admitted so far, not in a burst per window.
 * - **Random 429s.** 429s that keep coming while the rate is still below its plateau, at a pace the pod admitted
 *   when it last cut, are a pod shedding calls, not the rate: the plateau stays (a hold each, no cut), so they cannot
 *   sink the rate cut after cut. A hold whose probes were refused twice is a limit and does not count.
 * - **Probe up.** After a cut the rate follows CUBIC: concave back to the rate before the cut in K s
 *   ({@link RECOVERY_SECONDS}, longer at low rates, but 2 s after a cut read while the pace climbed fast, and after
 *   cuts in a row below the plateau to under {@link COLLAPSED_SHARE} of the last cycle's top; 1 s when the pod
 *   admitted more than {@link RECLIMB_ABOVE} × the plateau in a second of the last 30 s), then
 *   convex above it at the same pace whatever the cut (stretched with a long K, at most {@link MAX_CONVEX_STRETCH}
 *   ×); never above twice what the pod admits (no use probing a rate the client does not send), nor above `max`.
 *
 * Each send takes a ticket from {@link acquire} and must hand it back through {@link answered} or
 * {@link noAnswer}.
 * @internal
 */
export class AdaptiveRateLimiter {
  readonly #now: () => number;
  readonly #max: number;
  /** The paced rate in calls per second; Infinity while unlimited. */
  #rate: number;
  #tokens = 0;
  #refilledAt = 0;
  readonly #queue: Waiter[] = [];
  #queueHead = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #releasePending = false;
  /** Tickets are a sequence: "sent after X" is a comparison. */
  #nextTicket = 1;
  #inFlight = 0;

  #slowStart: boolean;
  #slowStartWindow = SLOW_START_WINDOW;
  readonly #ramp: boolean;

  #holding = false;
  /** The first ticket sent during the current (or last) hold. */
  #holdTicket = 0;
  /** The first ticket sent after the last hold ended: 429s for older calls belong to an event already handled. */
  #resumeTicket = 0;
  #probeTicket = 0;
  #probeInFlight = false;
  #nextProbeAt = 0;
  #probeDelay = 0;
  /** When the probe now (or last) out was sent, and when the last probe refused during this hold was. */
  #probeSentAt = 0;
  #refusedProbeSentAt = 0;
  /** Refused calls waiting for this hold to end, oldest first ({@link waitToRetry}). */
  #retries: RetryWaiter[] = [];
  /** The timer that wakes a refused call to carry the next probe, and when; and when one was woken, not yet sent. */
  #carrierTimer: ReturnType<typeof setTimeout> | undefined;
  #carrierAt: number | undefined;
  #carrierWokenAt = Number.NEGATIVE_INFINITY;

  #lastCutAt = Number.NEGATIVE_INFINITY;
  /** CUBIC state: the rate before the last cut, and when regrowth started (ms); `epoch` undefined = no curve yet. */
  #wMax = Number.POSITIVE_INFINITY;
  #epoch: number | undefined;
  /** The curve's depth below wMax at its start (1 - the rate after the cut / wMax), and its K in seconds. */
  #depth = 1 - BETA;
  /**
   * The last cycle's top: the plateau set by the last cut made at or above the plateau before it (a probing cycle's
   * end, or the first cut; a dense start's pace is on its plateau, so the cut after it is one), or the known start;
   * and the cuts below the plateau since.
   */
  #cycleTop = 0;
  #cutsBelow = 0;
  #k = RECOVERY_SECONDS;
  #cutDuringHold = false;
  /** Probes answered 429 during the current hold: two in a row are a limit, not a pod shedding a few calls. */
  #refusedProbes = 0;
  /**
   * Holds started since the last cut while the rate was well below the plateau (a sign of a pod shedding calls),
   * less those whose probes were then refused twice (a limit).
   */
  #refusedBelowPlateau = 0;
  /** Whether the current hold was counted in {@link #refusedBelowPlateau} at its start. */
  #holdCounted = false;
  /** When the pod's budget was last seen renewed (probes refused until one was admitted), and the answers before. */
  #lastReset: { at: number; admitted: number; sent: number; heldMs: number } | undefined;
  /** Milliseconds held since the limiter was made (the holds that ended). */
  #heldMs = 0;
  /** The busiest second the pod admitted lately (calls/s), and when it was last seen. */
  #proven: { rate: number; at: number } | undefined;
  /** What the pod admitted per second when the rate was last cut (Infinity before any cut). */
  #admittedAtCut = Number.POSITIVE_INFINITY;

  /** Answers that were not 429 (with one more second kept, for {@link #admittedUntilRenewal}), and sends, by 10 ms. */
  readonly #admitted = new RateWindow(BUCKETS);
  readonly #sent = new RateWindow();
  readonly #refusedWindow = new RateWindow();
  /** Start of the current busy period: the admitted rate is not diluted by an idle minute before it. */
  #activeSince: number | undefined;
  /** {@link admitted} when the busy period started. */
  #admittedBeforeActive = 0;
  #lastActivity = Number.NEGATIVE_INFINITY;

  /** Calls answered 429, since the limiter was made. */
  refused = 0;
  /** Calls answered with anything but 429, since the limiter was made. */
  admitted = 0;
  /** Rate cuts made, since the limiter was made. */
  cuts = 0;
  /** Told of each cut and of each hold's end (after how long), for the client's log. */
  onChange: ((change: RateLimiterChange) => void) | undefined;
  #heldSince = 0;

  /**
   * @param tuning `slowStartRamp: false` leaves slow start to its in-flight window alone, for the tests that pin the
   *   window's own steps.
   */
  constructor(
    options: RateLimitOptions = {},
    now: () => number = () => performance.now(),
    tuning: { slowStartRamp?: boolean } = {},
  ) {
    this.#now = now;
    this.#ramp = tuning.slowStartRamp ?? true;
    this.#max = options.max ?? Number.POSITIVE_INFINITY;
    const start = options.perSecond;
    this.#slowStart = start === undefined;
    if (start === undefined) {
      this.#rate = this.#max;
    } else {
      // A known limit: sit on CUBIC's plateau at that rate, so it is probed above only gently.
      this.#rate = Math.min(start, this.#max);
      this.#wMax = start;
      this.#cycleTop = start;
      this.#epoch = now() - RECOVERY_SECONDS * 1000;
    }
    this.#refilledAt = now();
    // Then one at a time, a pace apart. Under a ceiling, not even the first few go faster than it.
    this.#tokens = this.#firstCalls();
  }

  /** The current send rate in calls per second, or undefined while unlimited. */
  get ratePerSecond(): number | undefined {
    if (this.#holding) return 0;
    const rate = this.#currentRate(this.#now());
    return Number.isFinite(rate) ? rate : undefined;
  }

  /** Calls waiting for their turn to be sent. */
  get waiting(): number {
    return this.#queue.length - this.#queueHead;
  }

  /**
   * Waits for this call's turn; resolves to its ticket. Synchronous when the call may go at once, so an unlimited
   * client pays no extra tick. Rejects with the signal's reason if it aborts while waiting.
   */
  acquire(signal?: AbortSignal): number | Promise<number> {
    if (this.#queueHead === this.#queue.length && this.#mayGoNow(this.#now())) return this.#send();
    signal?.throwIfAborted();
    return new Promise<number>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, signal, onAbort: undefined };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.#queue.indexOf(waiter, this.#queueHead);
          if (index >= 0) this.#queue.splice(index, 1);
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#queue.push(waiter);
      this.#schedule();
    });
  }

  /** The call holding `ticket` got an HTTP answer with `status`. */
  answered(ticket: number, status: number): void {
    this.#inFlight--;
    const now = this.#now();
    const isProbe = ticket === this.#probeTicket && this.#probeInFlight;
    if (isProbe) this.#probeInFlight = false;
    if (status === 429) {
      this.refused++;
      this.#refusedWindow.add(now);
      this.#slowStart = false;
      if (this.#holding) {
        // The calls in flight when the window ran out come back refused during the hold: they are the density.
        this.#maybeCut(now);
        if (isProbe) {
          this.#refusedProbes++;
          this.#refusedProbeSentAt = this.#probeSentAt;
          this.#nextProbeAt = Math.max(this.#nextProbeAt, now + this.#probeDelay);
          const admitted = this.#admittedRate(now);
          const ceiling = Math.min(
            1000,
            Math.max(PROBE_DELAY_MAX_MS, admitted > 0 ? 1000 / (PROBE_SHARE * admitted) : 0),
          );
          const pace = admitted > 0 ? 1000 / admitted : 0;
          this.#probeDelay = Math.min(ceiling, Math.max(PROBE_DELAY_FIRST_MS, pace, this.#probeDelay * 2));
        }
      } else if (ticket >= this.#resumeTicket) {
        this.#startHold(now);
      }
    } else {
      this.admitted++;
      this.#countAdmitted(now);
      if (this.#slowStart && ++this.#slowStartWindow >= SLOW_START_CAP) this.#slowStart = false;
      if (this.#holding && ticket >= this.#holdTicket) this.#endHold(now);
    }
    this.#schedule();
  }

  /** The call holding `ticket` got no answer (network error, timeout, abort). */
  noAnswer(ticket: number): void {
    this.#inFlight--;
    if (ticket === this.#probeTicket && this.#probeInFlight) {
      this.#probeInFlight = false;
      this.#nextProbeAt = this.#now() + this.#probeDelay;
    }
    this.#schedule();
  }

  /**
   * Waits before retrying a call the pod has just refused (told {@link answered} 429): until the hold that refusal
   * started or fell in ends, or `retryAfterMs` if that comes first (the pod's `Retry-After` as capped by the retry
   * policy, or the backoff without one; `askedMs` is what the pod asked, uncapped). A `Retry-After` is
   * whole seconds, and the pod's window may be 100 ms: the probe admitted at the hold's end says the pod admits
   * again, and the retry is then paced like any call. A refusal that came after its hold ended (a call sent before
   * the hold) goes at once, for the same reason. Rejects with the signal's reason if it aborts while waiting.
   *
   * While every call waiting is a refused one (nothing queued to carry the next probe) and two or more wait, the
   * oldest of them is woken to carry it: in a 5,000/s opening, 300 calls refused at once held a bulk run's 300
   * concurrency slots for a whole second, with nothing to probe whether the pod admitted again. A call alone gains
   * nothing worth sending before its `Retry-After`; nor is a call the pod asked to wait longer than
   * {@link CARRIER_MAX_RETRY_AFTER_MS} woken to carry one: a pod that asks that much means it (an overload, a
   * maintenance), where a window's whole-second rounding asks 1 s.
   */
  waitToRetry(retryAfterMs: number, signal?: AbortSignal, askedMs = retryAfterMs): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.#holding || retryAfterMs <= 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: RetryWaiter = {
        mayCarry: askedMs <= CARRIER_MAX_RETRY_AFTER_MS,
        resolve,
        signal,
        onAbort: undefined,
        timer: setTimeout(() => {
          this.#wakeRetry(waiter);
          this.#scheduleCarrier(this.#now());
        }, retryAfterMs),
      };
      if (signal) {
        waiter.onAbort = () => {
          clearTimeout(waiter.timer);
          this.#dropRetry(waiter);
          this.#scheduleCarrier(this.#now());
          reject(signal.reason);
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.#retries.push(waiter);
      this.#schedule();
    });
  }

  /** Refused calls waiting (for a hold to end, or their `Retry-After`). */
  get waitingToRetry(): number {
    return this.#retries.length;
  }

  #dropRetry(waiter: RetryWaiter): void {
    const index = this.#retries.indexOf(waiter);
    if (index >= 0) this.#retries.splice(index, 1);
  }

  #wakeRetry(waiter: RetryWaiter): void {
    this.#dropRetry(waiter);
    clearTimeout(waiter.timer);
    if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    waiter.resolve();
  }

  /** At a hold's end, every refused call waiting goes (paced, through {@link acquire}). */
  #wakeAllRetries(): void {
    const waiting = this.#retries;
    this.#retries = [];
    for (const waiter of waiting) this.#wakeRetry(waiter);
  }

  /**
   * When a probe is due and only refused calls wait, wakes the oldest to carry it (see {@link waitToRetry}). It asks
   * for its turn like any call, so a wake a little early only queues it. Re-armed when the time moves.
   */
  #scheduleCarrier(now: number): void {
    const at = this.#carrierDueAt();
    if (at === this.#carrierAt) return;
    clearTimeout(this.#carrierTimer);
    this.#carrierAt = at;
    this.#carrierTimer = at === undefined ? undefined : setTimeout(this.#wakeCarrier, Math.max(0, Math.ceil(at - now)));
  }

  /**
   * When to wake a refused call to carry the next probe: none while a probe is out, a call is queued (it will carry
   * it), fewer than two wait, or none may carry one; a call woken and not sent yet (aborted meanwhile?) is given
   * 100 ms. Refused calls wait only during a hold: its end wakes them all.
   */
  #carrierDueAt(): number | undefined {
    if (this.#probeInFlight || this.#queueHead < this.#queue.length || this.#retries.length < 2) return undefined;
    if (!this.#retries.some((waiter) => waiter.mayCarry)) return undefined;
    return Math.max(this.#nextProbeAt, this.#carrierWokenAt + PROBE_DELAY_MAX_MS);
  }

  #wakeCarrier = (): void => {
    this.#carrierTimer = this.#carrierAt = undefined;
    const now = this.#now();
    if (this.#carrierDueAt() !== undefined) {
      this.#carrierWokenAt = now;
      this.#wakeRetry(this.#retries.find((waiter) => waiter.mayCarry) as RetryWaiter);
    }
    this.#scheduleCarrier(now);
  };

  #send(): number {
    const now = this.#now();
    if (now - this.#lastActivity > BUCKETS * BUCKET_MS) {
      this.#activeSince = now;
      this.#admittedBeforeActive = this.admitted;
    }
    this.#lastActivity = now;
    this.#sent.add(now);
    this.#inFlight++;
    return this.#nextTicket++;
  }

  #mayGoNow(now: number): boolean {
    if (this.#holding) {
      if (this.#probeInFlight || now < this.#nextProbeAt) return false;
      this.#probeInFlight = true;
      this.#carrierWokenAt = Number.NEGATIVE_INFINITY;
      if (this.#carrierTimer !== undefined) this.#scheduleCarrier(now);
      this.#probeSentAt = now;
      this.#probeTicket = this.#nextTicket;
      return true;
    }
    if (this.#slowStart && this.#inFlight >= this.#slowStartWindow) return false;
    const rate = this.#pace(now);
    if (rate === Number.POSITIVE_INFINITY) return true;
    this.#tokens = Math.min(this.#burst(rate), this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Releases waiters whose turn has come, then sets one timer for the next turn. */
  #release = (): void => {
    this.#timer = undefined;
    this.#releasePending = false;
    while (this.#queueHead < this.#queue.length && this.#mayGoNow(this.#now())) {
      const waiter = this.#queue[this.#queueHead++] as Waiter;
      if (waiter.onAbort) waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.#send());
    }
    if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    this.#schedule();
  };

  #schedule(): void {
    if (this.#retries.length > 0 || this.#carrierTimer !== undefined) this.#scheduleCarrier(this.#now());
    if (this.#timer !== undefined || this.#releasePending || this.#queueHead === this.#queue.length) return;
    const now = this.#now();
    let wait: number;
    if (this.#holding) {
      if (this.#probeInFlight) return; // its answer reschedules
      wait = this.#nextProbeAt - now;
    } else if (this.#slowStart && this.#inFlight >= this.#slowStartWindow) {
      return; // an answer reschedules
    } else {
      const rate = this.#pace(now);
      const tokens = Math.min(this.#burst(rate), this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
      wait = rate === Number.POSITIVE_INFINITY ? 0 : ((1 - tokens) * 1000) / rate;
    }
    if (wait <= 0) {
      this.#releasePending = true;
      queueMicrotask(this.#release);
      return;
    }
    this.#timer = setTimeout(this.#release, Math.max(1, Math.ceil(wait)));
  }

  /** The bucket's size at `rate` (the pace, which is the ramp's during slow start). */
  #burst(rate: number): number {
    if (!Number.isFinite(rate)) return 1;
    // One call more than BURST_MS of tokens: at a low rate, a cap of exactly one call would drop a late timer's
    // lateness at each send, and 48.5 calls/s paced by timers 1.5 ms late would send 45.
    const burst = 1 + (rate * BURST_MS) / 1000;
    // On the ramp, a handful of calls go at once: a few made together by a fresh client are never delayed, only a
    // run's opening burst is paced.
    return Math.max(this.#firstCalls(), burst);
  }

  /** Calls a fresh client may send at once: {@link RAMP_FIRST_CALLS} on the ramp with no ceiling, else one. */
  #firstCalls(): number {
    return this.#ramping() && this.#max === Number.POSITIVE_INFINITY ? RAMP_FIRST_CALLS : 1;
  }

  #ramping(): boolean {
    return this.#ramp && this.#slowStart && this.cuts === 0 && this.refused === 0;
  }

  /** The rate sends are paced at now: the current rate, and during the first slow start its ramp too. */
  #pace(now: number): number {
    const rate = this.#currentRate(now);
    if (!this.#ramping()) return rate;
    const ramp = RAMP_PER_ANSWER * (this.admitted + SLOW_START_WINDOW);
    return ramp >= RAMP_END_RATE ? rate : Math.min(rate, ramp);
  }

  #currentRate(now: number): number {
    if (this.#epoch === undefined) return this.#rate;
    const t = (now - this.#epoch) / 1000 - this.#k;
    // Concave from the cut back to wMax in K s, then convex above it at a pace that does not depend on the cut.
    const x = t / this.#k;
    const s = Math.min(MAX_CONVEX_STRETCH, Math.max(1, this.#k / RECOVERY_SECONDS));
    const u = t / s;
    let rate = this.#wMax * (t < 0 ? 1 + this.#depth * x * x * x : 1 + CUBIC_C * u * u * u);
    if (t > 0) {
      // A rate the pod admitted for whole seconds not long ago (its limit dropped, then rose): back to it within
      // RECLIMB_SECONDS, not along the curve that probes unknown ground (3.3 × the plateau took 4 s).
      const proven = this.#proven;
      if (proven !== undefined && this.#provenAbove(now)) {
        const s = Math.min(1, t / RECLIMB_SECONDS);
        rate = Math.max(rate, this.#wMax + (proven.rate - this.#wMax) * s * s * s);
      }
      // No use probing a rate the client does not send: stay within twice what the pod admits.
      rate = Math.min(rate, Math.max(this.#wMax, 2 * this.#admittedRate(now)));
    }
    rate = Math.min(this.#max, Math.max(MIN_RATE, rate));
    this.#rate = rate;
    return rate;
  }

  /** The pod admitted well above the plateau lately. */
  #provenAbove(now: number): boolean {
    const proven = this.#proven;
    return proven !== undefined && now - proven.at <= PROVEN_MS && proven.rate > RECLIMB_ABOVE * this.#wMax;
  }

  /** Remembers the busiest second the pod admitted lately, past the opening (whose seconds straddle a burst). */
  #remember(now: number): void {
    if (this.#activeSince === undefined || now - this.#activeSince < OPENING_MS) return;
    const admitted = this.#admittedRate(now);
    const proven = this.#proven;
    if (proven === undefined || now - proven.at > PROVEN_MS || admitted >= proven.rate) {
      this.#proven = { rate: admitted, at: now };
    } else if (admitted >= PLATEAU_SHARE * proven.rate) {
      proven.at = now; // admitted again: still what the pod takes
    }
  }

  #startHold(now: number): void {
    this.#remember(now);
    this.#holding = true;
    this.#heldSince = now;
    this.#holdTicket = this.#nextTicket;
    this.#probeInFlight = false;
    this.#probeDelay = PROBE_DELAY_FIRST_MS;
    this.#refusedProbes = 0;
    this.#cutDuringHold = false;
    this.#firstProbe(now);
    // Below the plateau, and no faster than the pod admitted when it last refused: the rate is not what it refuses.
    const rate = this.#currentRate(now);
    this.#holdCounted = this.#epoch !== undefined && rate < PLATEAU_SHARE * this.#wMax && rate <= this.#admittedAtCut;
    if (this.#holdCounted) this.#refusedBelowPlateau++;
    this.#maybeCut(now);
  }

  /** At a hold's start, and at each 429 during it: cut if the refusals say the rate is the cause. */
  #maybeCut(now: number): void {
    if (this.#cutDuringHold || this.#admitted.count(now) < MIN_SAMPLE) return;
    // Within the cooldown, cut only when the client sends far more than the pod admits (an estimate from a burst).
    const farAbove = this.#sent.count(now) > SENT_FAR_ABOVE_ADMITTED * this.#admitted.count(now);
    // A few 429s in a stream the pod mostly admits are not about the rate (a pod that sheds some calls): hold, no cut.
    const refused = this.#refusedWindow.count(now);
    const dense = refused >= MIN_REFUSED_SHARE * (refused + this.#admitted.count(now));
    // Back at the plateau and refused again, with no sign of a pod shedding calls: the plateau is above the limit
    // (a second that straddled two windows counted more than one window's calls); cut again, cooldown or not.
    if (((now - this.#lastCutAt >= CUT_COOLDOWN_MS || this.#atPlateau(now)) && dense) || farAbove) {
      this.#cut(now, farAbove);
      this.#firstProbe(now);
    }
  }

  /**
   * What the pod admitted over the second that ended when its budget renewed (halfway between the last refused probe
   * and the admitted one, shifted by the answer's round trip): whole windows, where the last second would miss the
   * start of the one just spent (1,500/s in one-second windows with probes 100 ms apart: read 1,370-1,470).
   */
  #admittedUntilRenewal(now: number): number | undefined {
    const halfGap = (this.#probeSentAt - this.#refusedProbeSentAt) / 2;
    const since = this.#activeSince;
    if (since === undefined || now - halfGap - BUCKETS * BUCKET_MS < since) return undefined;
    const admitted = this.#admitted.countUntil(now, now - halfGap);
    // Beyond the kept history (a probe that backed off a whole second), or too few to trust: the last second.
    if (admitted === undefined || admitted < MIN_SAMPLE) return undefined;
    return admitted * (1000 / (BUCKETS * BUCKET_MS));
  }

  /** Back at the plateau, with no sign of a pod shedding calls. */
  #atPlateau(now: number): boolean {
    return (
      this.#epoch !== undefined &&
      this.#currentRate(now) >= PLATEAU_SHARE * this.#wMax &&
      this.#refusedBelowPlateau < REFUSED_BELOW_PLATEAU_TO_KEEP
    );
  }

  /** The first probe goes one pace after the 429: sooner, an exhausted window would only refuse it too. */
  #firstProbe(now: number): void {
    const rate = this.#currentRate(now);
    this.#nextProbeAt = now + (Number.isFinite(rate) ? Math.min(PROBE_DELAY_MAX_MS, 1000 / rate) : 0);
  }

  #endHold(now: number): void {
    this.#holding = false;
    this.#heldMs += now - this.#heldSince;
    this.#resumeTicket = this.#nextTicket;
    const cutsBefore = this.cuts;
    if (this.#refusedProbes >= 2) {
      // Probes refused until the pod's budget renewed: a limit, not a pod shedding a call now and then (two in a row
      // refused by one shedding 10 % at random: 1 %). Counted as shed, a limit that dropped below a pace read from
      // before the drop (200/s → 90/s, cut to 160/s) kept that pace with a quarter of the calls refused.
      if (this.#holdCounted && !this.#cutDuringHold) this.#refusedBelowPlateau--;
      this.#budgetReset(now);
    }
    // At the plateau or past it (and not counted as shed at the hold's start), with a probe refused too: the budget ran
    // out at this pace. Cut now, however few the 429s: waiting for 2 % of a second's answers to be 429s let 1,500/s
    // in 100 ms windows climb to 1.27 × the limit, losing the end of each window to a hold. A pod shedding 10 % at
    // random also refuses the probe in one hold of ten; that cut is shallow, and the holds below the plateau after
    // it are counted as shed calls.
    if (
      this.cuts === cutsBefore &&
      !this.#cutDuringHold &&
      !this.#holdCounted &&
      this.#refusedProbes >= 1 &&
      this.#atPlateau(now) &&
      this.#admitted.count(now) >= MIN_SAMPLE
    ) {
      this.#cut(now, false, BETA_AT_PLATEAU, this.#admittedUntilRenewal(now), false);
    }
    if (this.#cutDuringHold) this.#epoch = now; // regrowth starts when sending does
    if (this.cuts === 0 && this.#denseStart(now)) {
      // A pod of a few calls a second refused most of the opening burst, too few answers to cut from: pace at what
      // it admitted since the start, rather than send one burst per window of which most is refused. That is an
      // overestimate by up to one window's share (corrected at each hold's end until the first cut), or an
      // underestimate after a slow ramp: probe above it at once, on CUBIC's convex side.
      this.#wMax = Math.min(this.#max, Math.max(MIN_RATE, this.#admittedRate(now)));
      this.#rate = this.#wMax;
      this.#depth = 0;
      this.#k = RECOVERY_SECONDS;
      this.#epoch = now - RECOVERY_SECONDS * 1000;
    } else if (this.#rate === Number.POSITIVE_INFINITY) {
      // Not calibrated yet (too few answers to cut from): resume in slow start, never with an unlimited burst. The
      // window it had is kept (as TCP's fast recovery does): restarting it at 10 would throttle a run in which the
      // pod refuses a few calls for other reasons.
      this.#slowStart = true;
    }
    // The probe that ended the hold was a send: the next goes one pace after it, not at once. Sent at once beside the
    // admitted probe, at a window's start, and the pace after the two put a sixth call into each 100 ms window of five
    // at a pace under 50/s. Against a pod confirmed to shed calls, the refused call's turn is given back, or each 429
    // would lower what it admits.
    const shed = this.#refusedProbes === 0 && this.#refusedBelowPlateau >= REFUSED_BELOW_PLATEAU_TO_KEEP;
    const pace = this.#pace(now);
    this.#tokens = shed || !Number.isFinite(pace) ? 1 : Math.min(1, ((now - this.#probeSentAt) * pace) / 1000);
    this.#refilledAt = now;
    this.#holdCounted = false;
    this.#wakeAllRetries();
    this.onChange?.({ kind: "resumed", heldMs: now - this.#heldSince });
  }

  /**
   * Probes refused until this one was admitted: the pod's budget was spent, and has just been renewed. Between two
   * such renewals it admitted exactly its budget: for a fixed window, one window's worth per window. Paced well
   * above that, go just under it, cooldown or not: a rate from a burst would otherwise spend each window early
   * until the next cut.
   */
  #budgetReset(now: number): void {
    // The first renewal of a busy period counts from its start when the hold lasted longer than the start took to
    // reach it: the window it renewed (at least the hold long) then began about the first send, so the calls since
    // are an upper bound of the rate, far under the opening's burst estimate. Not after a ramp slower than the limit
    // for a few 100 ms windows: those were never spent, and the count since the start reads 0.6 of the limit.
    // The renewal came after the last refused probe was sent and before the admitted one was: halfway, as far as the
    // client can tell. The answer's time would read the span long by up to a probe's back-off (500 ms at 20 calls/s:
    // 14 calls/s read for 20). The admitted probe is the new budget's first call.
    const at = (this.#refusedProbeSentAt + this.#probeSentAt) / 2;
    const since = this.#activeSince;
    const fromStart =
      since !== undefined &&
      (this.#lastReset === undefined || this.#lastReset.at < since) &&
      this.#heldSince - since <= at - this.#heldSince;
    const last = fromStart ? { at: since, admitted: this.#admittedBeforeActive } : this.#lastReset;
    this.#lastReset = { at, admitted: this.admitted - 1, sent: this.#nextTicket, heldMs: this.#heldMs };
    if (last === undefined || at - last.at > RESET_SPAN_MS || !Number.isFinite(this.#rate)) return;
    const span = at - last.at;
    // Fewer calls than that between them: a window's edges, known to a call or so, would weigh too much.
    const budget = this.admitted - 1 - last.admitted;
    if (budget < MIN_SAMPLE || span <= 0) return;
    const budgetRate = (budget * 1000) / span;
    const paced = this.#currentRate(now);
    // Only when the pace is plainly wrong (a burst's estimate): the usual cut handles a pace a little too fast, and
    // a few 429s in a row that are not a spent budget must not read as one.
    if (budgetRate < MIN_RATE || budgetRate >= RESET_CUT_BELOW * paced) return;
    // The windows between the renewals were spent only if the client sent at its pace whenever it was not held. In a
    // 5,000/s opening, the calls refused in its burst slept a second on Retry-After in the run's 300 concurrency
    // slots: 1,000 sent in 0.6 s at a pace of 6,670/s read as a budget of 1,671/s (cut to 1,621, 4 s to climb back).
    // They go at the hold's end now ({@link waitToRetry}), but a caller may still send under its pace.
    // (A first renewal counted from the busy period's start has its own rule, above, and no sends recorded.)
    if ("sent" in last) {
      const unheld = span - (this.#heldMs - last.heldMs);
      if (unheld > 0 && this.#nextTicket - last.sent < (KEPT_UP_SHARE * paced * unheld) / 1000) return;
    }
    this.#refusedBelowPlateau = 0;
    // The budget's span is known only to a probe's back-off (up to ±250 ms at 20/s): 15-18/s read for 20. Back to it
    // in 2 s, then probe above, rather than keep the low rates' long K (20 s at 0.77 of the limit).
    this.#setPlateau(now, paced, budgetRate, BETA_PACED * budgetRate, true);
    this.#admittedAtCut = this.#rate; // the budget's edges are known to a call: holds count only below the new pace
    this.#epoch = now; // sending again already: regrowth starts now
  }

  /**
   * A cut: `plateau` is CUBIC's rate before the cut (wMax), `rate` the one after it. `rough`: the plateau is a guess
   * or a coarse reading, climbed back to in {@link RECOVERY_SECONDS} whatever the rate (in {@link RECLIMB_SECONDS}
   * when the pod admitted well above it lately).
   */
  #setPlateau(now: number, from: number, plateau: number, rate: number, rough = false): void {
    // Cut after cut below the plateau to under half the last cycle's top: the rate collapsed (a storm of 429s), no
    // limit was measured: no long K. (Before any plateau, wMax is Infinity: the first cut is a cycle's top.)
    const below = Number.isFinite(this.#wMax) && from < PLATEAU_SHARE * this.#wMax;
    this.#cutsBelow = below ? this.#cutsBelow + 1 : 0;
    const collapsed = this.#cutsBelow >= COLLAPSE_CUTS && plateau < COLLAPSED_SHARE * this.#cycleTop;
    this.#wMax = Math.max(MIN_RATE, plateau);
    if (!below) this.#cycleTop = this.#wMax;
    this.#rate = Math.min(this.#max, Math.max(MIN_RATE, rate));
    this.#depth = 1 - this.#rate / this.#wMax;
    // A long K spares a stable low limit probes; below a rate the pod admitted lately, it would only delay the climb,
    // and even 2 s did: a limit that rose again just after a cut was found once K was over, 2.6 s after the rise.
    this.#k = this.#provenAbove(now)
      ? RECLIMB_SECONDS
      : rough || collapsed
        ? RECOVERY_SECONDS
        : Math.min(
            MAX_RECOVERY_SECONDS,
            Math.max(RECOVERY_SECONDS, (PLATEAU_CALLS / this.#wMax) * Math.max(1, LOW_RATE / this.#wMax)),
          );
    this.#lastCutAt = now;
    this.cuts++;
    this.onChange?.({ kind: "cut", from, to: this.#rate });
  }

  /**
   * The limit showed before any cut: at least {@link DENSE_START_REFUSED} admitted answers over the last second,
   * and probes refused until a window reset, or more 429s than admitted answers.
   */
  #denseStart(now: number): boolean {
    // Something to pace at: the probe that ended the hold and at least a window's worth before it.
    const admitted = this.#admitted.count(now);
    if (admitted < DENSE_START_REFUSED) return false;
    if (this.#refusedProbes >= 2) return true;
    const refused = this.#refusedWindow.count(now);
    return refused >= DENSE_START_REFUSED && refused >= admitted;
  }

  /**
   * `measured`: what the pod admitted per second, when the caller knows better than the last second's answers.
   * `climbed`: that reading was taken while the pace climbed through it ({@link #climbed}).
   */
  #cut(now: number, farAbove: boolean, beta = BETA_PACED, measured?: number, climbed = this.#climbed(now)): void {
    const paced = this.#currentRate(now);
    const unlimited = paced === Number.POSITIVE_INFINITY;
    // Out of the unlimited start the average is diluted by warm-up; the busiest 100 ms says what the pod took.
    // Too high an estimate costs a few holds until the next cut; too low costs seconds of regrowth.
    const admitted = unlimited ? this.#admitted.peakRate(now) : (measured ?? this.#admittedRate(now));
    let before = Math.min(paced, admitted);
    // 429s that kept coming while the rate was well below the last plateau were not caused by the rate (the pod
    // refuses some calls whatever the pace): the plateau stays, or cut after cut would sink the rate.
    const random = !farAbove && this.#refusedBelowPlateau >= REFUSED_BELOW_PLATEAU_TO_KEEP;
    if (random && Number.isFinite(this.#wMax) && this.#wMax > before) before = this.#wMax;
    this.#refusedBelowPlateau = 0;
    // Out of the unlimited start the cut is a guess, not a probe cycle: back to the plateau in 2 s at any rate (at
    // 20 calls/s, the low rates' K of 10 s left a too-deep guess at 0.7 × the limit for 10 s).
    // A reading taken while climbing is rough: back to it in 2 s and probe above, not the low rates' K (4.4 s at 0.9
    // of the limit).
    this.#setPlateau(now, paced, before, (unlimited ? BETA : beta) * before, unlimited || climbed);
    // Later holds count as shed calls only at a rate the pod has admitted, or a plateau set too high would be kept
    // for ever against a pod refusing its excess: out of the unlimited start or in the first 2 s (an estimate from
    // the opening's burst), the cut rate; once shedding is confirmed, the whole kept plateau.
    const early = unlimited || now - (this.#activeSince ?? now) < OPENING_MS;
    this.#admittedAtCut = random ? this.#wMax : early ? this.#rate : admitted;
    this.#epoch = undefined; // held at the cut rate until the hold ends, when regrowth starts
    this.#cutDuringHold = true;
  }

  /**
   * The last second, sent well under the pace now, with at most {@link DENSE_START_REFUSED} 429s in it: the pace
   * climbed through it (after a dense start, 35 → 56 calls/s in a second), so what the pod admitted over it is under
   * its limit (46 read for 50).
   */
  #climbed(now: number): boolean {
    // In a busy period's first second the sends cover less than a second: compare with the pace over that span.
    return (
      this.#refusedWindow.count(now) <= DENSE_START_REFUSED &&
      this.#sent.count(now) < (CLIMBED_SHARE * this.#currentRate(now) * this.#busySpan(now)) / 1000
    );
  }

  #countAdmitted(now: number): void {
    this.#lastActivity = now;
    this.#admitted.add(now);
  }

  /** Answers that were not 429 per second, over the last second (or since the client got busy, if sooner). */
  #admittedRate(now: number): number {
    if (this.#activeSince === undefined) return 0;
    return (this.#admitted.count(now) * 1000) / this.#busySpan(now);
  }

  /** The part of the last second the client has been busy (ms, at least one bucket): what its windows count over. */
  #busySpan(now: number): number {
    return Math.min(BUCKETS * BUCKET_MS, Math.max(BUCKET_MS, now - (this.#activeSince ?? now)));
  }
}

/**
 * Events over the last BUCKETS × BUCKET_MS ms, in buckets, with the busiest {@link PEAK_SPAN_MS} among them; it keeps
 * `history` more buckets, for a second that ended a little earlier ({@link countUntil}).
 *
 * @example
 * ```ts
 * const admitted = new RateWindow(100); // the last second, and one more kept
 * admitted.add(performance.now());
 * admitted.count(performance.now()); // 1
 * admitted.countUntil(performance.now(), performance.now() - 250); // the second that ended 250 ms ago
 * ```
 * @internal exported for its tests
 */
export class RateWindow {
  readonly #size: number;
  readonly #buckets: Float64Array;
  #index = 0;
  /** Events in the last BUCKETS buckets. */
  #sum = 0;

  constructor(history = 0) {
    this.#size = BUCKETS + history;
    this.#buckets = new Float64Array(this.#size);
  }

  add(now: number): void {
    this.#advance(now);
    const slot = this.#slot(this.#index);
    this.#buckets[slot] = (this.#buckets[slot] ?? 0) + 1;
    this.#sum++;
  }

  count(now: number): number {
    this.#advance(now);
    return this.#sum;
  }

  /** Events over the BUCKETS × BUCKET_MS ms that ended at `end`; undefined when they are not all kept. */
  countUntil(now: number, end: number): number | undefined {
    this.#advance(now);
    const last = Math.min(this.#index, Math.floor(end / BUCKET_MS));
    if (last - BUCKETS + 1 < this.#index - this.#size + 1) return undefined;
    let total = 0;
    for (let i = last - BUCKETS + 1; i <= last; i++) {
      total += this.#buckets[this.#slot(i)] ?? 0;
    }
    return total;
  }

  /** The most events in any {@link PEAK_SPAN_MS} of the window, per second. */
  peakRate(now: number): number {
    this.#advance(now);
    const width = PEAK_SPAN_MS / BUCKET_MS;
    let sum = 0;
    let peak = 0;
    for (let i = 0; i < BUCKETS; i++) {
      sum += this.#buckets[this.#slot(this.#index - BUCKETS + 1 + i)] ?? 0;
      if (i >= width) sum -= this.#buckets[this.#slot(this.#index - BUCKETS + 1 + i - width)] ?? 0;
      if (sum > peak) peak = sum;
    }
    return (peak * 1000) / PEAK_SPAN_MS;
  }

  #slot(index: number): number {
    return ((index % this.#size) + this.#size) % this.#size;
  }

  #advance(now: number): void {
    const index = Math.floor(now / BUCKET_MS);
    if (index === this.#index) return;
    if (index - this.#index >= this.#size) {
      this.#buckets.fill(0);
      this.#sum = 0;
    } else {
      for (let i = this.#index + 1; i <= index; i++) {
        this.#sum -= this.#buckets[this.#slot(i - BUCKETS)] ?? 0; // leaves the last BUCKETS
        this.#buckets[this.#slot(i)] = 0; // older than the history: reused
      }
    }
    this.#index = index;
  }
}
