/**
 * The CLI's log: `-v` (info) and `-vv` (debug) on stderr, above the progress bar on a terminal; `--log-file FILE`
 * or `POD_ADMIN_LOG=FILE` as JSON Lines.
 * Both are sinks of the client's structured log (core/log.ts), so they hold what it holds and never a secret.
 * The file is created like every output file (0600, exclusively, never through a link) and written synchronously,
 * line by line, so a killed run keeps every event up to the kill.
 */
import { closeSync, writeSync } from "node:fs";
import type { Logger, LogLevel } from "../core/log.js";
import { printable } from "../core/text.js";
import { UsageError } from "../core/usage-error.js";
import type { LogRequest } from "./args.js";
import { createExclusiveSync, UnsafeFileError } from "./files/safe-file.js";
import type { CliIo } from "./io.js";

/**
 * The run's logger, to hand to the client (`logger`, `logLevel`), and `close()` for the end of the run.
 *
 * @example
 * ```ts
 * const log = openCliLog({ verbose: 1, file: undefined }, { stderr: process.stderr });
 * log?.close();
 * ```
 */
export interface CliLog {
  logger: Logger;
  logLevel: LogLevel;
  close(): void;
}

const RANK: Record<Exclude<LogLevel, "off">, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * Opens the log a run asked for; undefined when it asked for none. Stderr gets `info` with `-v`, `debug` with `-vv`;
 * the file gets `info`, or `debug` with `-vv`. The file must not exist (like the report, it is created).
 *
 * @example
 * ```ts
 * const log = openCliLog({ verbose: 2, file: "run.log.jsonl" }, { stderr: process.stderr });
 * ```
 * @throws UsageError when the file cannot be created.
 */
export function openCliLog(request: LogRequest, io: Pick<CliIo, "stderr">): CliLog | undefined {
  const { verbose, file } = request;
  if (verbose === 0 && file === undefined) return undefined;
  const level: Exclude<LogLevel, "off"> = verbose >= 2 ? "debug" : "info";
  let fd: number | undefined;
  if (file !== undefined) {
    try {
      fd = createExclusiveSync(file);
    } catch (error) {
      const why = error instanceof UnsafeFileError ? error.message : `${file}: ${(error as Error).message}`;
      throw new UsageError(`cannot create the log file: ${printable(why)}`);
    }
  }
  const toStderr = verbose > 0;
  const clear = io.stderr.isTTY ? "\r\x1b[K" : "";
  const sink =
    (name: Exclude<LogLevel, "off">) =>
    (fields: object, message?: string): void => {
      if (RANK[name] < RANK[level]) return;
      const event = (fields as { event?: unknown }).event;
      // On a terminal the line first clears the progress bar's line: it prints above, the bar redraws below it.
      if (toStderr) io.stderr.write(`${clear}pod-admin: ${name} ${String(event)}: ${printable(message ?? "", 300)}\n`);
      if (fd !== undefined) {
        const line = JSON.stringify({ time: new Date().toISOString(), level: name, ...fields, message });
        writeSync(fd, `${line}\n`);
      }
    };
  return {
    logger: { debug: sink("debug"), info: sink("info"), warn: sink("warn"), error: sink("error") },
    logLevel: level,
    close: () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
