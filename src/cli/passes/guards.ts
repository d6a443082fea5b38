/**
 * The plan's guards: feature names checked against the pod's list, disabled users found (and skipped with
 * `--skip-disabled`), `--exact` turned into the writes that reach the declared end state, and the `--max-changes`
 * cap. The first three run as one stage between the user lookups and the plan's validation (a chunk of records at a
 * time, so memory stays flat); the cap is {@link checkMaxChanges}, called once the number of users changed is known.
 */
import type { PodClient } from "../../api/client.js";
import { canonicalUserId } from "../../core/ids.js";
import { runPool } from "../../core/scheduler.js";
import { plural, printable, quote } from "../../core/text.js";
import type { FeatureEntitlement } from "../../operations/features.js";
import type { Command } from "../args.js";
import type { Journal } from "../files/report.js";
import { DEFAULT_DESTRUCTIVE_CAP, type GuardOptions, type MaxChanges } from "../guard-options.js";
import { rowLineOf } from "../input/csv.js";
import { LookupError, type ResolvedRecord } from "../input/identities.js";
import { InputError } from "../input/records.js";

/** Records held at once: the reads of one chunk run together (lookups take 100 uids a call). */
const CHUNK = 500;
/** Disabled users named in the plan; the rest are counted. */
const LISTED_DISABLED = 5;
/** Users whose disabled state is remembered (delegates: one user's rows need not be consecutive). */
const REMEMBERED = 20_000;

/**
 * What the guards of a run work with.
 *
 * @example
 * ```ts
 * const context = {} as GuardContext; // from run.ts
 * const guards = new PlanGuards({ ...context, canRead: false });
 * ```
 */
export interface GuardContext {
  pod: PodClient;
  command: Command;
  guards: GuardOptions;
  /** False for a dry run without a session: nothing can be read. */
  canRead: boolean;
  /** The input's name, for messages. */
  label: string;
  /** Reads at once (the run's `--concurrency`). */
  concurrency: number;
  /** Where items of skipped disabled users are kept (`notAttempted`); undefined in a dry run. */
  journal: Journal | undefined;
}

/**
 * The plan's guards of one run: {@link PlanGuards.stage} wraps the plan's records; afterwards the counters say what
 * the guards did, and {@link PlanGuards.print} says it in the plan.
 *
 * @example
 * ```ts
 * const options = {} as ConstructorParameters<typeof PlanGuards>[0]; // pod, command, options, … from run.ts
 * const guards = new PlanGuards(options);
 * // makePlan({ …, guard: (records) => guards.stage(records) }), then:
 * guards.print(process.stdout, false);
 * ```
 */
export class PlanGuards {
  /** Whether the feature names were checked (false: a dry run without a session; undefined: not a features run). */
  featuresChecked: boolean | undefined;
  /** Whether users were checked for being disabled (false: a dry run without a session, or `status apply`). */
  disabledChecked = false;
  /** Distinct disabled users the file names, the first few as `uid (email)`. */
  readonly disabled = { users: 0, listed: [] as string[], skippedItems: 0 };
  /** `--exact`: users read, and the features turned off or delegates removed that the file did not name. */
  readonly exact = { users: 0, removals: 0 };
  /** Whether the run takes something away: `--exact`, `apps replace`, a delegate `REMOVE`, a status `DISABLED`. */
  destructive: boolean;

  readonly #options: GuardContext;
  #features: Set<string> | undefined;
  #featureList: string[] = [];
  readonly #disabledOf = new Map<string, boolean>();
  readonly #disabledSeen = new Set<string>();
  /** `--exact` delegates: each listed user's first line and the delegates the file names for them. */
  readonly #named = new Map<string, { uid: unknown; line: number; delegates: Set<string> }>();

  constructor(options: GuardContext) {
    this.#options = options;
    const operation = options.command.operation;
    this.destructive = options.guards.exact || operation === "appsReplace";
    if (operation === "features") this.featuresChecked = options.canRead;
    this.disabledChecked = options.canRead && operation !== "status";
  }

