/**
 * Texts sorted by a 64-bit key in bounded memory: each text is appended to a temporary file and its key, offset and
 * length go to a {@link KeySorter}; reading them back in key order (ties in the order added) reads each text at its
 * offset. Used where whole records, not just keys, must come out grouped or ordered: a user's CSV rows that are not
 * consecutive (csv.ts), and an export's users in uid order (commands/export.ts).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { KeySorter, splitKey } from "./keysort.js";

const TWO_32 = 4294967296;
/** Bytes gathered before a write to the spill file. */
const WRITE_BATCH = 64 * 1024;

/**
 * A positive int64 (decimal) as the split key {@link SpillSort.add} takes.
 *
 * @example
 * ```ts
 * uidKey("4294967297"); // [1, 1]
 * ```
 */
export const uidKey = splitKey;

/**
 * Any text as a split 64-bit key: the first 8 bytes of its SHA-1. Equal texts get equal keys; two different texts
 * sharing one is so unlikely (one in 10^7 for a million texts) that callers only need to stay correct, not to group
 * them right, when it happens.
 *
 * @example
 * ```ts
 * const [hi, lo] = textKey("ada@acme.com");
 * ```
 */
export function textKey(text: string): [number, number] {
  const digest = createHash("sha1").update(text).digest();
  return [digest.readUInt32BE(0), digest.readUInt32BE(4)];
}

/**
 * One text handed back by {@link SpillSort.sorted}: its key, the line given with it, and the text.
 *
 * @example
 * ```ts
 * const spill = new SpillSort("pod-admin-example-");
 * for await (const { line, text } of spill.sorted()) console.log(line, text);
 * ```
 */
export interface Spilled {
  hi: number;
  lo: number;
  line: number;
  text: string;
}

/**
 * Texts with keys, kept on disk and handed back in key order (or in the order added). Memory: the sorter's chunk and
 * one write batch, whatever the number of texts.
 *
 * @example
 * ```ts
 * const spill = new SpillSort("pod-admin-example-");
 * try {
 *   await spill.add(...uidKey("12"), 2, "12,b\n");
 *   await spill.add(...uidKey("7"), 3, "7,a\n");
 *   for await (const { text } of spill.sorted()) process.stdout.write(text); // 7,a then 12,b
 * } finally {
 *   await spill.close();
 * }
 * ```
 */
export class SpillSort {
  readonly #prefix: string;
  readonly #sorter: KeySorter;
  #dir: string | undefined;
  #file: FileHandle | undefined;
  #pending: string[] = [];
  #pendingBytes = 0;
  #offset = 0;
  #count = 0;

  constructor(prefix: string, capacity?: number) {
    this.#prefix = prefix;
    this.#sorter = new KeySorter(capacity);
  }

  /** Texts added. */
  get size(): number {
    return this.#count;
  }

  /** Adds `text` (at most 4 GiB) under the key (`hi`, `lo`), with a line number kept beside it. */
  async add(hi: number, lo: number, line: number, text: string): Promise<void> {
    const bytes = Buffer.byteLength(text);
    const offset = this.#offset;
    this.#sorter.addSplit(hi, lo, Math.floor(offset / TWO_32), offset % TWO_32, line, bytes, 0);
    await this.#sorter.flushIfFull();
    this.#offset += bytes;
    this.#count++;
    this.#pending.push(text);
    this.#pendingBytes += bytes;
    if (this.#pendingBytes >= WRITE_BATCH) await this.#flush();
  }

  /**
   * Whether every key's texts were added one after the other (no other key between them): then the order added
   * already groups them.
   */
  async grouped(): Promise<boolean> {
    let hi = -1;
    let lo = -1;
    let end = -1;
    for await (const r of this.#sorter.records()) {
      const offset = r.hi2 * TWO_32 + r.lo2;
      if (r.hi1 === hi && r.lo1 === lo && offset !== end) return false;
      hi = r.hi1;
      lo = r.lo1;
      end = offset + r.ordinal;
    }
    return true;
  }

  /** The texts in key order; texts of one key in the order they were added. */
  async *sorted(): AsyncGenerator<Spilled> {
    await this.#flush();
    if (this.#file === undefined) return;
    let buffer = Buffer.allocUnsafe(WRITE_BATCH);
    for await (const r of this.#sorter.records()) {
      if (r.ordinal > buffer.length) buffer = Buffer.allocUnsafe(r.ordinal);
      await this.#file.read(buffer, 0, r.ordinal, r.hi2 * TWO_32 + r.lo2);
      yield { hi: r.hi1, lo: r.lo1, line: r.line, text: buffer.toString("utf8", 0, r.ordinal) };
    }
  }

  /** The texts in the order they were added, one per line: for texts that hold no line break. */
  async *lines(): AsyncGenerator<string> {
    await this.#flush();
    if (this.#dir === undefined) return;
    const lines = createInterface({ input: createReadStream(join(this.#dir, "texts")), crlfDelay: Infinity });
    for await (const line of lines) yield line;
  }

  /** Removes the temporary files. */
  async close(): Promise<void> {
    await this.#file?.close();
    this.#file = undefined;
    await this.#sorter.close();
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }

  async #flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    this.#dir ??= await mkdtemp(join(tmpdir(), this.#prefix));
    this.#file ??= await open(join(this.#dir, "texts"), "w+", 0o600);
    const text = this.#pending.join("");
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.#file.write(text);
  }
}
