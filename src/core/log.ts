/**
 * The client's structured log: a typed list of events, their levels, and the one place they reach the caller's
 * logger. Fields are chosen here, never copied from a request, so no token, key, password, JWT, proxy credential
 * or query string can reach a log line.
 */

/**
 * How much the client logs: `"debug"` (every request and answer), `"info"` (retries, 429 holds, rate changes,
 * logins, session refreshes, a breaker closing), `"warn"` (a breaker opening, a refused login), `"error"`, or
 * `"off"`. Default `"info"` when a {@link Logger} is given; without one the client is silent.
 *
 * @example
 * ```ts
 * const level: LogLevel = process.env.DEBUG ? "debug" : "warn";
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error" | "off";

/**
 * Any logger with pino's call shape, `logger.info(fields, message)`: pino, bunyan, winston's child loggers, or
 * `console`. Each event is one call, fields first (`event` names it), a short message second. A logger that
 * throws does not break a call: its error is dropped.
 *
 * @example
 * ```ts
 * const logger: Logger = console; // or pino(), or a child logger: logger.child({ job: "nightly" })
 * const pod = createPodClient({ baseUrl: "https://acme.symphony.com/pod", sessionToken: "…", logger, logLevel: "debug" });
 * ```
 */
export interface Logger {
  /** Every request and answer (`logLevel: "debug"`). */
  debug(fields: object, message?: string): unknown;
  /** Retries, 429 holds, rate changes, logins, session refreshes, a breaker closing. */
  info(fields: object, message?: string): unknown;
  /** A breaker opening, a refused login. */
  warn(fields: object, message?: string): unknown;
  /** Not used by the client's events today; part of the shape every logger has. */
  error(fields: object, message?: string): unknown;
}

/**
 * The events the client logs, each with its level. Every event's fields carry `event` (its name); the fields of
 * each are on its entry below, and in docs/logging.md.
 *
 * @example
 * ```ts
 * const logger = {
 *   debug() {},
 *   info(fields: { event: PodLogEvent }, message?: string) {
 *     if (fields.event === "rate.change") console.log(message);
 *   },
 *   warn: console.warn,
 *   error: console.error,
 * };
 * ```
 */
export const POD_LOG_EVENTS = {
  /** An attempt is sent: `method`, `path` (the template, `/v1/admin/user/{uid}/features/update`), `uid`, `attempt`, `traceId`. */
  "pod.request": "debug",
  /** Its answer: the same plus `status` and `ms`; or `error` (`ECONNREFUSED`, `timeout`) and `ms` when none came. */
  "pod.answer": "debug",
  /**
   * A retry: the call's fields, `attempt` (the one that failed), `why` (`status 503`, `ECONNREFUSED`), `delayMs`, and
   * `sooner: true` when the wait may end early, as the pod admits again (a call's first 429, unless only one attempt
   * would be left; absent otherwise).
   */
  "pod.retry": "info",
  /** Sending resumed after a 429 hold: `ms` held, `why`. */
  "rate.hold": "info",
  /** The rate limiter cut the rate: `from`, `to` (calls per second; `null` for unlimited), `why`. */
  "rate.change": "info",
  /** A circuit breaker opened: `breaker` (`unreachable` or `session`), `why`. */
  "breaker.open": "warn",
  /** It closed: `breaker`, `why`. */
  "breaker.close": "info",
  /** An RSA or certificate login is sent: `kind` (`rsa`, `certificate`), `host`, `path`. Never the JWT. */
  "login.start": "info",
  /** It succeeded: `kind`, `host`, `path`, `status`, `attempts`, `ms`, `traceId`. Never the token. */
  "login.success": "info",
  /** It was refused or not answered: the same, plus `why`. */
  "login.failure": "warn",
  /** The pod answered 401 and the provider is asked for a new token: `method`, `path`, `uid`, `attempt`, `traceId`. */
  "session.refresh": "info",
} as const satisfies Record<string, Exclude<LogLevel, "off">>;

/**
 * The name of an event of {@link POD_LOG_EVENTS}.
 *
 * @example
 * ```ts
 * const seen = new Set<PodLogEvent>(["pod.retry", "rate.hold"]);
 * ```
 */
export type PodLogEvent = keyof typeof POD_LOG_EVENTS;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, off: 100 };
const LEVELS = Object.keys(RANK) as LogLevel[];

/**
 * The client's end of the log: filters by level, names the event, and shields calls from a logger that throws.
 * `debug` is a plain field so the hot path pays one property read when request logging is off.
 * @internal
 */
export class PodLog {
  readonly #logger: Logger;
  readonly #rank: number;
  readonly debug: boolean;

  constructor(logger: Logger, level: LogLevel) {
    this.#logger = logger;
    this.#rank = RANK[level];
    this.debug = this.#rank <= RANK.debug;
  }

  on(event: PodLogEvent): boolean {
    return RANK[POD_LOG_EVENTS[event]] >= this.#rank;
  }

  emit(event: PodLogEvent, fields: Record<string, unknown>, message: string): void {
    const level = POD_LOG_EVENTS[event];
    if (RANK[level] < this.#rank) return;
    try {
      this.#logger[level]({ event, ...fields }, message);
    } catch {
      // A logger's failure is not the call's.
    }
  }
}

/** Checks `logger` and `logLevel`; undefined when nothing is to be logged. @internal */
export function createPodLog(logger: unknown, level: unknown): PodLog | undefined {
  if (level !== undefined && !LEVELS.includes(level as LogLevel)) {
    throw new RangeError(`logLevel must be one of ${LEVELS.join(", ")}, got ${String(level)}`);
  }
  if (logger === undefined) return undefined;
  if (logger === null || (typeof logger !== "object" && typeof logger !== "function")) {
    throw new TypeError("logger must be an object with debug, info, warn and error methods (pino, console)");
  }
  for (const method of ["debug", "info", "warn", "error"] as const) {
    if (typeof (logger as Record<string, unknown>)[method] !== "function") {
      throw new TypeError(`logger.${method} must be a function (pino, console and the like have all four)`);
    }
  }
  if (level === "off") return undefined;
  return new PodLog(logger as Logger, (level as LogLevel | undefined) ?? "info");
}

/**
 * A call's path as a template: a uid segment (decimal, or the call's own `uid`) back to `{uid}`, the query string
 * dropped (it may hold emails). Raw calls carry no uid, hence the decimal rule.
 * @internal
 */
export function pathTemplate(path: string, uid: string | undefined): string {
  const query = path.indexOf("?");
  let bare = query < 0 ? path : path.slice(0, query);
  if (uid !== undefined && uid !== "" && !DECIMAL.test(uid)) {
    bare = bare
      .split("/")
      .map((segment) => (segment === encodeURIComponent(uid) ? "{uid}" : segment))
      .join("/");
  }
  return bare.replace(DECIMAL_SEGMENT, "/{uid}");
}

const DECIMAL = /^\d+$/;
const DECIMAL_SEGMENT = /\/\d+(?=\/|$)/g;

/** Why an attempt got no answer, in a word: the system code, or "timeout". @internal */
export function noAnswerWhy(error: unknown, timedOut: boolean): string {
  if (timedOut) return "timeout";
  let inner: unknown = error;
  for (let depth = 0; depth < 3 && inner instanceof Error; depth++) {
    const code = (inner as { code?: unknown }).code;
    if (typeof code === "string" && /^[A-Z0-9_]+$/.test(code)) return code;
    inner = inner.cause;
  }
  return error instanceof Error ? error.name : "no answer";
}
