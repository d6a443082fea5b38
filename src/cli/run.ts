/**
 * `pod-admin`: applies a CSV or JSON Lines file to a pod through the bulk helpers. Everything the command does
 * goes through {@link runCli}, so tests run it in-process or as a real child process alike. This file only
 * orchestrates: arguments (args.ts), session (session.ts), input (input.ts), the journal (report.ts), the plan
 * pass (plan.ts), the apply pass (apply.ts) and progress (progress.ts) each live in their own file.
 */
import type { Readable, Writable } from "node:stream";
import { apply } from "./apply.js";
import { EXIT, parseApplyArgs, USAGE, UsageError } from "./args.js";
import { type InputFile, inputFormat, openInput } from "./input.js";
import { makePlan, printPlan } from "./plan.js";
import { CSV_COLUMNS, type ItemOf } from "./readers.js";
import { Journal, ReportUnwritableError } from "./report.js";
import { podClient, resolveSessionToken } from "./session.js";
import { printable } from "./text.js";

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

export { EXIT, USAGE };

/**
 * Runs one `pod-admin` invocation and resolves to its exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await runCli(["features", "apply", "users.csv", "--dry-run"], {
 *   stdin: process.stdin,
 *   stdout: process.stdout,
 *   stderr: process.stderr,
 *   env: process.env,
 * });
 * ```
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const state: { sending: boolean; journal: Journal | undefined } = { sending: false, journal: undefined };
  try {
    return await run(argv, io, state);
  } catch (error) {
    if (error instanceof UsageError || error instanceof ReportUnwritableError) {
      io.stderr.write(`pod-admin: ${printable(error.message, 1000)}\n`);
      if (error instanceof UsageError) io.stderr.write("Run pod-admin --help for usage.\n");
      else io.stderr.write("Nothing was sent.\n");
      return EXIT.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`pod-admin: unexpected error: ${printable(message, 1000)}\n`);
    if (!state.sending) {
      io.stderr.write("Nothing was sent.\n");
      return EXIT.usage;
    }
    if (state.journal) {
      io.stderr.write(`${state.journal.path} holds what is not known to be applied; applying it finishes the job.\n`);
    }
    return EXIT.someFailed;
  }
}

async function run(
  argv: string[],
  io: CliIo,
  state: { sending: boolean; journal: Journal | undefined },
): Promise<number> {
  if (argv[0] === "simulate") {
    const { runSimulatorCli } = await import("../simulator/cli.js");
    return runSimulatorCli(argv.slice(1), io);
  }
  const args = parseApplyArgs(argv, io.env);
  if (args === "help") {
    io.stdout.write(`${USAGE}\n`);
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const sessionToken = args.dryRun ? "dry-run" : await resolveSessionToken(args, io.env);
  const input: InputFile = await openInput(args.file, io.stdin);
  let journal: Journal | undefined;
  try {
    // Opened before anything is read or sent: an unwritable report is refused with exit 2.
    if (!args.dryRun) journal = state.journal = await Journal.open(args.report, input.path);
    // A second Ctrl-C before the first call exits at once (130, main.ts): leave no REPORT.partial behind.
    const dropPartial = () => journal?.discardSync();
    io.quit?.addEventListener("abort", dropPartial, { once: true });
    const format = await inputFormat(input, args.format);
    const pod = podClient(args, sessionToken);
    const plan = await makePlan({ pod, command: args.command, input, format, interrupt: io.interrupt, journal });
    if (plan.interrupted || io.interrupt?.aborted) {
      io.stderr.write("\nInterrupted while reading the input: nothing was sent.\n");
      return EXIT.interrupted;
    }
    printPlan(io, args.command, input.label, plan, args.concurrency, args.dryRun);
    if (plan.invalidCount > 0) return EXIT.usage;
    if (args.dryRun || !journal) return EXIT.ok;
    const { pendingBytes } = await journal.commit();
    state.sending = true;
    const code = await apply({
      io,
      pod,
      command: args.command,
      journal,
      pendingBytes,
      plan,
      concurrency: args.concurrency,
      quiet: args.quiet,
    });
    // Calls were sent: a second Ctrl-C from here on exits with the run's code, never 130.
    io.quit?.addEventListener("abort", () => io.exitNow?.(code), { once: true });
    return code;
  } finally {
    // Before the commit this removes REPORT.partial (nothing was sent); after it, the journal is kept.
    await journal?.discard();
    await input.cleanup();
  }
}

export type { ItemOf };
export { CSV_COLUMNS };
