/**
 * The errors this package throws: the PodError family (one class per status family, with status, code, the pod's
 * message, method, path, uid and request id), ValidationError, and how causes are described without secrets. A
 * little over 450 lines because every class carries its TSDoc with an example; the logic is short.
 */
import { inspect } from "node:util";
import { type ConnectionFailureKind, connectionFailure } from "./connection-failure.js";

/**
 * Base class of every error this package throws, so one `instanceof` check catches them all.
 *
 * @example
 * ```ts
 * import { PodError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.updateFeatures(7215545057281n, [{ entitlement: "canCreatePublicRoom", enabled: true }]);
 * } catch (error) {
 *   if (error instanceof PodError) console.error(error.message);
 *   else throw error;
 * }
 * ```
 */
export class PodError extends Error {
  /** The class name, `"PodError"`, shown first in messages and stacks. */
  override name = "PodError";
  /**
   * Set when a circuit breaker tripped: nothing this client sends can succeed until the cause is fixed, so bulk runs
   * stop taking items. See {@link CircuitBreakerName}.
   */
  declare readonly circuitBreaker?: CircuitBreakerName;
  /**
   * What the client concluded and what to do, when it added that to the message (a circuit breaker's cause and
   * fix): the same text as the message's end, as its own field for programs that show it alone.
   */
  declare readonly note?: string;

  /**
   * The error as plain fields for `JSON.stringify` and loggers: `name`, `message` and the class's own fields
   * (bigints as decimal strings), never `cause`, request headers or the session token.
   *
   * @example
   * ```ts
   * try {
   *   await pod.users.listFeatures(7215545057281n);
   * } catch (error) {
   *   if (error instanceof PodError) console.error(JSON.stringify(error)); // {"name":"PodNotFoundError","message":…,"status":404,…}
   * }
   * ```
   */
  toJSON(): Record<string, unknown> {
    const fields: Record<string, unknown> = { name: this.name, message: this.message };
    for (const [key, value] of Object.entries(this)) {
      if (key !== "cause") fields[key] = typeof value === "bigint" ? value.toString() : value;
    }
    return fields;
  }
}

/**
 * Which circuit breaker stopped the client or a bulk run:
 * - `"session"`: the pod refused the session token several times in a row, even just renewed (a disabled account,
 *   a revoked key), or refused a token that cannot be renewed; the provider is not asked again for a while.
 * - `"unreachable"`: no call got any HTTP answer for a while (connection refused, DNS, timeouts); calls fail fast
 *   until a probe gets through.
 * - `"forbidden"`: the first calls of a bulk run were all refused with 403 and none succeeded: the account lacks
 *   the `ACCESS_USER_PROVISIONING_API` privilege.
 *
 * @example
 * ```ts
 * const report = await pod.bulk.updateFeatures(items);
 * if (report.stoppedBy?.circuitBreaker === "session") console.error("fix the service account, then resume");
 * ```
 */
export type CircuitBreakerName = "session" | "unreachable" | "forbidden";

function markBreaker(error: PodError, breaker: CircuitBreakerName | undefined, note: string | undefined): void {
  if (breaker !== undefined) Object.defineProperty(error, "circuitBreaker", { value: breaker, enumerable: true });
  if (note !== undefined) Object.defineProperty(error, "note", { value: note, enumerable: true });
}

/**
 * What the pod said about a failed call, as the {@link PodApiError} constructor takes it.
 *
 * @example
 * ```ts
 * const details: PodApiErrorDetails = { status: 404, method: "GET", path: "/v1/admin/user/42/features", uid: "42", attempts: 1 };
 * const error = new PodNotFoundError(details);
 * ```
 */
export interface PodApiErrorDetails {
  /** HTTP status of the last attempt. */
  status: number;
  /** HTTP method of the call, e.g. `"POST"`. */
  method: string;
  /** Path of the call below the pod base URL, uid filled in, e.g. `/v1/admin/user/123/features/update`. */
  path: string;
  /** The user the call was about, as a decimal string; absent for pod-wide calls. */
  uid?: string | undefined;
  /** `code` from the pod's `Error` body, when it sent one. */
  code?: number | undefined;
  /** `message` from the pod's `Error` body, or the start of a non-JSON body. */
  podMessage?: string | undefined;
  /** The pod's trace id (`x-trace-id` header), for Symphony support. */
  requestId?: string | undefined;
  /** Attempts made, retries included. */
  attempts: number;
  /** Wait the pod asked for with `Retry-After`, in milliseconds. */
  retryAfterMs?: number | undefined;
  /** What the client concluded and what to do, appended to the message (e.g. when a circuit breaker tripped). */
  note?: string | undefined;
  /** The circuit breaker this error tripped or met; see {@link PodError.circuitBreaker}. */
  circuitBreaker?: CircuitBreakerName | undefined;
}

