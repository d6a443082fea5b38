import type { CallOptions } from "../core/call-options.js";
import { PodError, PodForbiddenError, ValidationError } from "../core/errors.js";
import type { PodHttp } from "../core/http.js";
import { userIdToDecimal } from "../core/ids.js";
import { checkTimeoutMs, DEFAULT_RETRY, type RetryOptions, resolveRetry } from "../core/retry.js";
import {
  type BulkOutcome,
  type BulkProgress,
  type BulkReport,
  BulkRunError,
  type BulkStreamEnd,
  type Items,
  schedule,
} from "../core/scheduler.js";
import type { AppPatchItem, AppReplaceItem } from "../operations/apps.js";
import type { DelegateUpdateItem } from "../operations/delegates.js";
import type { FeatureUpdateItem } from "../operations/features.js";
import {
  type BulkItemOf,
  type InputOf,
  OPERATIONS,
  WRITE_OPERATIONS,
  type WriteOperation,
} from "../operations/index.js";
import type { UserStatusItem } from "../operations/status.js";
import type { UserAdmin } from "./users.js";

/**
 * Options of every bulk method.
 *
 * @example
 * ```ts
 * const options: BulkOptions = { concurrency: 100, signal: AbortSignal.timeout(60_000), onProgress: console.log };
 * ```
 */
export interface BulkOptions {
  /** Calls running at once, an integer from 1 to 1,000. Default 300, Symphony's advice for bulk updates. */
  concurrency?: number;
  /** Stops taking new items; calls in flight settle; items never started are reported as not attempted. */
  signal?: AbortSignal;
  /** Called with progress at most every `progressIntervalMs`, and once when the run ends. */
  onProgress?: (progress: BulkProgress) => void;
  /** Minimum time between two `onProgress` calls, in milliseconds. Default 250. */
  progressIntervalMs?: number;
  /** Retry policy of each call, over the client's. */
  retry?: RetryOptions;
  /** Time limit of one attempt of each call, in milliseconds, over the client's. */
  timeoutMs?: number;
  /**
   * Validates every item exactly as a real run would, and sends nothing: invalid items are reported as failed,
   * valid ones as succeeded. Default false.
   */
  dryRun?: boolean;
}

export {
  type BulkFailure,
  type BulkOutcome,
  type BulkProgress,
  type BulkReport,
  BulkRunError,
  type BulkStreamEnd,
} from "../core/scheduler.js";

/** What every item type shares, and how one item becomes one facade call. @internal */
interface ItemKind<Item> {
  fields: readonly string[];
  run(users: UserAdmin, item: Item, options: CallOptions | undefined): Promise<unknown>;
}

/** A bulk form of a write operation of the table: its item's fields, and the facade call an item makes. */
function kind<K extends WriteOperation>(name: K): ItemKind<BulkItemOf<K>> {
  const { fields, input } = OPERATIONS[name].bulk as { fields: readonly string[]; input: (item: never) => unknown };
  return {
    fields,
    run: (users, item, options) => users.invoke(name, item.uid, input(item as never) as InputOf<K>, options),
  };
}

/** Every write's bulk form, built from the table. */
const KINDS = Object.fromEntries(WRITE_OPERATIONS.map((name) => [name, kind(name)])) as {
  [K in WriteOperation]: ItemKind<BulkItemOf<K>>;
};

/** The streaming form of every write, as {@link BulkAdmin.stream} holds them. */
type StreamMethods = {
  [K in WriteOperation]: (
    items: Items<BulkItemOf<K>>,
    options?: BulkOptions,
  ) => AsyncGenerator<BulkOutcome<BulkItemOf<K>>, BulkStreamEnd>;
};

/** The report form of every write. A write of the table without its method here fails the typecheck. */
type ReportMethods = {
  [K in WriteOperation]: (items: Items<BulkItemOf<K>>, options?: BulkOptions) => Promise<BulkReport<BulkItemOf<K>>>;
};

