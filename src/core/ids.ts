import { ValidationError } from "./errors.js";

/**
 * A Symphony user id (int64). Pass a `number` when it is a safe integer, otherwise a `bigint` or a decimal string:
 * all three reach the pod with every digit.
 *
 * @example
 * ```ts
 * const ids: UserId[] = [7215545057281, 9007199254740993n, "9223372036854775807"];
 * ```
 */
export type UserId = number | bigint | string;

const INT64_MAX = 9223372036854775807n;
const DECIMAL = /^[0-9]{1,19}$/;

/**
 * A user id as a canonical decimal string (no sign, no leading zeros), or `undefined` when `value` is not a positive
 * int64: the rule of {@link userIdToDecimal}, without the error. The simulated pod reads ids with it.
 *
 * @example
 * ```ts
 * canonicalUserId("007"); // "7"
 * canonicalUserId(9223372036854775807n); // "9223372036854775807"
 * canonicalUserId("9223372036854775808"); // undefined: beyond int64
 * ```
 * @internal
 */
export function canonicalUserId(value: unknown): string | undefined {
  if (typeof value === "string") {
    if (!DECIMAL.test(value)) return undefined;
    // Up to 15 digits without a leading zero is canonical and in range already: the common case skips BigInt.
    if (value.length <= 15 && value.charCodeAt(0) !== 0x30) return value;
    return inRange(BigInt(value));
  }
  if (typeof value === "bigint") return inRange(value);
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? String(value) : undefined;
  return undefined;
}

function inRange(value: bigint): string | undefined {
  return value > 0n && value <= INT64_MAX ? value.toString() : undefined;
}

/**
 * Checks a user id and returns it as a canonical decimal string (no sign, no leading zeros).
 * Throws {@link ValidationError} naming `field` for anything that is not a positive int64.
 */
export function userIdToDecimal(value: unknown, field: string): string {
  const canonical = canonicalUserId(value);
  if (canonical !== undefined) return canonical;
  // Not a user id: say why.
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new ValidationError(
        field,
        "safe integer",
        `${value} is not a safe integer; pass a bigint or a decimal string so no digit of the int64 is lost`,
      );
    }
    throw new ValidationError(field, "positive int64", `${value} is not a positive user id`);
  }
  if (typeof value === "string" && !DECIMAL.test(value)) {
    throw new ValidationError(field, "decimal", `${JSON.stringify(value.slice(0, 40))} is not a decimal user id`);
  }
  if (typeof value === "bigint" || typeof value === "string") {
    throw new ValidationError(field, "positive int64", `${BigInt(value)} is not a positive int64 user id`);
  }
  throw new ValidationError(
    field,
    "required",
    `expected a user id (number, bigint or decimal string), got ${value === null ? "null" : typeof value}`,
  );
}
