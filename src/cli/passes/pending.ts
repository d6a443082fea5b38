/**
 * The items a run still has to settle: the journal's `pending` lines (up to `pendingBytes`, where the plan stopped
 * writing them), less those merged into another and those `skip` says are settled already. The write pass, the read
 * pass and the end of an interrupted read pass all walk them this one way.
 */
import { createReadStream } from "node:fs";
import type { Journal } from "../files/report.js";
import type { BitSet } from "../input/keysort.js";
import { type ItemOf, type Operation, readItems } from "../input/readers.js";

/** A pending item: the item, its number in the journal and its line in the input. */
export interface PendingItem<Op extends Operation> {
  item: ItemOf[Op];
  ordinal: number;
  line: number | undefined;
}

/** The journal's pending items, in order. */
export async function* pendingItems<Op extends Operation>(
  journal: Journal,
  operation: Op,
  pendingBytes: number,
  settled: { merged: BitSet; skip?: BitSet | undefined },
): AsyncGenerator<PendingItem<Op>> {
  if (pendingBytes === 0) return;
  const source = createReadStream(journal.path, { start: 0, end: pendingBytes - 1 });
  for await (const record of readItems(operation, source, journal.path, "jsonl")) {
    if (!("item" in record)) continue;
    const ordinal = record.meta?.item as number;
    if (settled.merged.has(ordinal) || settled.skip?.has(ordinal)) continue;
    yield { item: record.item, ordinal, line: record.meta?.line };
  }
}
