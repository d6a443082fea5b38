/**
 * The guard options of an apply run: `--max-changes N|N%` (or `POD_MAX_CHANGES`), `--yes`, `--skip-disabled` and
 * `--exact`, read and checked here so that args.ts only wires them in (the guards themselves: passes/guards.ts).
 */
import { quote } from "../core/text.js";
import { UsageError } from "../core/usage-error.js";
import type { Operation } from "./input/records.js";

/**
 * The cap of a destructive run (`--exact`, `apps replace`, delegate `REMOVE` rows, status `DISABLED` rows) given no
 * `--max-changes`: 500 users, the accidental-deletion threshold Microsoft Entra starts with. Large enough for a
 * team's offboarding, small enough that a wrong whole-pod file stops before it takes anything away.
 *
 * @example
 * ```ts
 * console.log(`destructive runs stop above ${DEFAULT_DESTRUCTIVE_CAP} users unless --yes`);
 * ```
 */
export const DEFAULT_DESTRUCTIVE_CAP = 500;

/**
 * A `--max-changes` cap: a number of users, or a percentage of the users the file names.
 *
 * @example
 * ```ts
 * const cap: MaxChanges = { count: 10, percent: true, text: "10%", from: "--max-changes" };
 * ```
 */
export interface MaxChanges {
  count: number;
  /** `N%`: of the users the file names (the pod's size would cost a read of its whole directory). */
  percent: boolean;
  /** As given, for messages. */
  text: string;
  /** `--max-changes`, `POD_MAX_CHANGES` or `the default for destructive runs`. */
  from: string;
}

/**
 * The checked guard options of an apply run.
 *
 * @example
 * ```ts
 * const guards: GuardOptions = { maxChanges: undefined, yes: false, skipDisabled: false, exact: false, defaultCap: true };
 * ```
 */
export interface GuardOptions {
  /** `--max-changes N|N%` (or `POD_MAX_CHANGES`); undefined: none given. */
  maxChanges: MaxChanges | undefined;
  /** `--yes`: go past the `--max-changes` cap (given or default). */
  yes: boolean;
  /** `--skip-disabled`: items of disabled users are not sent (kept in the report as `notAttempted`). */
  skipDisabled: boolean;
  /** `--exact`: the file is each listed user's end state (features, delegates). */
  exact: boolean;
  /** Whether a destructive run without `--max-changes` is capped at {@link DEFAULT_DESTRUCTIVE_CAP} (not for undo). */
  defaultCap: boolean;
}

/**
 * Reads the guard options of a command line. `values` are the parsed flags.
 *
 * @example
 * ```ts
 * const guards = guardOptions({ "max-changes": "5%" }, {}, "features");
 * console.log(guards.maxChanges?.count); // 5
 * ```
 * @throws UsageError for a malformed cap, or an option the command does not take.
 */
export function guardOptions(
  values: {
    "max-changes"?: string | undefined;
    yes?: boolean | undefined;
    "skip-disabled"?: boolean | undefined;
    exact?: boolean | undefined;
  },
  env: Record<string, string | undefined>,
  operation: Operation,
): GuardOptions {
  const given = values["max-changes"] ?? env.POD_MAX_CHANGES;
  const from = values["max-changes"] !== undefined ? "--max-changes" : "POD_MAX_CHANGES";
  let maxChanges: MaxChanges | undefined;
  if (given !== undefined) {
    const match = /^(\d{1,9})(%?)$/.exec(given.trim());
    const count = match ? Number(match[1]) : Number.NaN;
    const percent = match?.[2] === "%";
    if (!match || (percent && count > 100)) {
      throw new UsageError(
        `${from} must be a number of users (e.g. 200) or a percentage of the file's users (e.g. 10%), got ${quote(given)}`,
      );
    }
    maxChanges = { count, percent, text: given.trim(), from };
  }
  const exact = values.exact === true;
  if (exact && operation !== "features" && operation !== "delegates") {
    throw new UsageError("--exact is for features apply and delegates apply (apps replace is exact already)");
  }
  const skipDisabled = values["skip-disabled"] === true;
  if (skipDisabled && operation === "status") {
    throw new UsageError("--skip-disabled does not apply to status apply: enabling disabled users is its job");
  }
  return { maxChanges, yes: values.yes === true, skipDisabled, exact, defaultCap: true };
}