/**
 * The pod answered with an error status. Subclasses name the status family:
 * {@link PodBadRequestError} (400), {@link PodUnauthorizedError} (401), {@link PodForbiddenError} (403),
 * {@link PodNotFoundError} (404), {@link PodRateLimitError} (429) and {@link PodServerError} (5xx).
 * Other statuses are thrown as `PodApiError` itself.
 *
 * @example
 * ```ts
 * import { PodApiError, PodForbiddenError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.addDelegate(7215545057281n, 7215545057282n);
 * } catch (error) {
 *   if (error instanceof PodForbiddenError) console.error("the service account lacks ACCESS_USER_PROVISIONING_API");
 *   else if (error instanceof PodApiError) console.error(error.status, error.code, error.podMessage, error.uid);
 *   else throw error;
 * }
 * ```
 */
export class PodApiError extends PodError {
  /** The class name, `"PodApiError"`, shown first in messages and stacks. */
  override name = "PodApiError";
  /** HTTP status of the last attempt. */
  readonly status: number;
  /** `code` from the pod's `Error` body, when it sent one. */
  readonly code: number | undefined;
  /** `message` from the pod's `Error` body, or the start of a non-JSON body. */
  readonly podMessage: string | undefined;
  /** HTTP method of the call. */
  readonly method: string;
  /** Path of the call below the pod base URL, uid filled in, without the query string (it may hold emails). */
  readonly path: string;
  /** The user the call was about, as a decimal string; absent for pod-wide calls. */
  readonly uid: string | undefined;
  /** The pod's trace id (`x-trace-id` header), for Symphony support. */
  readonly requestId: string | undefined;
  /** Attempts made, retries included. */
  readonly attempts: number;
  /** Wait the pod asked for with `Retry-After`, in milliseconds. */
  readonly retryAfterMs: number | undefined;