/**
 * The streaming form of the bulk methods: one {@link BulkOutcome} per item as it settles, for runs too large to
 * hold even the failures. Breaking out of the loop stops taking items; calls already running finish unobserved, so
 * abort with `signal` instead when every item must be accounted for.
 *
 * @example
 * ```ts
 * for await (const outcome of pod.bulk.stream.updateFeatures(readRows("users.csv"), { concurrency: 300 })) {
 *   if (outcome.status !== "succeeded") failures.write(`${JSON.stringify(outcome.input)}\n`);
 * }
 * ```
 */
export interface BulkStreams extends StreamMethods {
  /**
   * Streaming {@link BulkAdmin.updateFeatures}.
   *
   * @example
   * ```ts
   * for await (const outcome of pod.bulk.stream.updateFeatures(items)) {
   *   if (outcome.status === "failed") console.error(outcome.uid, outcome.error.message);
   * }
   * ```
   */
  updateFeatures(
    items: Items<FeatureUpdateItem>,
    options?: BulkOptions,
  ): AsyncGenerator<BulkOutcome<FeatureUpdateItem>, BulkStreamEnd>;
  /**
   * Streaming {@link BulkAdmin.updateDelegates}.
   *
   * @example
   * ```ts
   * for await (const outcome of pod.bulk.stream.updateDelegates([{ uid: 7215545057281n, userId: 7215545057282n, action: "ADD" }])) {
   *   console.log(outcome.uid, outcome.status);
   * }
   * ```
   */
  updateDelegates(
    items: Items<DelegateUpdateItem>,
    options?: BulkOptions,
  ): AsyncGenerator<BulkOutcome<DelegateUpdateItem>, BulkStreamEnd>;
  /**
   * Streaming {@link BulkAdmin.replaceApps}.
   *
   * @example
   * ```ts
   * const apps = [{ appId: "djApp", listed: true, install: true }];
   * for await (const outcome of pod.bulk.stream.replaceApps(uids.map((uid) => ({ uid, apps })))) {
   *   if (outcome.status !== "succeeded") console.error(outcome.uid, outcome.status);
   * }
   * ```
   */
  replaceApps(
    items: Items<AppReplaceItem>,
    options?: BulkOptions,
  ): AsyncGenerator<BulkOutcome<AppReplaceItem>, BulkStreamEnd>;
  /**
   * Streaming {@link BulkAdmin.patchApps}.
   *
   * @example
   * ```ts
   * const patches = [{ appId: "djApp", install: false }];
   * for await (const outcome of pod.bulk.stream.patchApps(uids.map((uid) => ({ uid, patches })))) {
   *   if (outcome.status === "failed") console.error(outcome.uid, outcome.error.message);
   * }
   * ```
   */
  patchApps(
    items: Items<AppPatchItem>,
    options?: BulkOptions,
  ): AsyncGenerator<BulkOutcome<AppPatchItem>, BulkStreamEnd>;
  /**
   * Streaming {@link BulkAdmin.updateStatus}.
   *
   * @example
   * ```ts
   * for await (const outcome of pod.bulk.stream.updateStatus(uids.map((uid) => ({ uid, status: "DISABLED" as const })))) {
   *   if (outcome.status === "failed") console.error(outcome.uid, outcome.error.message);
   * }
   * ```
   */
  updateStatus(
    items: Items<UserStatusItem>,
    options?: BulkOptions,
  ): AsyncGenerator<BulkOutcome<UserStatusItem>, BulkStreamEnd>;
}

/**
 * Many users at once, with bounded concurrency, lazily consumed input and one outcome per item. One user's failure
 * never rejects the run; only invalid options do. Build it with {@link createPodClient} (`pod.bulk`).
 *
 * @example
 * ```ts
 * import { createPodClient } from "symphony-pod-admin";
 *
 * const pod = createPodClient({ baseUrl: "https://acme.symphony.com/pod", sessionToken: process.env.POD_SESSION_TOKEN ?? "" });
 * const bulk: BulkAdmin = pod.bulk;
 * const report = await bulk.updateFeatures(
 *   [7215545057281n, 7215545057282n].map((uid) => ({ uid, features: [{ entitlement: "sendFilesEnabled", enabled: true }] })),
 * );
 * console.log(`${report.succeeded}/${report.total} applied`);
 * ```
 */
export class BulkAdmin implements ReportMethods {
  readonly #users: UserAdmin;
  readonly #dryRunUsers: UserAdmin;
  readonly #http: PodHttp;
  /** The same operations, yielding outcomes as they settle. */
  readonly stream: BulkStreams;

