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
 * Checks a user id and returns it as a canonical decimal string (no sign, no leading zeros).
 * Throws {@link ValidationError} naming `field` for anything that is not a positive int64.
 */
export function userIdToDecimal(value: unknown, field: string): string {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new ValidationError(
        field,
        "safe integer",
        `${value} is not a safe integer; pass a bigint or a decimal string so no digit of the int64 is lost`,
      );
    }
    if (value <= 0) throw new ValidationError(field, "positive int64", `${value} is not a positive user id`);
    return String(value);
  }
  if (typeof value === "bigint") return checkRange(value, field);
  if (typeof value === "string") {
    if (!DECIMAL.test(value)) {
      throw new ValidationError(field, "decimal", `${JSON.stringify(value.slice(0, 40))} is not a decimal user id`);
    }
    return checkRange(BigInt(value), field);
  }
  throw new ValidationError(
    field,
    "required",
    `expected a user id (number, bigint or decimal string), got ${value === null ? "null" : typeof value}`,
  );
}

function checkRange(value: bigint, field: string): string {
  if (value <= 0n || value > INT64_MAX) {
    throw new ValidationError(field, "positive int64", `${value} is not a positive int64 user id`);
  }
  return value.toString();
}
