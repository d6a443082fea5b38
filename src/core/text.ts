/**
 * How the CLI shows text it did not write: cells, column names, URLs and messages from elsewhere are quoted short,
 * with control and invisible characters escaped, so a 10 MB cell or binary junk never reaches the terminal whole
 * and a zero-width space in a uid is visible.
 */

/**
 * Longest part of a cell a message quotes, in characters.
 *
 * @example
 * ```ts
 * const shown = quote("x".repeat(1000), QUOTE_MAX); // 80 characters, then "… (920 more characters)"
 * ```
 */
export const QUOTE_MAX = 80;

// Controls (C0, DEL, C1), format characters (zero-width spaces and joiners, bidi marks, BOM, soft hyphen), line and
// paragraph separators, every space but the plain one, lone surrogates, and U+FFFD (bytes that were not UTF-8).
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\uFFFD]|(?! )\p{Zs}|\p{Cs}/gu;

function escapeChar(char: string): string {
  switch (char) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
  }
  let out = "";
  for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`;
  return out;
}

/**
 * Escapes control and invisible characters (`\n`, `\u200b`, …).
 *
 * @example
 * ```ts
 * escapeInvisible("12\u200b34"); // "12\\u200b34"
 * ```
 */
export function escapeInvisible(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/**
 * A value as a message quotes it: in double quotes, escaped, and cut after {@link QUOTE_MAX} characters with the
 * length of the rest.
 *
 * @example
 * ```ts
 * quote("7215\u200b545057281"); // "\"7215\\u200b545057281\""
 * quote("x".repeat(10_000)); // "\"xxx…xxx\"… (9,920 more characters)"
 * ```
 */
export function quote(value: string, max = QUOTE_MAX): string {
  const head = Array.from(value.slice(0, max * 2))
    .slice(0, max)
    .join("");
  const text = `"${escapeInvisible(head.replaceAll("\\", "\\\\").replaceAll('"', '\\"'))}"`;
  const rest = value.length - head.length;
  return rest === 0 ? text : `${text}… (${rest.toLocaleString("en-US")} more characters)`;
}

/**
 * A message from elsewhere (a library error, a parser): escaped, and cut after `max` characters.
 *
 * @example
 * ```ts
 * printable("bad value\u0007 here"); // "bad value\\u0007 here"
 * ```
 */
export function printable(message: string, max = 400): string {
  const cut = message.length > max ? `${message.slice(0, max)}… (${message.length - max} more characters)` : message;
  return escapeInvisible(cut);
}

/**
 * `1 user`, `2 users`: a count and its noun, in the plural unless the count is 1.
 *
 * @example
 * ```ts
 * plural(1, "call"); // "1 call"
 * plural(3, "invalid row"); // "3 invalid rows"
 * ```
 */
export function plural(count: number, noun: string, nouns = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}

export { hasCredentials, withoutCredentials } from "./urls.js";
