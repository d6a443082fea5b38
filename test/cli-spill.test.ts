/** The spill sort (src/cli/input/spill.ts): texts in key order through runs on disk, ties in the order added. */
import { describe, expect, it } from "vitest";
import { SpillSort, textKey, uidKey } from "../src/cli/input/spill.js";

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("SpillSort", () => {
  it("hands texts back by uid (int64 beyond 2^53 included), a key's texts in the order added, across runs on disk", async () => {
    const spill = new SpillSort("pod-admin-spill-test-", 2);
    try {
      const added: [string, string][] = [
        ["9223372036854775807", "max\n"],
        ["12", "twelve-a\n"],
        ["7", "seven\n"],
        ["12", "twelve-b ü\n"],
        ["9007199254740993", "big\n"],
      ];
      for (const [i, [uid, text]] of added.entries()) await spill.add(...uidKey(uid), i + 2, text);
      expect(await spill.grouped()).toBe(false);
      const sorted = await all(spill.sorted());
      expect(sorted.map((s) => s.text).join("")).toBe("seven\ntwelve-a\ntwelve-b ü\nbig\nmax\n");
      expect(sorted.map((s) => s.line)).toEqual([4, 3, 5, 6, 2]);
      expect(await all(spill.lines())).toEqual(["max", "twelve-a", "seven", "twelve-b ü", "big"]);
    } finally {
      await spill.close();
    }
  });

  it("says whether each key's texts were added one after the other", async () => {
    const spill = new SpillSort("pod-admin-spill-test-", 2);
    try {
      for (const email of ["b@x", "b@x", "a@x", "c@x", "c@x"]) await spill.add(...textKey(email), 1, `${email}\n`);
      expect(await spill.grouped()).toBe(true);
      await spill.add(...textKey("a@x"), 1, "a@x\n");
      expect(await spill.grouped()).toBe(false);
    } finally {
      await spill.close();
    }
  });
});
