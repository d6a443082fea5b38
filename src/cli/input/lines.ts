/**
 * Lines of a text file with a bound on their length, for the JSON Lines readers. `readline` keeps a line whole in
 * memory however long it is: a 200 MB line of a hostile or broken file took 1.1 GB. This reader never holds more
 * than the limit of one line: a longer line is skipped to its end and stands as an {@link OverlongLine}.
 */
import { parseJsonNumbersAsText } from "../../core/json.js";

/**
 * A line longer than the limit given to {@link readLines}; its text was never held in memory.
 *
 * @example
 * ```ts
 * import { createReadStream } from "node:fs";
 *
 * for await (const line of readLines(createReadStream("items.jsonl"), 1024 * 1024)) {
 *   if (line instanceof OverlongLine) console.error(line.detail);
 * }
 * ```
 */
export class OverlongLine {
  /** The limit the line broke, in bytes. */
  readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  /** The problem in words, for an input error of the line. */
  get detail(): string {
    const size =
      this.limit % (1024 * 1024) === 0 ? `${this.limit / 1024 / 1024} MiB` : `${this.limit.toLocaleString("en")} bytes`;
    return `the line is longer than ${size}, the longest line read: is the file JSON Lines, one item per line?`;
  }
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * The lines of `input` as `readline` splits them (a line ends at `\n`, `\r\n` or `\r`; the last line needs no line
 * break), decoded as UTF-8, except that a line longer than `maxBytes` is yielded as an {@link OverlongLine}, once,
 * without being read into memory. Ending the iteration early destroys the stream.
 *
 * @example
 * ```ts
 * import { createReadStream } from "node:fs";
 *
 * let line = 0;
 * for await (const text of readLines(createReadStream("items.jsonl"), 1024 * 1024)) {
 *   line++;
 *   if (text instanceof OverlongLine) console.error(`items.jsonl:${line}: ${text.detail}`);
 * }
 * ```
 */
export async function* readLines(
  input: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
  maxBytes: number,
): AsyncGenerator<string | OverlongLine> {
  let parts: Buffer[] = [];
  let held = 0;
  let skipping = false;
  let afterCr = false;
  for await (const data of input) {
    const chunk = typeof data === "string" ? Buffer.from(data) : data;
    let start = afterCr && chunk[0] === LF ? 1 : 0;
    afterCr = false;
    while (start <= chunk.length) {
      const end = lineBreak(chunk, start);
      if (end < 0) {
        if (!skipping && chunk.length > start) {
          held += chunk.length - start;
          if (held > maxBytes) {
            skipping = true;
            parts = [];
            held = 0;
            yield new OverlongLine(maxBytes);
          } else parts.push(chunk.subarray(start));
        }
        break;
      }
      if (skipping) skipping = false;
      else if (held + end - start > maxBytes) yield new OverlongLine(maxBytes);
      else {
        const last = chunk.subarray(start, end);
        yield (parts.length === 0 ? last : Buffer.concat([...parts, last])).toString("utf8");
      }
      parts = [];
      held = 0;
      if (chunk[end] === CR) {
        if (end + 1 === chunk.length) afterCr = true;
        else if (chunk[end + 1] === LF) start = end + 2;
        else start = end + 1;
        if (afterCr) break;
      } else start = end + 1;
    }
  }
  if (!skipping && parts.length > 0) yield Buffer.concat(parts).toString("utf8");
}

/** The index of the first `\n` or `\r` at or after `from`, or -1. */
function lineBreak(chunk: Buffer, from: number): number {
  const lf = chunk.indexOf(LF, from);
  const cr = chunk.indexOf(CR, from);
  if (cr < 0) return lf;
  return lf < 0 || cr < lf ? cr : lf;
}

/** The JSON Lines fields that hold a user id. */
const ID_FIELDS = ["uid", "userId"] as const;

/**
 * A user id field of a JSON Lines item written as something other than digits (`1e3`, `3.0`, `1E3`), which
 * `JSON.parse` reads as an integer (1000, 3) without a word: the field and how it is written, or undefined.
 *
 * @example
 * ```ts
 * looseIdField('{"uid": 1e3}', { uid: 1000 }); // { field: "uid", written: "1e3", read: 1000 }
 * looseIdField('{"uid": 1000}', { uid: 1000 }); // undefined
 * ```
 */
export function looseIdField(
  text: string,
  item: Record<string, unknown>,
): { field: string; written: string; read: number } | undefined {
  for (const field of ID_FIELDS) {
    const read = item[field];
    if (typeof read !== "number") continue;
    // Most files write ids in digits, as String() spells them back: then the text need not be parsed again.
    if (Number.isSafeInteger(read) && new RegExp(`"${field}"\\s*:\\s*${read}\\s*[,}]`).test(text)) continue;
    const written = (parseJsonNumbersAsText(text) as Record<string, unknown>)[field];
    if (typeof written === "string" && /^-?[0-9]+$/.test(written)) continue;
    return { field, written: String(written), read };
  }
  return undefined;
}