  /** @internal */
  constructor(users: UserAdmin, dryRunUsers: UserAdmin, http: PodHttp) {
    this.#users = users;
    this.#dryRunUsers = dryRunUsers;
    this.#http = http;
    const streams: Record<string, unknown> = {};
    for (const name of WRITE_OPERATIONS) {
      const kind = KINDS[name] as ItemKind<unknown>;
      streams[name] = (items: Items<unknown>, options?: BulkOptions) =>
        runBulk(options?.dryRun ? this.#dryRunUsers : this.#users, this.#http, kind, items, options);
    }
    this.stream = streams as unknown as BulkStreams;
  }

  /**
   * Sets feature entitlements of many users, one `features/update` call each.
   *
   * @example
   * ```ts
   * const report = await pod.bulk.updateFeatures(
   *   uids.map((uid) => ({ uid, features: [{ entitlement: "canCreatePublicRoom", enabled: true }] })),
   *   { concurrency: 300, onProgress: (p) => console.log(p.done) },
   * );
   * for (const { uid, error } of report.failed) console.error(uid, error.message);
   * ```
   */
  updateFeatures(items: Items<FeatureUpdateItem>, options?: BulkOptions): Promise<BulkReport<FeatureUpdateItem>> {
    return collect(this.stream.updateFeatures(items, options));
  }

  /**
   * Adds or removes one delegate per item, one `delegates/update` call each.
   *
   * @example
   * ```ts
   * const report = await pod.bulk.updateDelegates([
   *   { uid: 7215545057281n, userId: 7215545057282n, action: "ADD" },
   *   { uid: 7215545057283n, userId: 7215545057282n, action: "REMOVE" },
   * ]);
   * ```
   */
  updateDelegates(items: Items<DelegateUpdateItem>, options?: BulkOptions): Promise<BulkReport<DelegateUpdateItem>> {
    return collect(this.stream.updateDelegates(items, options));
  }

  /**
   * Replaces all app entitlements of many users, one POST `app/entitlement/list` call each.
   *
   * @example
   * ```ts
   * const apps = [{ appId: "djApp", listed: true, install: true }];
   * const report = await pod.bulk.replaceApps(uids.map((uid) => ({ uid, apps })));
   * ```
   */
  replaceApps(items: Items<AppReplaceItem>, options?: BulkOptions): Promise<BulkReport<AppReplaceItem>> {
    return collect(this.stream.replaceApps(items, options));
  }

  /**
   * Changes some app entitlements of many users, one PATCH `app/entitlement/list` call each.
   *
   * @example
   * ```ts
   * const report = await pod.bulk.patchApps(uids.map((uid) => ({ uid, patches: [{ appId: "djApp", install: false }] })));
   * ```
   */
  patchApps(items: Items<AppPatchItem>, options?: BulkOptions): Promise<BulkReport<AppPatchItem>> {
    return collect(this.stream.patchApps(items, options));
  }

  /**
   * Enables, disables or suspends many users, one `status/update` call each: offboarding in bulk.
   *
   * @example
   * ```ts
   * const report = await pod.bulk.updateStatus(uids.map((uid) => ({ uid, status: "DISABLED" as const })));
   * console.log(`${report.succeeded} users disabled`);
   * ```
   */
  updateStatus(items: Items<UserStatusItem>, options?: BulkOptions): Promise<BulkReport<UserStatusItem>> {
    return collect(this.stream.updateStatus(items, options));
  }
}

async function collect<Item>(outcomes: AsyncGenerator<BulkOutcome<Item>, BulkStreamEnd>): Promise<BulkReport<Item>> {
  const report: BulkReport<Item> = { total: 0, succeeded: 0, failed: [], notAttempted: [] };
  try {
    for (;;) {
      const next = await outcomes.next();
      if (next.done) {
        if (next.value.stoppedBy) report.stoppedBy = next.value.stoppedBy;
        break;
      }
      const outcome = next.value;
      report.total++;
      if (outcome.status === "succeeded") report.succeeded++;
      else if (outcome.status === "failed")
        report.failed.push({ uid: outcome.uid, input: outcome.input, error: outcome.error });
      else report.notAttempted.push(outcome.input);
    }
  } catch (error) {
    if (error instanceof BulkRunError) throw new BulkRunError(error.message, { cause: error.cause, report });
    throw error;
  }
  return report;
}

/** A run whose first this-many answers are all 403, with no success, stops: the account lacks the privilege. */
export const FORBIDDEN_TO_STOP = 10;

/** The pod-specific options, checked before anything is read or sent (the scheduler checks the rest). */
const BULK_OPTIONS = new Set([
  "concurrency",
  "signal",
  "onProgress",
  "progressIntervalMs",
  "retry",
  "timeoutMs",
  "dryRun",
]);

function checkCallOptions(options: BulkOptions): void {
  if (options === null || typeof options !== "object") throw new TypeError("options must be an object");
  for (const key of Object.keys(options)) {
    if (!BULK_OPTIONS.has(key)) {
      throw new TypeError(`options.${key} is not a bulk option; expected one of: ${[...BULK_OPTIONS].join(", ")}`);
    }
  }
  if (options.dryRun !== undefined && typeof options.dryRun !== "boolean") {
    throw new TypeError(`options.dryRun must be true or false, got a ${typeof options.dryRun}`);
  }
  resolveRetry(DEFAULT_RETRY, options.retry, "retry");
  if (options.timeoutMs !== undefined) checkTimeoutMs(options.timeoutMs, "timeoutMs");
}

/**
 * One bulk run: the generic scheduler, with this package's parts plugged in: the item's shape and uid, the facade
 * call, the client's send rate, and when to stop (a circuit breaker tripped, or every answer so far was 403).
 */
async function* runBulk<Item>(
  users: UserAdmin,
  http: PodHttp,
  kind: ItemKind<Item>,
  items: Items<Item>,
  options: BulkOptions = {},
): AsyncGenerator<BulkOutcome<Item>, BulkStreamEnd> {
  checkCallOptions(options); // in the generator: a bad option rejects the run, as every other failure does
  // Undefined unless something overrides the client's settings: each call then takes the defaults as they are.
  const callOptions: CallOptions | undefined =
    options.retry === undefined && options.timeoutMs === undefined
      ? undefined
      : { retry: options.retry, timeoutMs: options.timeoutMs };
  let forbiddenInARow = 0;
  const outcomes = schedule(
    items,
    {
      check: (item) => checkItem(item, kind.fields),
      run: (item) => kind.run(users, item, callOptions),
      keyOf: rawUid,
      sendRate: () => http.limiter?.ratePerSecond,
      stopWhen(error, counts): PodError | undefined {
        if (error instanceof PodError && error.circuitBreaker !== undefined) return error;
        if (!(error instanceof PodForbiddenError) || counts.succeeded > 0) return undefined;
        if (++forbiddenInARow < FORBIDDEN_TO_STOP) return undefined;
        return new PodForbiddenError({
          ...error,
          note:
            `The first ${forbiddenInARow} calls of this run were all refused with 403 and none succeeded, so the run ` +
            "stopped: the service account most likely lacks the ACCESS_USER_PROVISIONING_API privilege (role " +
            "User Provisioning). Grant it, then run the items not attempted again",
          circuitBreaker: "forbidden",
        });
      },
    },
    options,
  );
  return (yield* outcomes) as BulkStreamEnd; // stoppedBy is always one of the PodErrors above
}

/** The item's own shape: an object, with exactly the fields of its kind, and a valid uid. */
function checkItem(item: unknown, fields: readonly string[]): string {
  if (item === null || typeof item !== "object" || Array.isArray(item)) {
    throw new ValidationError("item", "type object", `must be an object with ${fields.join(", ")}`);
  }
  for (const key of Object.keys(item)) {
    if (!fields.includes(key)) {
      throw new ValidationError(`item.${key}`, "known field", `unknown field; expected one of: ${fields.join(", ")}`);
    }
  }
  return userIdToDecimal((item as { uid?: unknown }).uid, "uid");
}

function rawUid(item: unknown): string {
  const uid = item !== null && typeof item === "object" ? (item as { uid?: unknown }).uid : undefined;
  return uid === undefined ? "" : String(uid);
}
