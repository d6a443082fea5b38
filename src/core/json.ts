/**
 * JSON without float rounding for int64 ids. `JSON.parse` turns 9007199254740993 into 9007199254740992, and Node 20
 * has no reviver source access, so the few texts holding such numbers are parsed a second time, by lossless-json.
 */
import { isInteger, isSafeNumber, parse } from "lossless-json";

const LONG_DIGIT_RUN = /\d{16}/;

/**
 * True when `text` may hold an integer `JSON.parse` cannot represent exactly (a run of 16+ digits).
 *
 * @example
 * ```ts
 * mayHoldUnsafeInteger('{"userId":9007199254740993}'); // true
 * ```
 * @internal
 */
export function mayHoldUnsafeInteger(text: string): boolean {
  return LONG_DIGIT_RUN.test(text);
}

/** Integers beyond 2^53 as bigint; every other number as `JSON.parse` gives it. */
const parseNumber = (value: string): number | bigint =>
  isInteger(value) && !isSafeNumber(value) ? BigInt(value) : Number(value);

/**
 * Parses JSON text, keeping every integer beyond 2^53 as a `bigint`. Other values come out as `JSON.parse` gives
 * them. Call it on text `JSON.parse` has accepted: the check of the text is `JSON.parse`'s.
 *
 * @example
 * ```ts
 * parseJsonLossless('{"userId":9007199254740993}'); // { userId: 9007199254740993n }
 * ```
 * @internal
 */
export function parseJsonLossless(text: string): unknown {
  return parse(text, null, parseNumber);
}

/**
 * JSON text for a wire body. `bigint` values (int64 ids) go out as bare JSON numbers with every digit, which
 * `JSON.stringify` alone refuses to do.
 */
export function stringifyJson(value: unknown): string {
  // Most bodies hold no bigint: JSON.stringify without a replacer is several times faster, and refuses a bigint.
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
  let sawBigint = false;
  const text = JSON.stringify(value, (_key, v) => {
    if (typeof v !== "bigint") return v;
    sawBigint = true;
    return `\u0000int64:${v}\u0000`;
  });
  return sawBigint ? text.replace(/"\\u0000int64:(-?\d+)\\u0000"/g, "$1") : text;
}
