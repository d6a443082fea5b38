/**
 * The formula escape of CSV exports (src/cli/files/csv-cell.ts): every value that starts like a formula is written
 * with a leading ', and reading the cell back (csv-parse as the readers run it, then unescapeRow) gives the value.
 */
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { csvCell, unescapeFormula, unescapeRow } from "../src/cli/files/csv-cell.js";

const STARTS = ["=", "+", "-", "@", "\t", "\r", "\n", "\0", "＝", "＋", "－", "＠", "'"];

/** Writes `value` as the second cell of a row and reads it back as the apply readers do. */
function roundTrip(value: string): string {
  const [row] = parse(`uid,v\n1,${csvCell(value)}\n`, { columns: true, bom: true, trim: true }) as Record<
    string,
    string
  >[];
  return unescapeRow(row as Record<string, string>).v as string;
}

describe("csvCell", () => {
  it.each(STARTS)("a value starting with %j is written with a leading ' and reads back exactly", (start) => {
    for (const value of [start, `${start}SUM(1+1)`, `${start}cmd|' /C calc'!A0`, `${start}a,b "c"`, `${start}x `]) {
      expect(csvCell(value).replace(/^"/, "")).toMatch(/^'/);
      expect(roundTrip(value)).toBe(value);
    }
  });

  it("leaves ordinary values as they are (feature names, app ids, booleans, uids)", () => {
    for (const value of ["canCreatePublicRoom", "djApp", "true", "7215545057281", "a b", "x'=y"]) {
      expect(csvCell(value)).toBe(value);
      expect(roundTrip(value)).toBe(value);
    }
  });

  it("quotes what the reader would otherwise split or trim", () => {
    expect(csvCell('News, "daily"')).toBe('"News, ""daily"""');
    expect(csvCell(" padded ")).toBe('" padded "');
    expect(csvCell("=1,2")).toBe('"\'=1,2"');
  });
});

describe("unescapeFormula", () => {
  it("removes one ' before a formula character or another ', and nothing else", () => {
    expect(unescapeFormula("'=SUM(A1)")).toBe("=SUM(A1)");
    expect(unescapeFormula("''=SUM(A1)")).toBe("'=SUM(A1)");
    expect(unescapeFormula("'plain")).toBe("'plain");
    expect(unescapeFormula("'")).toBe("'");
    expect(unescapeFormula("plain")).toBe("plain");
  });
});
