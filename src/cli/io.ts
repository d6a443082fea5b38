import type { Readable, Writable } from "node:stream";

/**
 * Where the command reads and writes; the real process's streams, or test doubles.
 *
 * @example
 * ```ts
 * const io: CliIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
 * ```
 */
export interface CliIo {
  stdin: Readable;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  /** Aborting it is Ctrl-C: stop taking new work, finish in-flight calls, write the report. */
  interrupt?: AbortSignal;
  /** Aborting it is a second Ctrl-C: write what has settled and call `exitNow` at once. */
  quit?: AbortSignal;
  /** Ends the process now with this code (main.ts: `process.exit`). */
  exitNow?: (code: number) => void;
}
