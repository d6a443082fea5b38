#!/usr/bin/env node
// The `pod-admin` executable: wires the real process to runCli.
import { RESTORE_TERMINAL } from "./progress.js";
import { EXIT, runCli } from "./run.js";

const interrupt = new AbortController();
const quit = new AbortController();
let interrupts = 0;
const exitNow = (code: number) => {
  // The progress bar hid the cursor and turned off line wrap; give the terminal back.
  if (process.stderr.isTTY) process.stderr.write(RESTORE_TERMINAL);
  process.exit(code);
};
const onSignal = () => {
  // First Ctrl-C (or SIGTERM): stop taking work, let calls in flight finish, write the report.
  if (++interrupts === 1) {
    interrupt.abort();
    return;
  }
  // Second: quit now. While calls are in flight, the apply pass writes what settled and exits 1 from its listener;
  // before any call (reading, planning), nothing was sent: 130.
  quit.abort();
  exitNow(EXIT.interrupted);
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

// The reader went away (`pod-admin … | head`): stop taking work as a Ctrl-C does, so calls in flight settle, the
// report is written and temporary files are removed; what is printed from then on goes nowhere.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE" && error.code !== "ERR_STREAM_DESTROYED") throw error;
    if (stream === process.stdout) interrupt.abort();
  });
}

runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  interrupt: interrupt.signal,
  quit: quit.signal,
  exitNow,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // runCli reports its own failures; this is a last resort.
    process.stderr.write(`pod-admin: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = EXIT.someFailed;
  },
);
