/**
 * The plan's check that no user (or, for delegates, no user and delegate) appears twice, in bounded memory: an
 * external sort of fixed-size binary records. Keys are collected in typed arrays; a full chunk is sorted and
 * spilled to a temporary file; at the end the sorted runs are merged and equal keys come out side by side.
 * Memory: one chunk (about 30 bytes a record, {@link DEFAULT_CHUNK} records) plus a small read buffer per run,
 * whatever the number of users. No library fits: the npm external sorts sort text lines, and a Bloom filter would
 * still need an exact second pass over the input.
 */
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Records held in memory before a sorted run is written to disk.
 *
 * @example
 * ```ts
 * const sorter = new KeySorter(DEFAULT_CHUNK / 2);
 * ```
 */
export const DEFAULT_CHUNK = 1 << 17;

const RECORD_BYTES = 25;
const TWO_32 = 4294967296;

/**
 * One record as the merge hands it out. The object is reused from one record to the next: copy what you keep.
 *
 * @example
 * ```ts
 * const sorter = new KeySorter();
 * await sorter.merge((r) => console.log(keyText(r.hi1, r.lo1), r.line));
 * ```
 */
export interface KeyRecord {
  hi1: number;
  lo1: number;
  hi2: number;
  lo2: number;
  line: number;
  ordinal: number;
  flag: number;
}

/**
 * A positive int64 as a decimal string, split into its high and low 32 bits.
 *
 * @example
 * ```ts
 * splitKey("4294967297"); // [1, 1]
 * ```
 */
