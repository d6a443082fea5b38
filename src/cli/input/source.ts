/**
 * The input file: checked before anything is read, and read more than once (the plan pass, and a journal's scan).
 * Standard input and pipes, which can be read only once, are spooled to a temporary file, not to memory.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { printable, quote } from "../../core/text.js";
import { UsageError } from "../args.js";
import { formatFor } from "./readers.js";

// Smaller chunks than the default 64 kB: the parser turns a whole chunk into rows at once, and fewer rows alive
// together keep the garbage collector's young generation small (a 1M-row plan: about 10 MB less peak RSS).
const READ_OPTIONS = { highWaterMark: 16 * 1024 };

/**
 * An input file that can be read again from the start.
 *
 * @example
 * ```ts
 * const input: InputFile = await openInput("users.csv", process.stdin);
 * for await (const chunk of input.open()) console.log(chunk.length);
 * await input.cleanup();
 * ```
 */
export interface InputFile {
  /** A path to read. */
  path: string;
  /** The name messages use: the path given, or `<stdin>`. */
  label: string;
  /** Opens it from the start. */
  open(): Readable;
  /** Removes the spool of standard input. */
  cleanup(): Promise<void>;
}

/**
 * Opens the input: a directory, a missing or unreadable file is a usage error (exit 2).
 *
 * @example
 * ```ts
 * const input = await openInput("users.csv", process.stdin);
 * ```
 */
export async function openInput(file: string, stdin: Readable): Promise<InputFile> {
  if (file === "-") return spool(stdin, "<stdin>");
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${error.code === "ENOENT" ? "no such file" : printable(error.message)}`);
  });
  if (info.isDirectory()) {
    throw new UsageError(`cannot read ${quote(file)}: it is a directory; give a CSV or JSON Lines file`);
  }
  const handle = await open(file).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${printable(error.message)}`);
  });
  await handle.close();
  // A pipe (e.g. <(...)) can be read only once.
  if (!info.isFile()) return spool(createReadStream(file), file);
  return { path: file, label: file, open: () => createReadStream(file, READ_OPTIONS), cleanup: async () => {} };
}

async function spool(source: Readable, label: string): Promise<InputFile> {
  const dir = await mkdtemp(join(tmpdir(), "pod-admin-"));
  const path = join(dir, "input");
  await pipeline(source, createWriteStream(path));
  return {
    path,
    label,
    open: () => createReadStream(path, READ_OPTIONS),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * The input's format: `--format`, else from the name, else sniffed from the first character.
 *
 * @example
 * ```ts
 * const input = await openInput("users.csv", process.stdin);
 * const format = await inputFormat(input, undefined); // "csv"
 * ```
 */
export async function inputFormat(input: InputFile, given: "csv" | "jsonl" | undefined): Promise<"csv" | "jsonl"> {
  if (given) return given;
  const handle = await open(input.path);
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
    return formatFor(
      input.label,
      buffer
        .subarray(0, bytesRead)
        .toString("utf8")
        .replace(/^\uFEFF/, "")
        .trimStart()[0],
    );
  } finally {
    await handle.close();
  }
}
