/**
 * Units of the CLI's plan and journal: the external sort that finds repeated users in bounded memory, and the
 * journal scan that decides what a stopped run left to do.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanJournal } from "../src/cli/files/report-scan.js";
import { BitSet, KeySorter, keyText, splitKey } from "../src/cli/input/keysort.js";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "pod-admin-journal-"));
});
afterAll(() => rm(work, { recursive: true, force: true }));

describe("KeySorter", () => {
  it("merges runs spilled to disk with the chunk in memory, in (uid, delegate, line) order", async () => {
    const sorter = new KeySorter(4); // a run every 4 records
    const uids = ["9223372036854775807", "5", "4294967297", "5", "1", "9007199254740993", "4294967297", "2", "5"];
    for (const [i, uid] of uids.entries()) {
      sorter.add(uid, i % 2 === 0 ? undefined : "7", i + 2, i, i % 2);
      await sorter.flushIfFull();
    }
    const seen: string[] = [];
    await sorter.merge((r) => {
      seen.push(`${keyText(r.hi1, r.lo1)}/${keyText(r.hi2, r.lo2)}@${r.line}#${r.ordinal}:${r.flag}`);
    });
    await sorter.close();
    expect(seen).toEqual([
      "1/0@6#4:0",
      "2/7@9#7:1",
      "5/0@10#8:0",
      "5/7@3#1:1",
      "5/7@5#3:1",
      "4294967297/0@4#2:0",
      "4294967297/0@8#6:0",
      "9007199254740993/7@7#5:1",
      "9223372036854775807/0@2#0:0",
    ]);
  });

  it("splits int64 keys losslessly", () => {
    for (const key of ["1", "4294967295", "4294967296", "9007199254740993", "9223372036854775807"]) {
      expect(keyText(...splitKey(key))).toBe(key);
    }
  });

  it("BitSet grows and counts members once", () => {
    const set = new BitSet();
    set.add(3);
    set.add(3);
    set.add(1_000_000);
    expect([set.has(3), set.has(4), set.has(1_000_000), set.size]).toEqual([true, false, true, 2]);
  });
});

describe("scanJournal", () => {
  it("reads what is settled; a last line cut short settles nothing, even one cut inside a number", async () => {
    const path = join(work, "cut.jsonl");
    await writeFile(
      path,
      [
        '{"uid":"1","features":[],"_report":{"status":"pending","item":0,"line":2}}',
        '{"uid":"2","features":[],"_report":{"status":"pending","item":1,"line":3}}',
        '{"uid":"3","features":[],"_report":{"status":"pending","item":12,"line":4}}',
        '{"_report":{"status":"succeeded","item":0}}',
        '{"uid":"3","features":[],"_report":{"status":"failed","item":12,"line":4,"error":"PodServerError"}}',
        '{"_report":{"status":"succeeded","item":1', // "item":12 cut to "item":1 by the kill
      ].join("\n"),
    );
    const scan = await scanJournal(path);
    expect(scan?.incompleteLastLine).toBe(true);
    expect(scan?.applied).toBe(1);
    expect([0, 1, 12].map((item) => scan?.settled.has(item))).toEqual([true, false, true]);
  });

  it("a file whose first line is not pending is not a journal", async () => {
    const path = join(work, "report.jsonl");
    await writeFile(path, '{"uid":"3","features":[],"_report":{"status":"failed","item":2,"line":4}}\n');
    expect(await scanJournal(path)).toBeUndefined();
  });
});