  /**
   * Builds the error from what the pod answered; the message names the method, path, uid, status and the pod's
   * message. The client throws these itself (as the subclass matching the status); build one in tests or adapters.
   *
   * @example
   * ```ts
   * const error = new PodApiError({ status: 409, method: "POST", path: "/v1/admin/user/1/features/update", attempts: 1 });
   * console.log(error.message); // POST /v1/admin/user/1/features/update failed with 409
   * ```
   */
  constructor(details: PodApiErrorDetails) {
    const path = withoutQuery(details.path);
    const who = details.uid === undefined ? "" : ` for user ${details.uid}`;
    const what = details.podMessage ? `: ${details.podMessage}` : "";
    const tries = details.attempts > 1 ? ` (after ${details.attempts} attempts)` : "";
    const note = details.note ? `. ${details.note}` : "";
    super(
      details.attempts === 0
        ? `${details.method} ${path}${who} was not sent${note || "."}`
        : `${details.method} ${path}${who} failed with ${details.status}${what}${tries}${note}`,
    );
    markBreaker(this, details.circuitBreaker, details.note);
    this.status = details.status;
    this.code = details.code;
    this.podMessage = details.podMessage;
    this.method = details.method;
    this.path = path;
    this.uid = details.uid;
    this.requestId = details.requestId;
    this.attempts = details.attempts;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/**
 * 400: the pod refused the request body or parameters; retrying the same input will not help.
 *
 * @example
 * ```ts
 * import { PodBadRequestError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.replaceApps(7215545057281n, [{ appId: "unknown-app", listed: true, install: true }]);
 * } catch (error) {
 *   if (error instanceof PodBadRequestError) console.error(error.podMessage);
 * }
 * ```
 */
export class PodBadRequestError extends PodApiError {
  /** The class name, `"PodBadRequestError"`, shown first in messages and stacks. */
  override name = "PodBadRequestError";
}

/**
 * 401: the session token was refused. When `sessionToken` is a provider, the client has already asked it for a
 * new token once and the new one was refused too.
 *
 * @example
 * ```ts
 * import { PodUnauthorizedError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.listFeatures(7215545057281n);
 * } catch (error) {
 *   if (error instanceof PodUnauthorizedError) console.error("log in again: the pod refused the session token");
 * }
 * ```
 */
export class PodUnauthorizedError extends PodApiError {
  /** The class name, `"PodUnauthorizedError"`, shown first in messages and stacks. */
  override name = "PodUnauthorizedError";
}

/**
 * 403: the caller lacks the entitlement, typically the `ACCESS_USER_PROVISIONING_API` privilege.
 *
 * @example
 * ```ts
 * import { PodForbiddenError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.addDelegate(7215545057281n, 7215545057282n);
 * } catch (error) {
 *   if (error instanceof PodForbiddenError) console.error("grant the User Provisioning role to the service account");
 * }
 * ```
 */
export class PodForbiddenError extends PodApiError {
  /** The class name, `"PodForbiddenError"`, shown first in messages and stacks. */
  override name = "PodForbiddenError";
}

/**
 * 404: the user (or route) does not exist on this pod.
 *
 * @example
 * ```ts
 * import { PodNotFoundError } from "symphony-pod-admin";
 *
 * const apps = await pod.users.listApps(42).catch((error) => {
 *   if (error instanceof PodNotFoundError) return [];
 *   throw error;
 * });
 * ```
 */
export class PodNotFoundError extends PodApiError {
  /** The class name, `"PodNotFoundError"`, shown first in messages and stacks. */
  override name = "PodNotFoundError";
}

/**
 * 429: the pod kept asking to slow down until the retry budget ran out. `retryAfterMs` holds its last request.
 *
 * @example
 * ```ts
 * import { PodRateLimitError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.listFeatures(7215545057281n);
 * } catch (error) {
 *   if (error instanceof PodRateLimitError) console.error(`pod busy, asked to wait ${error.retryAfterMs} ms`);
 * }
 * ```
 */
export class PodRateLimitError extends PodApiError {
  /** The class name, `"PodRateLimitError"`, shown first in messages and stacks. */
  override name = "PodRateLimitError";
}

/**
 * 5xx: the pod failed, on every attempt the retry policy allowed.
 *
 * @example
 * ```ts
 * import { PodServerError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.listFeatures(7215545057281n);
 * } catch (error) {
 *   if (error instanceof PodServerError) console.error(error.status, error.requestId);
 * }
 * ```
 */
export class PodServerError extends PodApiError {
  /** The class name, `"PodServerError"`, shown first in messages and stacks. */
  override name = "PodServerError";
}

/** Maps a status to its error class; one table so the families are declared once. */
export function podApiErrorFor(details: PodApiErrorDetails): PodApiError {
  const { status } = details;
  if (status === 400) return new PodBadRequestError(details);
  if (status === 401) return new PodUnauthorizedError(details);
  if (status === 403) return new PodForbiddenError(details);
  if (status === 404) return new PodNotFoundError(details);
  if (status === 429) return new PodRateLimitError(details);
  if (status >= 500 && status <= 599) return new PodServerError(details);
  return new PodApiError(details);
}

/**
 * The request never got an HTTP answer: connection refused or reset, DNS failure, or the `timeoutMs` ran out
 * (then `timedOut` is true). Thrown after the retry policy gave up. The transport's own error is in `cause`.
 *
 * @example
 * ```ts
 * import { PodNetworkError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.listFeatures(7215545057281n);
 * } catch (error) {
 *   if (error instanceof PodNetworkError) console.error(error.timedOut ? "pod too slow" : "pod unreachable", error.cause);
 * }
 * ```
 */
export class PodNetworkError extends PodError {
  /** The class name, `"PodNetworkError"`, shown first in messages and stacks. */
  override name = "PodNetworkError";
  /** HTTP method of the call. */
  readonly method: string;
  /** Path of the call below the pod base URL, uid filled in, without the query string (it may hold emails). */
  readonly path: string;
  /** The user the call was about, as a decimal string; absent for pod-wide calls. */
  readonly uid: string | undefined;
  /** True when the call ran out of `timeoutMs` rather than failing on the wire. */
  readonly timedOut: boolean;
  /** Attempts made, retries included. */
  readonly attempts: number;
  /**
   * Set when the connection failed in its TLS handshake or at the proxy (then the message says what to do, and the
   * call was not retried, except for `"client-certificate"` guessed from a closed connection):
   * `"untrusted-certificate"` (give your CA with `ca`, `--ca-file` or `ssl.trustStore.path`), `"hostname-mismatch"`,
   * `"expired-certificate"`, `"client-certificate"` (mutual TLS wants one), `"not-tls"` or `"proxy-refused"`.
   */
  readonly connectionFailure: ConnectionFailureKind | undefined;

  /**
   * Builds the error for a call that got no answer; the transport's error goes in `options.cause`. The client throws
   * these itself; build one in tests or adapters.
   *
   * @example
   * ```ts
   * const error = new PodNetworkError({ method: "GET", path: "/v1/admin/user/1/features", timedOut: true, attempts: 5 });
   * console.log(error.message); // GET /v1/admin/user/1/features timed out after 5 attempts
   * ```
   */
  constructor(
    details: {
      method: string;
      path: string;
      uid?: string | undefined;
      timedOut: boolean;
      attempts: number;
      note?: string | undefined;
      circuitBreaker?: CircuitBreakerName | undefined;
    },
    options: { cause?: unknown } = {},
  ) {
    const path = withoutQuery(details.path);
    const who = details.uid === undefined ? "" : ` for user ${details.uid}`;
    const why = details.timedOut ? "timed out" : `could not reach the pod (${describeCause(options.cause)})`;
    const tries = details.attempts > 1 ? ` after ${details.attempts} attempts` : "";
    const note = details.note ? `. ${details.note}` : "";
    super(
      details.attempts === 0
        ? `${details.method} ${path}${who} was not sent${note || "."}`
        : `${details.method} ${path}${who} ${why}${tries}${note}`,
      options,
    );
    markBreaker(this, details.circuitBreaker, details.note);
    this.method = details.method;
    this.path = path;
    this.uid = details.uid;
    this.timedOut = details.timedOut;
    this.attempts = details.attempts;
    this.connectionFailure = details.timedOut ? undefined : connectionFailure(options.cause)?.kind;
  }
}

/**
 * Why a call got no answer, in words: the system code and message (`ECONNREFUSED: connect ECONNREFUSED …`), looking
 * one level into `cause`, where undici puts the socket's error under its own "fetch failed".
 * @internal
 */
export function describeCause(cause: unknown): string {
  const failure = connectionFailure(cause);
  if (failure) return failure.text;
  if (cause instanceof Error) {
    const inner = cause.cause instanceof Error ? cause.cause : cause;
    const code = (inner as { code?: unknown }).code;
    return typeof code === "string" ? `${code}: ${inner.message}` : inner.message;
  }
  return String(cause);
}

/**
 * Input broke a rule of the Pod API schema (or of the facade) and nothing was sent.
 * `field` is the path of the offending value in the arguments you passed, e.g. `apps[1].products[0].name`.
 *
 * @example
 * ```ts
 * import { ValidationError } from "symphony-pod-admin";
 *
 * try {
 *   await pod.users.replaceApps(7215545057281n, [{ appId: "", listed: true, install: true }]);
 * } catch (error) {
 *   if (error instanceof ValidationError) console.error(error.field, error.rule); // "apps[0].appId" "minLength 1"
 * }
 * ```
 */
export class ValidationError extends PodError {
  /** The class name, `"ValidationError"`, shown first in messages and stacks. */
  override name = "ValidationError";
  /** Path of the offending value in the arguments, e.g. `features[0].enabled`. */
  readonly field: string;
  /** The rule broken, e.g. `required`, `type boolean`, `maxLength 50`, `enum TRUE|FALSE|KEEP|REMOVE`. */
  readonly rule: string;

  /**
   * Builds the error; the message is `` `${field}: ${detail}` ``. The client throws these itself; build one in your
   * own input checks to report problems the same way.
   *
   * @example
   * ```ts
   * throw new ValidationError("rows[3].uid", "required", "every row needs a uid");
   * ```
   */
  constructor(field: string, rule: string, detail: string) {
    super(`${field}: ${detail}`);
    this.field = field;
    this.rule = rule;
  }
}

// Errors are logged and inspected everywhere; show the fields, never an attached request.
Object.defineProperty(PodError.prototype, inspect.custom, {
  value(this: PodError, _depth: number, options: object, inspectFn: typeof inspect = inspect) {
    const { name, message, ...fields } = this.toJSON();
    if (this.cause !== undefined) fields.cause = this.cause;
    return `${this.stack ?? `${String(name)}: ${String(message)}`} ${inspectFn(fields, options)}`;
  },
});

/** What a value is, for a TypeError: never the value itself (it may be a secret). @internal */
export function describeValueKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "no prototype"})`;
  return `a ${typeof value}`;
}

/**
 * A call's path for an error: the query string left out, since a lookup's holds up to 100 email addresses, which
 * would make every message long and put personal data in logs.
 */
function withoutQuery(path: string): string {
  const query = path.indexOf("?");
  return query === -1 ? path : path.slice(0, query);
}
