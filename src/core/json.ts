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
 * The deepest nesting of arrays and objects the lossless parser takes. Its parser recurses once per level, so a
 * hostile text of 20,000 `[` would end in a raw `RangeError: Maximum call stack size exceeded`; no answer or input
 * line of the Pod API nests deeper than a handful of levels.
 * @internal
 */
export const MAX_JSON_DEPTH = 100;

/**
 * Thrown by {@link parseJsonLossless} for a text nested deeper than {@link MAX_JSON_DEPTH}; its message never quotes
 * the text.
 * @internal
 */
export class JsonTooDeepError extends Error {
  override name = "JsonTooDeepError";
  constructor() {
    super(`nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects`);
  }
}

/**
 * True when JSON text nests arrays and objects deeper than `max` levels. Strings are skipped, so brackets inside
 * them do not count; the text is assumed to be JSON `JSON.parse` accepted.
 *
 * @example
 * ```ts
 * nestedDeeperThan('[[["]]]]]]"]]]', 2); // true: three levels
 * ```
 * @internal
 */
export function nestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x5b || code === 0x7b) {
      // [ {
      if (++depth > max) return true;
    } else if (code === 0x5d || code === 0x7d) {
      depth--; // ] }
    } else if (code === 0x22) {
      // A string: skip to its closing quote, one not escaped by an odd run of backslashes.
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return false;
        let backslashes = 0;
        while (text.charCodeAt(i - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
      }
    }
  }
  return false;
}

/**
 * Parses JSON text, keeping every integer beyond 2^53 as a `bigint`. Other values come out as `JSON.parse` gives
 * them. Call it on text `JSON.parse` has accepted: the check of the text is `JSON.parse`'s.
 *
 * @example
 * ```ts
 * parseJsonLossless('{"userId":9007199254740993}'); // { userId: 9007199254740993n }
 * ```
 * @throws JsonTooDeepError when the text nests deeper than {@link MAX_JSON_DEPTH} levels.
 * @internal
 */
export function parseJsonLossless(text: string): unknown {
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) throw new JsonTooDeepError();
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

/**
 * Parses JSON text with every number as the text it is written with (`"1e3"`, `"3.0"`, `"-5"`), for the few places
 * that must tell `1000` from `1e3`. Call it on text `JSON.parse` has accepted.
 *
 * @example
 * ```ts
 * parseJsonNumbersAsText('[1e3, 7]'); // ["1e3", "7"]
 * ```
 * @throws JsonTooDeepError when the text nests deeper than {@link MAX_JSON_DEPTH} levels.
 * @internal
 */
export function parseJsonNumbersAsText(text: string): unknown {
  if (nestedDeeperThan(text, MAX_JSON_DEPTH)) throw new JsonTooDeepError();
  return parse(text, null, (value) => value);
}
