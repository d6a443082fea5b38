/**
 * The one place that creates the CLI's output files (the report and its `.partial`, the undo journal, an export):
 * owner-only (`0600`, they hold email addresses and users' settings), created exclusively and never through a
 * symbolic link (a link planted in a shared folder would make the CLI overwrite its target), and locked while a run
 * writes them (two runs on one report would mix their lines and lose items).
 */
import { constants, lstatSync, openSync, readFileSync, unlinkSync } from "node:fs";
import { type FileHandle, lstat, open, readlink, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { printable, quote } from "../../core/text.js";

/**
 * The mode of every file the CLI writes: read and write for its owner only.
 *
 * @example
 * ```ts
 * const handle = await createExclusive("report.jsonl.partial");
 * console.log(((await handle.stat()).mode & 0o777) === FILE_MODE); // true
 * ```
 */
export const FILE_MODE = 0o600;

// O_NOFOLLOW is 0 where the platform has none (Windows); O_EXCL with O_CREAT refuses a link there too.
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);

/**
 * An output file that cannot be created safely: a symbolic link, something that is not a regular file, a file left
 * there, or another run's lock. The message names the file and the rule; nothing was written through it.
 *
 * @example
 * ```ts
 * const error = await createExclusive("out.csv.partial").catch((e: unknown) => e);
 * if (error instanceof UnsafeFileError) console.error(error.message); // "out.csv.partial is a symbolic link …"
 * ```
 */
export class UnsafeFileError extends Error {
  override name = "UnsafeFileError";
}

/**
 * Creates `path` for writing: exclusively, mode `0600`, never following a symbolic link. A symbolic link there is
 * refused (and left as it is); so is anything else that exists, unless `replace` is set and it is a regular file
 * (a `.partial` left by a run that was killed, replaced by the run that now holds the lock).
 *
 * @example
 * ```ts
 * const handle = await createExclusive("report.jsonl.partial", { replace: true });
 * await handle.writeFile("{}\n");
 * await handle.close();
 * ```
 */
export async function createExclusive(path: string, options: { replace?: boolean } = {}): Promise<FileHandle> {
  try {
    return await open(path, CREATE_FLAGS, FILE_MODE);
  } catch (error) {
    if (!isExists(error)) throw error;
    await refuseUnlessReplaceable(path, options.replace === true);
    await unlink(path);
    return await open(path, CREATE_FLAGS, FILE_MODE).catch(async (again: unknown) => {
      if (isExists(again)) await refuseUnlessReplaceable(path, false);
      throw again;
    });
  }
}

/**
 * {@link createExclusive}, synchronously, returning a file descriptor (for files written with `writeSync`).
 *
 * @example
 * ```ts
 * const fd = createExclusiveSync("undo.jsonl"); // refused when the path exists, or is a symbolic link
 * console.log(fd >= 0);
 * ```
 */
export function createExclusiveSync(path: string): number {
  try {
    return openSync(path, CREATE_FLAGS, FILE_MODE);
  } catch (error) {
    if (isExists(error)) {
      const info = lstatSync(path, { throwIfNoEntry: false });
      if (info?.isSymbolicLink()) throw symlinkError(path, undefined);
      throw new UnsafeFileError(`${path} exists: name a new file`);
    }
    throw error;
  }
}

function isExists(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  // ELOOP: O_NOFOLLOW met a link (a race with the check below, or a platform that reports it so).
  return code === "EEXIST" || code === "ELOOP";
}

async function refuseUnlessReplaceable(path: string, replace: boolean): Promise<void> {
  const info = await lstat(path).catch(() => undefined);
  if (info?.isSymbolicLink()) throw symlinkError(path, await readlink(path).catch(() => undefined));
  if (info && !info.isFile()) {
    throw new UnsafeFileError(`${path} exists and is not a regular file: pod-admin writes only files it creates`);
  }
  if (!replace) throw new UnsafeFileError(`${path} exists: pod-admin writes only files it creates; name a new file`);
}

function symlinkError(path: string, target: string | undefined): UnsafeFileError {
  return new UnsafeFileError(
    `${path} is a symbolic link${target === undefined ? "" : ` (to ${quote(printable(target, 200))})`}: pod-admin ` +
      "never writes through a link (in a shared folder one can point at any of your files); remove it and run again",
  );
}