  /** The plan's records with the guards applied: in the same order, misspelt features as errors, skipped users gone. */
  async *stage<Item>(records: AsyncIterable<ResolvedRecord<Item>>): AsyncGenerator<ResolvedRecord<Item>> {
    let chunk: ResolvedRecord<Item>[] = [];
    for await (const record of records) {
      chunk.push(record);
      if (chunk.length >= CHUNK) {
        yield* await this.#chunk(chunk);
        chunk = [];
      }
    }
    yield* await this.#chunk(chunk);
    if (this.#options.guards.exact && this.#options.command.operation === "delegates") {
      yield* (await this.#delegateRemovals()) as ResolvedRecord<Item>[];
    }
  }

  async #chunk<Item>(records: ResolvedRecord<Item>[]): Promise<ResolvedRecord<Item>[]> {
    const { command, guards } = this.#options;
    const operation = command.operation;
    const items = records.filter(
      (r): r is Extract<ResolvedRecord<Item>, { item: unknown }> => "item" in r && !(r.source?.unknown.length ?? 0),
    );
    const uidOf = (record: { item: Item }) => canonicalUserId(String((record.item as { uid?: unknown }).uid));
    for (const { item } of items) {
      const i = item as { action?: unknown; status?: unknown };
      if (i.action === "REMOVE" || (operation === "status" && i.status === "DISABLED")) this.destructive = true;
    }
    const out = records.slice();
    if (this.featuresChecked) {
      const known = await this.#knownFeatures();
      for (const [index, record] of out.entries()) {
        if (!("item" in record) || record.source?.unknown.length) continue;
        const error = this.#misspelt(record.item as { features?: FeatureEntitlement[] }, record.line, known);
        if (error) out[index] = { line: record.line, error };
      }
    }
    const disabled = this.disabledChecked ? await this.#disabled(items.map(uidOf)) : undefined;
    const kept: ResolvedRecord<Item>[] = [];
    for (const record of out) {
      const uid = "item" in record && !record.source?.unknown.length ? uidOf(record) : undefined;
      if (uid !== undefined && disabled?.has(uid)) {
        if (!this.#disabledSeen.has(uid)) {
          this.#disabledSeen.add(uid);
          this.disabled.users++;
          if (this.disabled.listed.length < LISTED_DISABLED) this.disabled.listed.push(disabled.get(uid) as string);
        }
        if (guards.skipDisabled && "item" in record) {
          this.disabled.skippedItems++;
          await this.#options.journal?.notSent(
            record.source?.item ?? (record.item as object),
            record.line,
            "disabledUser",
            `user ${uid} is disabled: not sent (--skip-disabled)`,
          );
          continue;
        }
      }
      kept.push(record);
    }
    if (guards.exact) await this.#exact(kept, uidOf);
    return kept;
  }

  /** The pod's feature names, read once (`GET /v1/admin/system/features/list`). */
  async #knownFeatures(): Promise<Set<string>> {
    if (this.#features) return this.#features;
    try {
      this.#featureList = await this.#options.pod.users.listAvailableFeatures();
    } catch (error) {
      throw new LookupError(`reading the pod's feature names failed: ${printable((error as Error).message)}`);
    }
    this.#features = new Set(this.#featureList);
    return this.#features;
  }

  /** The first feature of an item that the pod does not know, as an input error at its row, with the nearest name. */
  #misspelt(item: { features?: FeatureEntitlement[] }, line: number, known: Set<string>): InputError | undefined {
    if (!Array.isArray(item.features)) return undefined;
    for (const feature of item.features) {
      const name = feature?.entitlement;
      if (typeof name !== "string" || known.has(name)) continue;
      const nearest = nearestName(name, this.#featureList);
      return new InputError(
        this.#options.label,
        rowLineOf(feature) ?? line,
        "entitlement",
        "known feature",
        `${quote(name)} is not a feature of this pod (GET /v1/admin/system/features/list)` +
          (nearest === undefined ? "" : `; did you mean ${nearest}?`),
      );
    }
    return undefined;
  }

  /**
   * Which of these users are disabled: `GET /v3/users?uid=…&active=false` answers only the disabled ones, 100 uids
   * a call (one call per 100 users, whatever the file names them by). Remembered for the users seen recently.
   */
  async #disabled(uids: (string | undefined)[]): Promise<Map<string, string>> {
    const ask = [...new Set(uids.filter((u): u is string => u !== undefined && !this.#disabledOf.has(u)))];
    const found = new Map<string, string>();
    if (ask.length > 0) {
      let users: Awaited<ReturnType<PodClient["users"]["lookup"]>>["users"];
      try {
        ({ users } = await this.#options.pod.users.lookup(
          { uids: ask },
          { active: false, concurrency: Math.min(this.#options.concurrency, 100) },
        ));
      } catch (error) {
        throw new LookupError(`looking up which users are disabled failed: ${printable((error as Error).message)}`);
      }
      if (this.#disabledOf.size > REMEMBERED) this.#disabledOf.clear();
      for (const uid of ask) this.#disabledOf.set(uid, false);
      for (const user of users) {
        const uid = user.id.toString();
        this.#disabledOf.set(uid, true);
        found.set(uid, user.emailAddress ? `${uid} (${user.emailAddress})` : uid);
      }
    }
    for (const uid of uids) if (uid !== undefined && this.#disabledOf.get(uid) && !found.has(uid)) found.set(uid, uid);
    return found;
  }

  /**
   * `--exact`. Features: each user is read (`GET …/features`) and every feature they have on that the file does
   * not name is added to their item as `false`. Delegates: the delegates each user's rows name are kept until the
   * end of the file, where {@link PlanGuards.#delegateRemovals} reads the users and adds the removals.
   */
  async #exact<Item>(records: ResolvedRecord<Item>[], uidOf: (record: { item: Item }) => string | undefined) {
    const operation = this.#options.command.operation;
    const items = records.filter(
      (r): r is Extract<ResolvedRecord<Item>, { item: unknown }> => "item" in r && !(r.source?.unknown.length ?? 0),
    );
    if (operation === "delegates") {
      for (const record of items) {
        const uid = uidOf(record);
        const delegate = canonicalUserId(String((record.item as { userId?: unknown }).userId));
        if (uid === undefined || delegate === undefined) continue;
        let named = this.#named.get(uid);
        if (!named) {
          named = { uid: (record.item as { uid: unknown }).uid, line: record.line, delegates: new Set() };
          this.#named.set(uid, named);
        }
        named.delegates.add(delegate);
      }
      return;
    }
    await runPool(items, this.#options.concurrency, async (record) => {
      const uid = uidOf(record);
      const item = record.item as { features?: FeatureEntitlement[] };
      if (uid === undefined || !Array.isArray(item.features)) return;
      const current = await this.#read(() => this.#options.pod.users.listFeatures(uid), uid);
      this.exact.users++;
      const named = new Set(item.features.map((f) => f?.entitlement));
      for (const feature of current) {
        if (feature.enabled && !named.has(feature.entitlement)) {
          item.features.push({ entitlement: feature.entitlement, enabled: false });
          this.exact.removals++;
        }
      }
    });
  }

  /** `--exact` delegates, at the end of the file: a `REMOVE` of each delegate a listed user has and no row names. */
  async #delegateRemovals(): Promise<ResolvedRecord<unknown>[]> {
    const users = [...this.#named.entries()];
    const removals: { line: number; item: object; at: number }[] = [];
    await runPool(users, this.#options.concurrency, async ([uid, named]) => {
      const held = await this.#read(() => this.#options.pod.users.listDelegates(uid), uid);
      this.exact.users++;
      for (const delegate of held) {
        const id = delegate.toString();
        if (named.delegates.has(id)) continue;
        removals.push({ line: named.line, item: { uid: named.uid, userId: id, action: "REMOVE" }, at: named.line });
        this.exact.removals++;
        this.destructive = true;
      }
    });
    // In file order (the reads answer in any order), so that two runs plan alike.
    removals.sort(
      (a, b) =>
        a.at - b.at ||
        String((a.item as { userId: string }).userId).localeCompare((b.item as { userId: string }).userId),
    );
    this.#named.clear();
    return removals.map(({ line, item }) => ({ line, item }));
  }

  async #read<T>(read: () => Promise<T>, uid: string): Promise<T> {
    try {
      return await read();
    } catch (error) {
      throw new LookupError(`--exact: reading user ${uid} failed: ${printable((error as Error).message)}`);
    }
  }

  /** The plan's lines of the guards: what was checked, the disabled users, what `--exact` adds. */
  print(out: { write(text: string): unknown }, dryRun: boolean): void {
    if (this.featuresChecked === false) {
      out.write("  feature names not checked: a dry run without a session cannot read the pod's list\n");
    }
    if (this.disabledChecked && this.disabled.users > 0) {
      const more = this.disabled.users - this.disabled.listed.length;
      const skipped = this.#options.guards.skipDisabled;
      out.write(
        `  ${plural(this.disabled.users, "disabled user")}: ${this.disabled.listed.join(", ")}` +
          (more > 0 ? `, … and ${more} more` : "") +
          (skipped
            ? `; skipped (--skip-disabled): ${plural(this.disabled.skippedItems, "item")} not sent` +
              (dryRun ? "" : ", in the report as notAttempted")
            : "; written as well (--skip-disabled skips them)") +
          "\n",
      );
    } else if (!this.disabledChecked && this.#options.command.operation !== "status") {
      out.write("  disabled users not checked: a dry run without a session cannot read the pod\n");
    }
    if (this.#options.guards.exact) {
      const what = this.#options.command.operation === "features" ? "feature turned off" : "delegate removed";
      out.write(
        `  --exact: ${plural(this.exact.users, "listed user")} read; ${plural(this.exact.removals, what, `${what.replace(/^(\w+)/, "$1s")}`)} ` +
          "that the file does not name (users not in the file are untouched)\n",
      );
    }
  }
}

