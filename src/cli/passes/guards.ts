/**
 * The plan's guards: feature names checked against the pod's list, disabled users found (and skipped with
 * `--skip-disabled`), `--exact` turned into the writes that reach the declared end state, and the `--max-changes`
 * cap. The first three see the plan's valid items a chunk at a time, before they are journalled (memory stays flat),
 * and read the pod only while the file is valid; the cap is {@link checkMaxChanges}, called once the number of users
 * changed is known.
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
import { LookupError } from "../input/identities.js";
import { InputError } from "../input/records.js";

/** Disabled users named in the plan; the rest are counted. */
const LISTED_DISABLED = 5;
/** Users whose disabled state is remembered (delegates: one user's rows need not be consecutive). */
const REMEMBERED = 20_000;

/**
 * A valid item as the plan hands it to the guards: its user, the item (changed in place by `--exact`), its line
 * and its number.
 *
 * @example
 * ```ts
 * const entry: GuardEntry = { uid: "7215545057281", item: { uid: "7215545057281", features: [] }, line: 2, ordinal: 0 };
 * ```
 */
export interface GuardEntry {
  uid: string;
  item: Record<string, unknown>;
  line: number;
  ordinal: number;
}

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
 * The plan's guards of one run: the plan hands them its valid items ({@link PlanGuards.check}, then
 * {@link PlanGuards.finish}); afterwards the counters say what the guards did, and {@link PlanGuards.print} says it.
 *
 * @example
 * ```ts
 * const options = {} as ConstructorParameters<typeof PlanGuards>[0]; // pod, command, options, … from run.ts
 * const guards = new PlanGuards(options);
 * // makePlan({ …, guards }), then:
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
  /** Why a check could not be made (the pod's answer), said in the plan. */
  readonly notChecked: { features?: string; disabled?: string } = {};
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

  /**
   * Checks a chunk of valid items (`read` false: the file is refused or the run interrupted, so nothing is read and
   * the items pass as they are). Returns the items to journal, in order, and the misspelt features as input errors.
   */
  async check(entries: GuardEntry[], read: boolean): Promise<{ kept: GuardEntry[]; invalid: InputError[] }> {
    const { command, guards } = this.#options;
    const operation = command.operation;
    for (const { item } of entries) {
      if (item.action === "REMOVE" || (operation === "status" && item.status === "DISABLED")) this.destructive = true;
    }
    if (!read) return { kept: entries, invalid: [] };
    const invalid: InputError[] = [];
    let kept = entries;
    if (this.featuresChecked) {
      const known = await this.#knownFeatures();
      if (known) {
        kept = [];
        for (const entry of entries) {
          const error = this.#misspelt(entry.item as { features?: FeatureEntitlement[] }, entry.line, known);
          if (error) invalid.push(error);
          else kept.push(entry);
        }
      }
    }
    if (invalid.length > 0) return { kept, invalid };
    const disabled = this.disabledChecked ? await this.#disabled(kept.map((entry) => entry.uid)) : undefined;
    if (disabled && disabled.size > 0) {
      const remaining: GuardEntry[] = [];
      for (const entry of kept) {
        const name = disabled.get(entry.uid);
        if (name === undefined) {
          remaining.push(entry);
          continue;
        }
        if (!this.#disabledSeen.has(entry.uid)) {
          this.#disabledSeen.add(entry.uid);
          this.disabled.users++;
          if (this.disabled.listed.length < LISTED_DISABLED) this.disabled.listed.push(name);
        }
        if (!guards.skipDisabled) {
          remaining.push(entry);
          continue;
        }
        this.disabled.skippedItems++;
        const message = `user ${entry.uid} is disabled: not sent (--skip-disabled)`;
        await this.#options.journal?.notSent(entry.item, entry.line, "disabledUser", message);
      }
      kept = remaining;
    }
    if (guards.exact) await this.#exact(kept);
    return { kept, invalid };
  }

  /** `--exact` delegates, once every row is known: a `REMOVE` of each delegate a listed user has and no row names. */
  async finish(read: boolean): Promise<Omit<GuardEntry, "ordinal">[]> {
    if (!read || !this.#options.guards.exact || this.#options.command.operation !== "delegates") return [];
    return this.#delegateRemovals();
  }

  /**
   * The pod's feature names, read once (`GET /v1/admin/system/features/list`). A pod that cannot answer (down, the
   * session refused) leaves the names unchecked, said in the plan: the writes then meet the same cause and say it.
   */
  async #knownFeatures(): Promise<Set<string> | undefined> {
    if (this.#features || this.featuresChecked === false) return this.#features;
    try {
      this.#featureList = await this.#options.pod.users.listAvailableFeatures();
      this.#features = new Set(this.#featureList);
    } catch (error) {
      this.featuresChecked = false;
      this.notChecked.features = printable((error as Error).message, 200);
    }
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
  async #disabled(uids: string[]): Promise<Map<string, string> | undefined> {
    const ask = [...new Set(uids.filter((u) => !this.#disabledOf.has(u)))];
    const found = new Map<string, string>();
    if (ask.length > 0) {
      let users: Awaited<ReturnType<PodClient["users"]["lookup"]>>["users"];
      try {
        ({ users } = await this.#options.pod.users.lookup(
          { uids: ask },
          { active: false, concurrency: Math.min(this.#options.concurrency, 100) },
        ));
      } catch (error) {
        this.disabledChecked = false;
        this.notChecked.disabled = printable((error as Error).message, 200);
        return undefined;
      }
      if (this.#disabledOf.size > REMEMBERED) this.#disabledOf.clear();
      for (const uid of ask) this.#disabledOf.set(uid, false);
      for (const user of users) {
        const uid = user.id.toString();
        this.#disabledOf.set(uid, true);
        found.set(uid, user.emailAddress ? `${uid} (${user.emailAddress})` : uid);
      }
    }
    for (const uid of uids) if (this.#disabledOf.get(uid) && !found.has(uid)) found.set(uid, uid);
    return found;
  }

  /**
   * `--exact`. Features: each user is read (`GET …/features`) and every feature they have on that the file does
   * not name is added to their item as `false`. Delegates: the delegates each user's rows name are kept until the
   * end of the file, where {@link PlanGuards.#delegateRemovals} reads the users and adds the removals.
   */
  async #exact(entries: GuardEntry[]) {
    if (this.#options.command.operation === "delegates") {
      for (const { uid, item, line } of entries) {
        const delegate = canonicalUserId(String(item.userId));
        if (delegate === undefined) continue;
        let named = this.#named.get(uid);
        if (!named) {
          named = { uid: item.uid, line, delegates: new Set() };
          this.#named.set(uid, named);
        }
        named.delegates.add(delegate);
      }
      return;
    }
    await runPool(entries, this.#options.concurrency, async ({ uid, item }) => {
      const features = item.features as FeatureEntitlement[] | undefined;
      if (!Array.isArray(features)) return;
      const current = await this.#read(() => this.#options.pod.users.listFeatures(uid), uid);
      this.exact.users++;
      const named = new Set(features.map((f) => f.entitlement));
      for (const feature of current) {
        if (feature.enabled && !named.has(feature.entitlement)) {
          features.push({ entitlement: feature.entitlement, enabled: false });
          this.exact.removals++;
        }
      }
    });
  }

  async #delegateRemovals(): Promise<Omit<GuardEntry, "ordinal">[]> {
    const users = [...this.#named.entries()];
    const removals: Omit<GuardEntry, "ordinal">[] = [];
    await runPool(users, this.#options.concurrency, async ([uid, named]) => {
      const held = await this.#read(() => this.#options.pod.users.listDelegates(uid), uid);
      this.exact.users++;
      for (const delegate of held) {
        const id = delegate.toString();
        if (named.delegates.has(id)) continue;
        removals.push({ uid, line: named.line, item: { uid: named.uid, userId: id, action: "REMOVE" } });
        this.exact.removals++;
        this.destructive = true;
      }
    });
    this.#named.clear();
    // In file order, then by delegate (the reads answer in any order): two runs of one file plan alike.
    const id = (entry: Omit<GuardEntry, "ordinal">) => BigInt(entry.item.userId as string);
    return removals.sort((a, b) => a.line - b.line || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0));
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
      out.write(
        `  feature names not checked: ${this.notChecked.features ?? "a dry run without a session cannot read the pod's list"}\n`,
      );
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
      out.write(
        `  disabled users not checked: ${this.notChecked.disabled ?? "a dry run without a session cannot read the pod"}\n`,
      );
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
  /** The users are a saved plan's: each of them is a change the plan's reads found. */
  savedPlan = false,
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
  const counted = savedPlan
    ? "of the saved plan (each one a change its reads found)"
    : args.onlyChanges
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
 * third of the name's letters away (one for a short name).
 *
 * @example
 * ```ts
 * nearestName("canCreatePublicRooms", ["canCreatePublicRoom", "sendFilesEnabled"]); // "canCreatePublicRoom"
 * ```
 */
export function nearestName(name: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
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
