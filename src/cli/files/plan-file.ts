/**
 * The saved plan (`--save-plan PLAN`): JSON Lines, a header and one line per change (the item to send, the state
 * the read saw, the `- old` / `+ new` lines), plus `PLAN.diff`, the same changes for a person to read, in full.
 * The header carries the counts and a SHA-256 of the change lines, so a plan cut short or edited after review is
 * refused instead of applied. Files are created by safe-file.ts (0600, exclusively, never through a link) via
 * `PLAN.partial`, then renamed: an existing PLAN is replaced only when it is a plan.
 */
import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, readSync, writeSync } from "node:fs";
import { lstat, mkdtemp, open, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseJsonLossless, stringifyJson } from "../../core/json.js";
import { printable } from "../../core/text.js";
import { createExclusive, FileLock, UnsafeFileError } from "./safe-file.js";

/**
 * The key of a plan's lines (`{"_plan":{…}, …}`): the header's fields on line 1, the change's number on the others.
 *
 * @example
 * ```ts
 * const first = '{"_plan":{"format":1,"command":"features apply"}}';
 * const header = JSON.parse(first)[PLAN_KEY]; // { format: 1, command: "features apply" }
 * ```
 */
export const PLAN_KEY = "_plan";

/**
 * The plan format this version writes and reads; a plan of another format is refused, not guessed at.
 *
 * @example
 * ```ts
 * const readable = (header: PlanHeader) => header.format === PLAN_FORMAT;
 * ```
 */
export const PLAN_FORMAT = 1;

/**
 * A plan's first line, under {@link PLAN_KEY}.
 *
 * @example
 * ```ts
 * const header: PlanHeader = await readPlan("plan.jsonl", () => {});
 * console.log(`${header.counts.users} users change on ${header.pod}`);
 * ```
 */
export interface PlanHeader {
  format: number;
  /** The command that applies it, e.g. `features apply`. */
  command: string;
  /** The pod the reads saw (a `--pod` never holds credentials). */
  pod: string;
  /** When it was saved (ISO 8601). */
  created: string;
  /** The input file the plan was made from. */
  input: string;
  counts: {
    /** Change lines that follow. */
    changes: number;
    /** Users they change. */
    users: number;
    /** Items whose user already held them: not in the plan. */
    unchanged: number;
    /** Items naming a user the pod does not know: not in the plan. */
    unknownUsers: number;
  };
  /** SHA-256 (hex) of the change lines, each with its newline. */
  sha256: string;
}

/**
 * One change of a plan, as its line holds it (besides `_plan: { change: N }`).
 *
 * @example
 * ```ts
 * const change: PlanChange = {
 *   uid: "7215545057281",
 *   line: 2,
 *   item: { uid: "7215545057281", features: [{ entitlement: "canCreatePublicRoom", enabled: true }] },
 *   before: { uid: "7215545057281", features: [{ entitlement: "canCreatePublicRoom", enabled: false }] },
 *   diff: ["- canCreatePublicRoom: false", "+ canCreatePublicRoom: true"],
 * };
 * ```
 */
export interface PlanChange {
  uid: string;
  /** The item's line in the input file. */
  line: number | undefined;
  /** Exactly what is sent. */
  item: Record<string, unknown>;
  /** What the read saw: the part of the user's state the item touches (what `--journal` records). */
  before: Record<string, unknown>;
  /** Before → after: `- ` the state read, `+ ` the state the item sets. */
  diff: string[];
}

/** A first line that is a plan's header. */
const HEADER_START = new RegExp(`^\\s*\\{\\s*"${PLAN_KEY}"\\s*:\\s*\\{\\s*"format"`);
/** The first line of `PLAN.diff`. */
const DIFF_START = "# pod-admin plan";

/**
 * Whether a file starts like a saved plan (read from its first bytes only).
 *
 * @example
 * ```ts
 * if (await holdsPlan("plan.jsonl")) console.log("apply it with pod-admin features apply plan.jsonl");
 * ```
 */
export async function holdsPlan(path: string): Promise<boolean> {
  return startsWith(path, (text) => HEADER_START.test(text));
}

async function startsWith(path: string, test: (text: string) => boolean): Promise<boolean> {
  // Not opened unless a regular file: opening a pipe (an input given as <(…)) would take its data.
  if (!(await stat(path).catch(() => undefined))?.isFile()) return false;
  const handle = await open(path, "r").catch(() => undefined);
  if (handle === undefined) return false;
  try {
    const buffer = Buffer.alloc(64);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return test(buffer.toString("utf8", 0, bytesRead));
  } finally {
    await handle.close();
  }
}

/**
 * Writes a plan as the read pass finds its changes: each one goes to a temporary file at once (flat memory), and
 * {@link PlanWriter.save} writes `PLAN` (header first, with the counts) and `PLAN.diff` from it. Open it before any
 * read: a `PLAN` that may not be written is refused then, and it stays locked until saved or closed.
 *
 * @example
 * ```ts
 * const writer = await PlanWriter.open("plan.jsonl", "features apply users.csv");
 * writer.add({ uid: "1", line: 2, item: { uid: "1", features: [] }, before: { uid: "1", features: [] }, diff: [] });
 * const pod = "https://acme.symphony.com/pod";
 * await writer.save({ command: "features apply", pod, input: "users.csv", unchanged: 90, unknownUsers: 0 });
 * ```
 */
