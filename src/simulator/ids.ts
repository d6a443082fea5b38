/**
 * The simulator's own reading of int64 user ids. Written apart from the client's (src/ids.ts) on purpose: the two
 * sides of every test must not share a parser, or a bug in it would pass on both.
 */

const INT64_MAX = "9223372036854775807";
const DIGITS = /^[0-9]{1,19}$/;

/**
 * A positive int64 user id as its canonical decimal (no sign, no leading zeros): the key the simulated pod stores
 * users under; undefined for anything else. Takes a decimal string, a bigint or a safe integer number.
 *
 * @example
 * ```ts
 * uidKey("0042"); // "42"
 * uidKey(9223372036854775807n); // "9223372036854775807"
 * uidKey("9223372036854775808"); // undefined: beyond int64
 * ```
 * @internal
 */
export function uidKey(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
      return DIGITS.test(value) ? positive(stripZeros(value)) : undefined;
    case "bigint":
      return value > 0n ? positive(value.toString()) : undefined;
    case "number":
      return Number.isSafeInteger(value) && value > 0 ? value.toFixed(0) : undefined;
    default:
      return undefined;
  }
}

function stripZeros(digits: string): string {
  let start = 0;
  while (start < digits.length - 1 && digits.charCodeAt(start) === 0x30) start++;
  return start === 0 ? digits : digits.slice(start);
}

/** Canonical digits when they name a number from 1 to int64's largest, compared as text: no BigInt per id. */
function positive(digits: string): string | undefined {
  if (digits === "0") return undefined;
  if (digits.length < INT64_MAX.length) return digits;
  return digits.length === INT64_MAX.length && digits <= INT64_MAX ? digits : undefined;
}