/**
 * The `--max-changes` check: a message refusing the run when it changes more users than the cap allows, else
 * undefined. `changedUsers` is exact after an `--only-changes` read pass, else every user the file names; a percent
 * cap is of `totalUsers`, the users the file names. A destructive run without a cap gets the default one
 * ({@link DEFAULT_DESTRUCTIVE_CAP} users); `--yes` goes past either. Shared by the apply and the saved-plan paths.
 *
 * @example
 * ```ts
 * const guards = { maxChanges: { count: 10, percent: true, text: "10%", from: "--max-changes" }, yes: false, skipDisabled: false, exact: false, defaultCap: true };
 * checkMaxChanges(30, 100, { guards }, false); // "this run changes 30 users, more than --max-changes 10% …"
 * ```
 */
export function checkMaxChanges(
  changedUsers: number,
  totalUsers: number,
  args: { guards: GuardOptions; onlyChanges?: boolean },
  destructive: boolean,
): string | undefined {
  const { guards } = args;
  const cap: MaxChanges | undefined =
    guards.maxChanges ??
    (destructive && guards.defaultCap
      ? {
          count: DEFAULT_DESTRUCTIVE_CAP,
          percent: false,
          text: String(DEFAULT_DESTRUCTIVE_CAP),
          from: "the cap of destructive runs,",
        }
      : undefined);
  if (cap === undefined || guards.yes) return undefined;
  const limit = cap.percent ? Math.floor((totalUsers * cap.count) / 100) : cap.count;
  if (changedUsers <= limit) return undefined;
  const counted = args.onlyChanges
    ? "that differ from what the pod holds"
    : "named by the file (without --only-changes every one is counted)";
  return (
    `this run changes ${plural(changedUsers, "user")} ${counted}, more than ${cap.from} ${cap.text}` +
    (cap.percent ? ` of ${totalUsers} (${limit})` : "") +
    " allows; give --yes to go past the cap"
  );
}

/**
 * The name of `names` nearest to `name` (fewest edits, ignoring case), if it is near enough to be a slip: at most a
 * third of the name's letters away.
 *
 * @example
 * ```ts
 * nearestName("canCreatePublicRooms", ["canCreatePublicRoom", "sendFilesEnabled"]); // "canCreatePublicRoom"
 * ```
 */
export function nearestName(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of names) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, given up (returns `bound`) once it reaches `bound`. */
function editDistance(a: string, b: string, bound: number): number {
  if (Math.abs(a.length - b.length) >= bound) return bound;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let smallest = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(
        (previous[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      row.push(value);
      if (value < smallest) smallest = value;
    }
    if (smallest >= bound) return bound;
    previous = row;
  }
  return Math.min(previous[b.length] as number, bound);
}
