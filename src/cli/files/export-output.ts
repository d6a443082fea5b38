/** The file an export writes (`--out FILE`): locked, and written as `FILE.partial` created safely. */
import type { WriteStream } from "node:fs";
import { printable } from "../../core/text.js";
import { UsageError } from "../args.js";
import { createExclusive, FileLock, UnsafeFileError } from "./safe-file.js";

/**
 * Locks `FILE` (`FILE.lock`) and creates `FILE.partial` (`0600`, exclusively, never through a symbolic link; a
 * regular one left by an export that was killed is replaced). Refused with a {@link UsageError} naming the file.
 *
 * @example
 * ```ts
 * const { stream, lock } = await createOutput("features.csv");
 * stream.end("uid,entitlement,enabled\n", () => lock.release());
 * ```
 */
export async function createOutput(file: string): Promise<{ stream: WriteStream; lock: FileLock }> {
  let lock: FileLock | undefined;
  try {
    lock = await FileLock.acquire(file, "--out", "export");
    const handle = await createExclusive(`${file}.partial`, { replace: true });
    return { stream: handle.createWriteStream(), lock };
  } catch (error) {
    lock?.release();
    if (error instanceof UnsafeFileError) throw new UsageError(error.message);
    throw new UsageError(`cannot write --out ${file}: ${printable((error as Error).message)}`);
  }
}