export function splitKey(decimal: string): [number, number] {
  if (decimal.length <= 15) {
    const n = Number(decimal);
    return [Math.floor(n / TWO_32), n % TWO_32];
  }
  const b = BigInt(decimal);
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

/**
 * The decimal text of a key split by {@link splitKey}.
 *
 * @example
 * ```ts
 * keyText(1, 1); // "4294967297"
 * ```
 */
export function keyText(hi: number, lo: number): string {
  return hi === 0 ? String(lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

/**
 * Sorts (key1, key2, line) records with a bounded amount of memory.
 *
 * @example
 * ```ts
 * const sorter = new KeySorter();
 * sorter.add("7215545057281", undefined, 2, 0, 0);
 * await sorter.flushIfFull();
 * await sorter.merge((r) => console.log(r.line));
 * await sorter.close();
 * ```
 */
export class KeySorter {
  readonly #capacity: number;
  readonly #hi1: Uint32Array;
  readonly #lo1: Uint32Array;
  readonly #hi2: Uint32Array;
  readonly #lo2: Uint32Array;
  readonly #line: Uint32Array;
  readonly #ordinal: Uint32Array;
  readonly #flag: Uint8Array;
  #count = 0;
  #dir: string | undefined;
  readonly #runs: string[] = [];

  constructor(capacity = DEFAULT_CHUNK) {
    this.#capacity = capacity;
    this.#hi1 = new Uint32Array(capacity);
    this.#lo1 = new Uint32Array(capacity);
    this.#hi2 = new Uint32Array(capacity);
    this.#lo2 = new Uint32Array(capacity);
    this.#line = new Uint32Array(capacity);
    this.#ordinal = new Uint32Array(capacity);
    this.#flag = new Uint8Array(capacity);
  }

  /** Records added so far. */
  get size(): number {
    return this.#runs.length * this.#capacity + this.#count;
  }

  /** Adds a record; call {@link flushIfFull} before the next add. `key2` is the delegate, or undefined. */
  add(key1: string, key2: string | undefined, line: number, ordinal: number, flag: number): void {
    const [hi1, lo1] = splitKey(key1);
    const [hi2, lo2] = key2 === undefined ? [0, 0] : splitKey(key2);
    this.addSplit(hi1, lo1, hi2, lo2, line, ordinal, flag);
  }

  /** Adds a record whose keys are split already (high and low 32 bits); call {@link flushIfFull} before the next. */
  addSplit(hi1: number, lo1: number, hi2: number, lo2: number, line: number, ordinal: number, flag: number): void {
    if (this.#count === this.#capacity) throw new Error("KeySorter: flushIfFull() was not awaited");
    const i = this.#count++;
    this.#hi1[i] = hi1;
    this.#lo1[i] = lo1;
    this.#hi2[i] = hi2;
    this.#lo2[i] = lo2;
    this.#line[i] = line;
    this.#ordinal[i] = ordinal;
    this.#flag[i] = flag;
  }

  /** Writes the chunk to disk as a sorted run when it is full. */
  async flushIfFull(): Promise<void> {
    if (this.#count < this.#capacity) return;
    const order = this.#sortedOrder();
    this.#dir ??= await mkdtemp(join(tmpdir(), "pod-admin-plan-"));
    const path = join(this.#dir, `run-${this.#runs.length}`);
    const handle = await open(path, "w");
    try {
      const batch = Buffer.allocUnsafe(RECORD_BYTES * 8192);
      for (let start = 0; start < order.length; start += 8192) {
        const end = Math.min(order.length, start + 8192);
        for (let k = start; k < end; k++) this.#encode(order[k] as number, batch, (k - start) * RECORD_BYTES);
        await handle.write(batch, 0, (end - start) * RECORD_BYTES);
      }
    } finally {
      await handle.close();
    }
    this.#runs.push(path);
    this.#count = 0;
  }

  /** Visits every record in (key1, key2, line) order. */
  async merge(visit: (record: KeyRecord) => void | Promise<void>): Promise<void> {
    const sources = await this.#openSources();
    try {
      for (let best = smallest(sources); best; best = smallest(sources)) {
        const visited = visit(best.current as KeyRecord);
        if (visited) await visited;
        // Only a run's buffer running out costs an await: a million records merge without a million promises.
        if (!best.advance()) await best.refill();
      }
    } finally {
      for (const source of sources) await source.close();
    }
  }

  /** The records in (key1, key2, line) order, as {@link merge} visits them (the object is reused: copy what you keep). */
  async *records(): AsyncGenerator<KeyRecord> {
    const sources = await this.#openSources();
    try {
      for (let best = smallest(sources); best; best = smallest(sources)) {
        yield best.current as KeyRecord;
        if (!best.advance()) await best.refill();
      }
    } finally {
      for (const source of sources) await source.close();
    }
  }

  /** The runs on disk and the records in memory, each at its first record. */
  async #openSources(): Promise<Source[]> {
    const sources: Source[] = this.#runs.map((path) => new RunSource(path));
    sources.push(new MemorySource(this.#sortedOrder(), this));
    try {
      for (const source of sources) if (!source.advance()) await source.refill();
    } catch (error) {
      for (const source of sources) await source.close();
      throw error;
    }
    return sources;
  }

  /** Removes the temporary runs. */
  async close(): Promise<void> {
    if (this.#dir !== undefined) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }

  /** @internal */
  read(i: number, into: KeyRecord): void {
    into.hi1 = this.#hi1[i] as number;
    into.lo1 = this.#lo1[i] as number;
    into.hi2 = this.#hi2[i] as number;
    into.lo2 = this.#lo2[i] as number;
    into.line = this.#line[i] as number;
    into.ordinal = this.#ordinal[i] as number;
    into.flag = this.#flag[i] as number;
  }

  #encode(i: number, buffer: Buffer, offset: number) {
    buffer.writeUInt32BE(this.#hi1[i] as number, offset);
    buffer.writeUInt32BE(this.#lo1[i] as number, offset + 4);
    buffer.writeUInt32BE(this.#hi2[i] as number, offset + 8);
    buffer.writeUInt32BE(this.#lo2[i] as number, offset + 12);
    buffer.writeUInt32BE(this.#line[i] as number, offset + 16);
    buffer.writeUInt32BE(this.#ordinal[i] as number, offset + 20);
    buffer.writeUInt8(this.#flag[i] as number, offset + 24);
  }

  #sortedOrder(): Uint32Array {
    const order = new Uint32Array(this.#count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    const hi1 = this.#hi1;
    const lo1 = this.#lo1;
    const hi2 = this.#hi2;
    const lo2 = this.#lo2;
    const line = this.#line;
    order.sort(
      (a, b) =>
        (hi1[a] as number) - (hi1[b] as number) ||
        (lo1[a] as number) - (lo1[b] as number) ||
        (hi2[a] as number) - (hi2[b] as number) ||
        (lo2[a] as number) - (lo2[b] as number) ||
        (line[a] as number) - (line[b] as number),
    );
    return order;
  }
}

function compare(a: KeyRecord, b: KeyRecord): number {
  return a.hi1 - b.hi1 || a.lo1 - b.lo1 || a.hi2 - b.hi2 || a.lo2 - b.lo2 || a.line - b.line;
}

interface Source {
  current: KeyRecord | undefined;
  /** Moves to the next record; false when the buffer ran out and {@link refill} must be awaited. */
  advance(): boolean;
  refill(): Promise<void>;
  close(): Promise<void>;
}

const emptyRecord = (): KeyRecord => ({ hi1: 0, lo1: 0, hi2: 0, lo2: 0, line: 0, ordinal: 0, flag: 0 });

class MemorySource implements Source {
  current: KeyRecord | undefined;
  readonly #record = emptyRecord();
  #at = 0;
  constructor(
    readonly order: Uint32Array,
    readonly sorter: KeySorter,
  ) {}
  advance() {
    if (this.#at >= this.order.length) this.current = undefined;
    else {
      this.sorter.read(this.order[this.#at++] as number, this.#record);
      this.current = this.#record;
    }
    return true;
  }
  async refill() {}
  async close() {}
}

class RunSource implements Source {
  current: KeyRecord | undefined;
  readonly #record = emptyRecord();
  readonly #buffer = Buffer.allocUnsafe(RECORD_BYTES * 4096);
  #handle: Awaited<ReturnType<typeof open>> | undefined;
  #filled = 0;
  #at = 0;
  #position = 0;
  constructor(readonly path: string) {}

  advance() {
    if (this.#at + RECORD_BYTES > this.#filled) return false;
    const b = this.#buffer;
    const o = this.#at;
    const r = this.#record;
    r.hi1 = b.readUInt32BE(o);
    r.lo1 = b.readUInt32BE(o + 4);
    r.hi2 = b.readUInt32BE(o + 8);
    r.lo2 = b.readUInt32BE(o + 12);
    r.line = b.readUInt32BE(o + 16);
    r.ordinal = b.readUInt32BE(o + 20);
    r.flag = b.readUInt8(o + 24);
    this.#at += RECORD_BYTES;
    this.current = r;
    return true;
  }

  async refill() {
    this.#handle ??= await open(this.path, "r");
    const { bytesRead } = await this.#handle.read(this.#buffer, 0, this.#buffer.length, this.#position);
    this.#position += bytesRead;
    this.#filled = bytesRead;
    this.#at = 0;
    if (!this.advance()) this.current = undefined;
  }

  async close() {
    await this.#handle?.close();
    this.#handle = undefined;
  }
}

/**
 * A set of small non-negative integers (item numbers) as a growable bit array: 1,000,000 items take 125 kB.
 *
 * @example
 * ```ts
 * const applied = new BitSet();
 * applied.add(17);
 * applied.has(17); // true
 * ```
 */
export class BitSet {
  #bits = new Uint8Array(1024);
  #size = 0;

  /** Members added (each counted once). */
  get size(): number {
    return this.#size;
  }

  add(n: number): void {
    const byte = n >>> 3;
    if (byte >= this.#bits.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.#bits.length * 2));
      grown.set(this.#bits);
      this.#bits = grown;
    }
    const mask = 1 << (n & 7);
    if (((this.#bits[byte] as number) & mask) === 0) {
      this.#bits[byte] = (this.#bits[byte] as number) | mask;
      this.#size++;
    }
  }

  has(n: number): boolean {
    return (((this.#bits[n >>> 3] ?? 0) >> (n & 7)) & 1) === 1;
  }
}

/** The source whose current record comes first, or undefined when all are done. */
function smallest(sources: readonly Source[]): Source | undefined {
  let best: Source | undefined;
  for (const source of sources) {
    if (source.current && (!best || compare(source.current, best.current as KeyRecord) < 0)) best = source;
  }
  return best;
}
