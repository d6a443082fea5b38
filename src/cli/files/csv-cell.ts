/**
 * CSV cells that are safe to open in a spreadsheet. Values an export writes come from the pod (feature names,
 * `appId`, `appName`, product names, SKUs) and a hostile one such as `=HYPERLINK(…)` or `+cmd|' /C calc'!A0` would
 * run as a formula: OWASP's CSV-injection guidance is to prefix such a cell with `'`, which makes it text. The CSV
 * readers remove that `'` again ({@link unescapeFormula}), so an export applied back is exactly what the pod holds.
 */

/**
 * Characters that make a spreadsheet read a cell as a formula when they start it: OWASP's list (`=`, `+`, `-`, `@`,
 * tab, carriage return), line feed and NUL (ASVS 1.2.10), and the full-width `＝ ＋ － ＠` some spreadsheets fold into
 * their ASCII forms.
 */
const FORMULA_START = /^[=+\-@\t\r\n\0\uFF1D\uFF0B\uFF0D\uFF20]/;

/**
 * A value as a CSV cell: `'` before a value that starts like a formula (or with `'` itself, so that reading it back
 * is unambiguous), then quoted when it holds a comma, a quote, a line break, or spaces the reader would trim.
 *
 * @example
 * ```ts
 * csvCell("canCreatePublicRoom"); // "canCreatePublicRoom"
 * csvCell("=HYPERLINK(\"http://x\")"); // "\"'=HYPERLINK(\"\"http://x\"\")\""
 * csvCell("'quoted"); // "''quoted"
 * ```
 */
export function csvCell(value: string): string {
  const safe = FORMULA_START.test(value) || value.startsWith("'") ? `'${value}` : value;
  return /[",\r\n]|^\s|\s$/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/**
 * A CSV cell as read, with the formula escape of {@link csvCell} removed: a `'` followed by a formula character or
 * by another `'` is dropped; any other cell is returned as it is.
 *
 * @example
 * ```ts
 * unescapeFormula("'=SUM(A1:A2)"); // "=SUM(A1:A2)"
 * unescapeFormula("''quoted"); // "'quoted"
 * unescapeFormula("'plain"); // "'plain"
 * ```
 */
export function unescapeFormula(cell: string): string {
  if (!cell.startsWith("'")) return cell;
  const rest = cell.slice(1);
  return FORMULA_START.test(rest) || rest.startsWith("'") ? rest : cell;
}

/**
 * {@link unescapeFormula} on every cell of a parsed CSV row (in place; the row is returned).
 *
 * @example
 * ```ts
 * unescapeRow({ uid: "1", entitlement: "'@SUM(1)", enabled: "true" }); // { uid: "1", entitlement: "@SUM(1)", enabled: "true" }
 * ```
 */
export function unescapeRow<Row extends Record<string, string>>(row: Row): Row {
  for (const key of Object.keys(row)) {
    const cell = row[key] as string;
    if (cell.charCodeAt(0) === 0x27) (row as Record<string, string>)[key] = unescapeFormula(cell);
  }
  return row;
}