/** What a lock file says about the run that holds it. */
interface LockOwner {
  pid: number;
  host: string;
  started: string;
  run: string;
}

/**
 * A lock held on an output file while a run writes it: `FILE.lock`, created exclusively, naming the run. Released
 * by {@link FileLock.release} (and when the process exits); a lock left by a process that is gone (`kill -9`) is
 * taken over, when that process ran on this host.
 *
 * @example
 * ```ts
 * const lock = await FileLock.acquire("report.jsonl", "--report", "features apply users.csv");
 * try {
 *   // write report.jsonl.partial, rename it to report.jsonl
 * } finally {
 *   lock.release();
 * }
 * ```
 */
export class FileLock {
  /** The lock file: the locked file's path with `.lock`. */
  readonly path: string;
  #held = true;
  readonly #onExit = () => this.release();

  private constructor(path: string) {
    this.path = path;
    process.once("exit", this.#onExit);
  }

  /**
   * Locks `file` for this run (`run` says what it does, e.g. `features apply users.csv`; never a secret). Refused
   * with an {@link UnsafeFileError} naming the other run when one holds the lock; `option` is how the user named
   * the file (`--report`, `--out`).
   */
  static async acquire(file: string, option: string, run: string): Promise<FileLock> {
    const path = `${file}.lock`;
    const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), run };
    for (let attempt = 0; ; attempt++) {
      let handle: FileHandle;
      try {
        handle = await open(path, CREATE_FLAGS, FILE_MODE);
      } catch (error) {
        if (!isExists(error)) throw error;
        const info = await lstat(path).catch(() => undefined);
        if (info?.isSymbolicLink()) throw symlinkError(path, await readlink(path).catch(() => undefined));
        const other = readOwner(path);
        if (attempt === 0 && other !== undefined && other.host === owner.host && !alive(other.pid)) {
          await unlink(path).catch(() => undefined); // its run was killed: the lock is stale
          continue;
        }
        throw new UnsafeFileError(lockedMessage(file, option, path, other));
      }
      try {
        await handle.writeFile(`${JSON.stringify(owner)}\n`);
      } finally {
        await handle.close();
      }
      return new FileLock(path);
    }
  }

  /**
   * Refuses (an {@link UnsafeFileError}) to read `file` as input while a live run holds its lock: a report still
   * being written has calls in flight, which reading it now would send again. A lock whose process is gone on this
   * host does not count.
   */
  static async refuseIfLocked(file: string): Promise<void> {
    const path = `${file}.lock`;
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined) return;
    const other = readOwner(path);
    if (other !== undefined && other.host === hostname() && !alive(other.pid)) return;
    throw new UnsafeFileError(
      `${file} is being written by ${describeOwner(other)}: reading it now would send again the calls that run has ` +
        `in flight. Wait for it to end; if no such run is alive, remove ${path}`,
    );
  }

  /** Removes the lock file (once; later calls do nothing). */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    process.off("exit", this.#onExit);
    try {
      unlinkSync(this.path);
    } catch {
      // Already gone: nothing to release.
    }
  }
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, "utf8")) as Partial<LockOwner>;
    if (typeof owner.pid === "number" && typeof owner.host === "string" && typeof owner.run === "string") {
      return { pid: owner.pid, host: owner.host, started: String(owner.started), run: owner.run };
    }
  } catch {
    // Unreadable or being written: said as an unknown run.
  }
  return undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function describeOwner(other: LockOwner | undefined): string {
  return other === undefined
    ? "another pod-admin run"
    : `another pod-admin run (${printable(other.run, 200)}; pid ${other.pid} on ${printable(other.host, 100)}, ` +
        `started ${printable(other.started, 40)})`;
}

function lockedMessage(file: string, option: string, lockPath: string, other: LockOwner | undefined): string {
  return (
    `${option} ${file} is being written by ${describeOwner(other)}. Two runs writing one file would lose lines: wait for that run ` +
    `to end, or name another file; if no such run is alive, remove ${lockPath}`
  );
}