export class PlanWriter {
  /** Where the plan goes, and its human-readable diff. */
  readonly path: string;
  readonly diffPath: string;
  /** Per change, in the order added: its input line, and where its JSON sits in the temporary file. */
  readonly #index: { line: number; start: number; length: number }[] = [];
  #bytes = 0;
  readonly #users = new Set<string>();
  readonly #dir: string;
  readonly #fd: number;
  readonly #lock: FileLock;

  private constructor(path: string, dir: string, fd: number, lock: FileLock) {
    this.path = path;
    this.diffPath = `${path}.diff`;
    this.#dir = dir;
    this.#fd = fd;
    this.#lock = lock;
  }

  /**
   * Checks `path` (and `path.diff`): absent, or a plan (and its diff) that may be replaced; locks it. Refused with
   * an {@link UnsafeFileError} naming the file and the rule.
   */
  static async open(path: string, run: string): Promise<PlanWriter> {
    await refuseUnlessPlan(path, (text) => HEADER_START.test(text), "a pod-admin plan");
    await refuseUnlessPlan(`${path}.diff`, (text) => text.startsWith(DIFF_START), "a pod-admin plan's diff");
    const lock = await FileLock.acquire(path, "--save-plan", run);
    try {
      const dir = await mkdtemp(join(tmpdir(), "pod-admin-plan-"));
      return new PlanWriter(path, dir, openSync(join(dir, "changes.jsonl"), "wx+", 0o600), lock);
    } catch (error) {
      lock.release();
      throw error;
    }
  }

  /** Changes added so far. */
  get changes(): number {
    return this.#index.length;
  }

  /** One change (synchronous: the read pass calls it as each read settles, in no particular order). */
  add(change: PlanChange): void {
    this.#users.add(change.uid);
    const text = Buffer.from(stringifyJson(change));
    writeSync(this.#fd, text, 0, text.length, this.#bytes);
    this.#index.push({ line: change.line ?? Number.MAX_SAFE_INTEGER, start: this.#bytes, length: text.length });
    this.#bytes += text.length;
  }

  /**
   * Writes `PLAN` and `PLAN.diff` (each via its `.partial`, synced, then renamed), the changes in input-line order
   * (the reads settle in any order: two plans of one pod and file compare line by line), and releases the lock.
   */
  async save(
    about: Omit<PlanHeader, "format" | "created" | "counts" | "sha256"> & {
      unchanged: number;
      unknownUsers: number;
    },
  ): Promise<void> {
    try {
      // A stable sort: the items of one line (none today) keep the order they were read in.
      const order = [...this.#index].sort((a, b) => a.line - b.line);
      const lineOf = (n: number): string => {
        const at = order[n] as { start: number; length: number };
        const buffer = Buffer.alloc(at.length);
        readSync(this.#fd, buffer, 0, at.length, at.start);
        // The change's number goes first, where a reader of the line sees it.
        return `{"${PLAN_KEY}":{"change":${n + 1}},${buffer.toString("utf8").slice(1)}\n`;
      };
      const hash = createHash("sha256");
      for (let n = 0; n < order.length; n++) hash.update(lineOf(n));
      const header: PlanHeader = {
        format: PLAN_FORMAT,
        command: about.command,
        pod: about.pod,
        created: new Date().toISOString(),
        input: about.input,
        counts: {
          changes: order.length,
          users: this.#users.size,
          unchanged: about.unchanged,
          unknownUsers: about.unknownUsers,
        },
        sha256: hash.digest("hex"),
      };
      await this.#write(this.path, async (write) => {
        await write(`${stringifyJson({ [PLAN_KEY]: header })}\n`);
        for (let n = 0; n < order.length; n++) await write(lineOf(n));
      });
      await this.#write(this.diffPath, async (write) => {
        const { counts } = header;
        await write(
          `${DIFF_START}: pod-admin ${header.command} ${header.input} against ${header.pod}, ${header.created}\n` +
            `# ${counts.changes} changes to ${counts.users} users (${counts.unchanged} already held, ` +
            `${counts.unknownUsers} unknown users); - the state read, + the state after. Apply: pod-admin ` +
            `${header.command} ${this.path}\n`,
        );
        for (let n = 0; n < order.length; n++) {
          const change = JSON.parse(lineOf(n)) as PlanChange;
          const at = change.line === undefined ? "" : ` (line ${change.line})`;
          await write(
            `user ${change.uid}${at}:\n${change.diff.map((line) => `  ${printable(line, 2000)}\n`).join("")}`,
          );
        }
      });
    } finally {
      await this.close();
    }
  }

  /** Drops the temporary changes and the lock (PLAN is left as it was). */
  async close(): Promise<void> {
    try {
      closeSync(this.#fd);
    } catch {
      // Closed already.
    }
    await rm(this.#dir, { recursive: true, force: true });
    this.#lock.release();
  }

  async #write(path: string, fill: (write: (text: string | Buffer) => Promise<void>) => Promise<void>) {
    const partial = `${path}.partial`;
    const handle = await createExclusive(partial, { replace: true });
    try {
      // writeFile on a handle writes all of it, from where the last write ended.
      await fill((text) => handle.writeFile(text));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, path);
  }
}

