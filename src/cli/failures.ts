/**
 * "Why, on screen": a run's failures grouped by cause, with counts and a few examples, for the summary on stderr
 * (printed even with --quiet: the report holds every failure, but an administrator should not need to open it to
 * learn that the pod was down or the token refused).
 */
import { PodApiError, PodError, PodNetworkError, ValidationError } from "../core/errors.js";
import { noAnswerWhy } from "../core/log.js";
import { AuthenticationError } from "../core/rsa-auth.js";
import { plural, printable } from "../core/text.js";

/** Examples shown per cause; the report holds them all. */
export const EXAMPLES_PER_CAUSE = 3;
/** Causes listed; more are summed up in one line (400s with many pod messages could otherwise flood). */
const LISTED_CAUSES = 10;

/**
 * A failure's cause in a few words, the key it is grouped by: `could not reach the pod (ECONNREFUSED)`,
 * `404 user not found`, `403 forbidden`, `401 session refused`, `400 bad request`, `login refused (401)`.
 *
 * @example
 * ```ts
 * causeOf(new PodNetworkError({ method: "GET", path: "/v1/admin/user/1/features", timedOut: true, attempts: 5 })); // "timed out"
 * ```
 */
export function causeOf(error: Error): string {
  if (error instanceof PodApiError) {
    const words = STATUS_WORDS[error.status] ?? (error.status >= 500 ? "pod error" : "refused");
    return `${error.status} ${words}`;
  }
  if (error instanceof PodNetworkError) {
    if (error.timedOut) return "timed out";
    if (error.connectionFailure) return `could not reach the pod (${error.connectionFailure})`;
    return `could not reach the pod (${noAnswerWhy(error.cause, false)})`;
  }
  if (error instanceof AuthenticationError) {
    if (error.status !== undefined) return `login refused (${error.status})`;
    return error.timedOut ? "login timed out" : `login failed (${noAnswerWhy(error.cause, false)})`;
  }
  if (error instanceof ValidationError) return `invalid input (${error.field}: ${error.rule})`;
  return error.name;
}

const STATUS_WORDS: Record<number, string> = {
  400: "bad request",
  401: "session refused",
  403: "forbidden",
  404: "user not found",
  409: "conflict",
  429: "too many requests",
};

/**
 * True when the call behind a failure never reached the pod: a breaker or a refused session stopped it before its
 * first attempt. Such items are counted as not sent, apart from the failures the pod answered.
 *
 * @example
 * ```ts
 * const stopped = new PodNetworkError({ method: "POST", path: "/v1/admin/user/1/features/update", timedOut: false, attempts: 0 });
 * console.log(neverSent(stopped)); // true: a breaker stopped it before its first attempt
 * ```
 */
export function neverSent(error: Error): boolean {
  return (error instanceof PodApiError || error instanceof PodNetworkError) && error.attempts === 0;
}

/**
 * Failures grouped by {@link causeOf}, in the order causes first appeared, each with its count and the first
 * {@link EXAMPLES_PER_CAUSE} examples (uid, input line, HTTP status, pod message).
 *
 * @example
 * ```ts
 * const causes = new FailureCauses();
 * const error = new PodApiError({ status: 404, method: "POST", path: "/v1/admin/user/7/features/update", attempts: 1 });
 * causes.add(error, "7", 12);
 * for (const line of causes.lines("failed")) process.stderr.write(line);
 * ```
 */
export class FailureCauses {
  readonly #groups = new Map<string, { count: number; examples: string[] }>();
  #total = 0;

  get total(): number {
    return this.#total;
  }

  add(error: Error, uid: string, line: number | undefined): void {
    this.#total++;
    const cause = causeOf(error);
    let group = this.#groups.get(cause);
    if (group === undefined) {
      group = { count: 0, examples: [] };
      this.#groups.set(cause, group);
    }
    group.count++;
    if (group.examples.length < EXAMPLES_PER_CAUSE) group.examples.push(example(error, uid, line));
  }

  /** One line per cause: `  12 failed: 404 user not found; e.g. user 7 (line 3, HTTP 404: "…"), …`. */
  lines(verb: string): string[] {
    const out: string[] = [];
    let listed = 0;
    for (const [cause, { count, examples }] of this.#groups) {
      if (listed++ === LISTED_CAUSES) {
        const rest = [...this.#groups.values()].slice(LISTED_CAUSES).reduce((sum, group) => sum + group.count, 0);
        out.push(`  ${rest} ${verb}: ${plural(this.#groups.size - LISTED_CAUSES, "other cause")} (see the report)\n`);
        break;
      }
      out.push(`  ${count} ${verb}: ${printable(cause, 200)}; e.g. ${examples.join(", ")}\n`);
    }
    return out;
  }
}

function example(error: Error, uid: string, line: number | undefined): string {
  const details: string[] = [];
  if (line !== undefined) details.push(`line ${line}`);
  if (error instanceof PodApiError) {
    details.push(
      error.podMessage
        ? `HTTP ${error.status}: ${JSON.stringify(printable(error.podMessage, 100))}`
        : `HTTP ${error.status}`,
    );
  } else if (error instanceof AuthenticationError && error.podMessage) {
    details.push(JSON.stringify(printable(error.podMessage, 100)));
  } else if (error instanceof ValidationError || !(error instanceof PodError || error instanceof AuthenticationError)) {
    details.push(JSON.stringify(printable(error.message, 100)));
  }
  return `user ${printable(uid, 40)}${details.length > 0 ? ` (${details.join(", ")})` : ""}`;
}
