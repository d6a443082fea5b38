/**
 * The simulator's own JSON reading for int64 ids: `JSON.parse` rounds 9007199254740993 to 9007199254740992, so a
 * text that may hold such a number is read again by lossless-json. Apart from the client's src/json.ts on purpose,
 * so a bug in one is caught by the other.
 */
import { isSafeNumber, parse } from "lossless-json";

/** 16 digits in a row: the shortest integer `JSON.parse` may round. */
const LONG_NUMBER = /[0-9]{16}/;

/**
 * JSON text with every integer beyond 2^53 as a `bigint` (the rest as `JSON.parse` gives them). The text is checked
 * by `JSON.parse` (a SyntaxError for one that is not JSON); texts without 16 digits in a row, nearly all of them,
 * are not read a second time.
 *
 * @example
 * ```ts
 * readJsonExact('{"userId":9223372036854775807}'); // { userId: 9223372036854775807n }
 * ```
 * @internal
 */
export function readJsonExact(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (!LONG_NUMBER.test(text)) return value;
  return parse(text, null, (digits) =>
    /^-?[0-9]+$/.test(digits) && !isSafeNumber(digits) ? BigInt(digits) : Number(digits),
  );
}