/** An existing file at `path` is replaced only when it is `what` (its first bytes pass `test`). */
async function refuseUnlessPlan(path: string, test: (text: string) => boolean, what: string): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info === undefined) return;
  if (info.isSymbolicLink()) {
    throw new UnsafeFileError(
      `${path} is a symbolic link: pod-admin never writes through a link (in a shared folder one can point at any ` +
        "of your files); remove it and run again",
    );
  }
  if (!info.isFile()) throw new UnsafeFileError(`${path} exists and is not a regular file: name a new plan file`);
  if (info.size > 0 && !(await startsWith(path, test))) {
    throw new UnsafeFileError(
      `${path} exists and is not ${what}: the plan would replace it; name a new file (or remove it first)`,
    );
  }
}

/**
 * A plan that cannot be applied: cut short, edited, or not a plan of this version. The message names the file,
 * the line and the rule.
 *
 * @example
 * ```ts
 * const error = await readPlan("plan.jsonl", () => {}).catch((e: unknown) => e);
 * if (error instanceof PlanFileError) console.error(error.message); // "plan.jsonl: 3 changes found, the header says 5: …"
 * ```
 */
export class PlanFileError extends Error {
  override name = "PlanFileError";
}

/**
 * Reads a plan: its header, then each change in order (`onChange`, with its line number), checking that the
 * changes are all there and as saved (their count and SHA-256 against the header's). A change line that is not
 * JSON or lacks a field is refused with its line; so is a plan cut short or edited.
 *
 * @example
 * ```ts
 * const header = await readPlan("plan.jsonl", (change, line) => console.log(line, change.uid));
 * ```
 * @throws PlanFileError
 */
export async function readPlan(
  path: string,
  onChange: (change: PlanChange, line: number) => Promise<void> | void,
): Promise<PlanHeader> {
  const refuse = (message: string) => new PlanFileError(`${path}: ${message}`);
  const edited = "save a new plan (pod-admin … --dry-run --save-plan) and review it again";
  let header: PlanHeader | undefined;
  const hash = createHash("sha256");
  let line = 0;
  let changes = 0;
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const text of lines) {
    line++;
    let value: Record<string, unknown>;
    try {
      JSON.parse(text); // the check of the text; then ids beyond 2^53 are kept whole (an item is sent as saved)
      value = parseJsonLossless(text) as Record<string, unknown>;
    } catch {
      throw refuse(`line ${line} is not JSON: the plan was cut short or edited; ${edited}`);
    }
    const meta = value?.[PLAN_KEY] as Record<string, unknown> | undefined;
    if (line === 1) {
      header = checkHeader(meta, refuse);
      continue;
    }
    hash.update(`${text}\n`);
    changes++;
    const change = value as unknown as PlanChange;
    if (
      meta?.change !== changes ||
      typeof change.uid !== "string" ||
      typeof change.item !== "object" ||
      change.item === null ||
      typeof change.before !== "object" ||
      change.before === null ||
      !Array.isArray(change.diff)
    ) {
      throw refuse(`line ${line} is not change ${changes} of the plan (uid, item, before, diff): ${edited}`);
    }
    await onChange(change, line);
  }
  if (header === undefined) throw refuse("empty: not a plan");
  if (changes !== header.counts.changes) {
    throw refuse(
      `${changes} changes found, the header says ${header.counts.changes}: the plan was cut short or edited; ${edited}`,
    );
  }
  // The hash of a file that ends mid-line is the hash with a newline added: a cut line still fails the JSON check.
  if (hash.digest("hex") !== header.sha256) {
    throw refuse(`its changes do not match the header's SHA-256: the plan was edited after it was saved; ${edited}`);
  }
  return header;
}

function checkHeader(meta: Record<string, unknown> | undefined, refuse: (message: string) => Error): PlanHeader {
  if (meta === undefined || typeof meta !== "object") throw refuse("line 1 is not a plan's header");
  if (meta.format !== PLAN_FORMAT) {
    throw refuse(`line 1: plan format ${printable(String(meta.format))}, this pod-admin reads format ${PLAN_FORMAT}`);
  }
  const counts = meta.counts as Record<string, unknown> | undefined;
  const ok =
    typeof meta.command === "string" &&
    typeof meta.pod === "string" &&
    typeof meta.sha256 === "string" &&
    Number.isInteger(counts?.changes) &&
    Number.isInteger(counts?.users);
  if (!ok) throw refuse("line 1: the header lacks command, pod, counts or sha256: the plan was edited");
  return meta as unknown as PlanHeader;
}
