/**
 * Issue 21, item 11, the JSON Lines reader: user ids written as `1e3` or `3.0` are refused with their line (not read
 * as users 1000 and 3), a line has a length limit (a long one is skipped without being held in memory), and the line
 * splitting behind it matches `readline`'s.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { readUndoJournal } from "../src/cli/files/journal.js";
import { OverlongLine, readLines } from "../src/cli/input/lines.js";
import { MAX_ROW_BYTES, type Operation, readItems } from "../src/cli/input/readers.js";
import { UsageError } from "../src/core/usage-error.js";

async function read(operation: Operation, chunks: (string | Buffer)[]) {
  const out: unknown[] = [];
  for await (const record of readItems(operation, Readable.from(chunks), "in.jsonl", "jsonl")) {
    out.push("error" in record ? { line: record.line, error: record.error.message, rule: record.error.rule } : record);
  }
  return out;
}

const FEATURE = '"features":[{"entitlement":"canCreatePublicRoom","enabled":true}]';

describe("JSON Lines: a user id must be written in digits", () => {
  it.each([
    ["1e3", 1000],
    ["1E3", 1000],
    ["3.0", 3],
    ["1.0e1", 10],
    ["7215545057281.000", 7215545057281],
  ])('{"uid": %s} is refused with its file:line, field and rule (not read as user %d)', async (written, read_) => {
    const records = await read("features", [`{"uid":7,${FEATURE}}\n{"uid": ${written},${FEATURE}}\n`]);
    expect(records).toEqual([
      { line: 1, item: { uid: 7, features: [{ entitlement: "canCreatePublicRoom", enabled: true }] } },
      {
        line: 2,
        rule: "integer digits",
        error: `in.jsonl:2: field "uid" is written ${written}, which JSON reads as ${read_}: a user id is written with digits only`,
      },
    ]);
  });

  it("the delegate's userId too, and a key spelled with an escape is checked all the same", async () => {
    const records = await read("delegates", [
      '{"uid":1,"userId":2e0,"action":"ADD"}\n',
      '{"\\u0075id":1e3,"userId":2,"action":"ADD"}\n',
    ]);
    expect(records).toEqual([
      {
        line: 1,
        rule: "integer digits",
        error:
          'in.jsonl:1: field "userId" is written 2e0, which JSON reads as 2: a user id is written with digits only',
      },
      {
        line: 2,
        rule: "integer digits",
        error:
          'in.jsonl:2: field "uid" is written 1e3, which JSON reads as 1000: a user id is written with digits only',
      },
    ]);
  });

  it("digits, with spaces around them, a string, or beyond 2^53 are read as before", async () => {
    const records = await read("features", [
      `{"uid" :  1000 ,${FEATURE}}\n{"uid":"1000",${FEATURE}}\n{"uid":9007199254740993,${FEATURE}}\n`,
    ]);
    expect(records).toMatchObject([
      { line: 1, item: { uid: 1000 } },
      { line: 2, item: { uid: "1000" } },
      { line: 3, item: { uid: 9007199254740993n } },
    ]);
  });
});

describe("JSON Lines: a line longer than the limit", () => {
  it("is refused with its line, and the lines after it are still read", async () => {
    const long = `{"uid":1,"features":[${'{"entitlement":"a","enabled":true},'.repeat(40_000)}]}`;
    expect(long.length).toBeGreaterThan(MAX_ROW_BYTES);
    const records = await read("features", [`${long}\n{"uid":2,${FEATURE}}\n`]);
    expect(records).toEqual([
      {
        line: 1,
        rule: "line length",
        error:
          "in.jsonl:1: the line is longer than 1 MiB, the longest line read: is the file JSON Lines, one item per line?",
      },
      { line: 2, item: { uid: 2, features: [{ entitlement: "canCreatePublicRoom", enabled: true }] } },
    ]);
  });

  it("a 64 MiB line without a line break is never held: it is refused once the limit is passed, not at its end", async () => {
    let produced = 0;
    async function* endless() {
      for (let i = 0; i < 64; i++) {
        produced += 1024 * 1024;
        yield Buffer.alloc(1024 * 1024, "x"); // a new buffer each time: holding them would hold 64 MiB
      }
    }
    const out: unknown[] = [];
    let producedWhenRefused = 0;
    for await (const line of readLines(endless(), MAX_ROW_BYTES)) {
      producedWhenRefused = produced;
      out.push(line);
    }
    expect(out).toHaveLength(1);
    expect(out[0]).toBeInstanceOf(OverlongLine);
    expect(producedWhenRefused).toBe(2 * 1024 * 1024);
    expect(produced).toBe(64 * 1024 * 1024); // and the rest of the line was read through, to its end
  });
});

describe("readLines splits as readline does", () => {
  async function lines(chunks: string[], max = 100) {
    const out: (string | number)[] = [];
    for await (const line of readLines(
      chunks.map((c) => Buffer.from(c)),
      max,
    )) {
      out.push(line instanceof OverlongLine ? -line.limit : line);
    }
    return out;
  }

  it("\\n, \\r\\n and a lone \\r end a line; the last line needs no break; empty lines are kept", async () => {
    expect(await lines(["a\nb\r\nc\rd"])).toEqual(["a", "b", "c", "d"]);
    expect(await lines(["a\n\nb\n"])).toEqual(["a", "", "b"]);
    expect(await lines([""])).toEqual([]);
  });

  it("a \\r\\n split over two chunks is one line break; lines span chunks; UTF-8 split mid-character", async () => {
    expect(await lines(["a\r", "\nb"])).toEqual(["a", "b"]);
    expect(await lines(["a\r", "b"])).toEqual(["a", "b"]);
    expect(await lines(["ab", "cd", "e\nf"])).toEqual(["abcde", "f"]);
    const euro = Buffer.from("€\n");
    const out: string[] = [];
    for await (const line of readLines([euro.subarray(0, 1), euro.subarray(1)], 100)) out.push(line as string);
    expect(out).toEqual(["€"]);
  });

  it("a line of exactly the limit is read; one byte more is overlong, once, whether in one chunk or many", async () => {
    expect(await lines([`${"x".repeat(10)}\nok`], 10)).toEqual(["x".repeat(10), "ok"]);
    expect(await lines([`${"x".repeat(11)}\nok`], 10)).toEqual([-10, "ok"]);
    expect(await lines(["xxxx", "xxxx", "xxxx", "x\nok"], 10)).toEqual([-10, "ok"]);
    expect(await lines(["xxxxxxxxxxxx"], 10)).toEqual([-10]);
  });
});

describe("an undo journal is read with the same line limit", () => {
  it("a line over 1 MiB is a UsageError naming the file and line, not read into memory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "undo-limit-"));
    try {
      const file = join(dir, "undo.jsonl");
      const header = {
        _undo: { version: 1, operation: "features", command: "features apply", pod: "p", created: "x" },
      };
      await writeFile(file, `${JSON.stringify(header)}\n{"uid":"1","x":"${"y".repeat(MAX_ROW_BYTES)}"}\n`);
      const { lines } = await readUndoJournal(file);
      const error = await (async () => {
        for await (const _line of lines) {
          // reading
        }
      })().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toBe(
        `${file}:2: the line is longer than 1 MiB, the longest line read: is the file JSON Lines, one item per line?`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
