/**
 * JSON without float rounding for int64 ids. `JSON.parse` turns 9007199254740993 into 9007199254740992, and Node 20
 * has no reviver source access, so the few bodies holding such numbers are parsed a second time here.
 */

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
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

/**
 * Parses JSON text that `JSON.parse` has already accepted, keeping every integer beyond 2^53 as a `bigint`.
 * Other values come out as `JSON.parse` gives them. Not a validator: call it only on text known to be valid JSON.
 *
 * @example
 * ```ts
 * parseJsonLossless('{"userId":9007199254740993}'); // { userId: 9007199254740993n }
 * ```
 * @internal
 */
export function parseJsonLossless(text: string): unknown {
  const parser = { text, at: 0 };
  return readValue(parser);
}

interface Cursor {
  text: string;
  at: number;
}

function skipSpace(p: Cursor): void {
  for (;;) {
    const c = p.text.charCodeAt(p.at);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p.at++;
    else return;
  }
}

function readValue(p: Cursor): unknown {
  skipSpace(p);
  const c = p.text[p.at];
  if (c === "{") return readObject(p);
  if (c === "[") return readArray(p);
  if (c === '"') return readString(p);
  if (c === "t") return literal(p, "true", true);
  if (c === "f") return literal(p, "false", false);
  if (c === "n") return literal(p, "null", null);
  return readNumber(p);
}

function literal<T>(p: Cursor, word: string, value: T): T {
  p.at += word.length;
  return value;
}

function readObject(p: Cursor): Record<string, unknown> {
  // A null prototype so a "__proto__" key is data, as with JSON.parse.
  const out: Record<string, unknown> = Object.create(null);
  p.at++;
  skipSpace(p);
  if (p.text[p.at] === "}") {
    p.at++;
    return out;
  }
  for (;;) {
    skipSpace(p);
    const key = readString(p);
    skipSpace(p);
    p.at++; // ':'
    out[key] = readValue(p);
    skipSpace(p);
    if (p.text[p.at++] === "}") return out;
  }
}

function readArray(p: Cursor): unknown[] {
  const out: unknown[] = [];
  p.at++;
  skipSpace(p);
  if (p.text[p.at] === "]") {
    p.at++;
    return out;
  }
  for (;;) {
    out.push(readValue(p));
    skipSpace(p);
    if (p.text[p.at++] === "]") return out;
  }
}

function readString(p: Cursor): string {
  const start = p.at;
  p.at++;
  for (;;) {
    const c = p.text[p.at++];
    if (c === "\\") p.at++;
    else if (c === '"') break;
  }
  return JSON.parse(p.text.slice(start, p.at)) as string;
}

function readNumber(p: Cursor): number | bigint {
  const start = p.at;
  let integer = true;
  for (;;) {
    const c = p.text[p.at];
    if (c === undefined) break;
    if (c === "." || c === "e" || c === "E") integer = false;
    else if (!(c === "-" || c === "+" || (c >= "0" && c <= "9"))) break;
    p.at++;
  }
  const token = p.text.slice(start, p.at);
  if (integer && token.length > 15) {
    const big = BigInt(token);
    if (big > MAX_SAFE || big < -MAX_SAFE) return big;
  }
  return Number(token);
}
