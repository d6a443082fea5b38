#!/usr/bin/env node
// The `pod-admin` executable: wires the real process to runCli.
import { runCli } from "./run.js";

const interrupt = new AbortController();
let interrupts = 0;
const onSignal = () => {
  // First Ctrl-C (or SIGTERM): stop taking work, let calls in flight finish, write the report. Second: quit now.
  if (++interrupts > 1) {
    // The progress bar hid the cursor and turned off line wrap; give the terminal back.
    if (process.stderr.isTTY) process.stderr.write("\x1b[?25h\x1b[?7h\n");
    process.exit(130);
  }
  interrupt.abort();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  interrupt: interrupt.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Not a usage error (those resolve to 2): something failed after the run may have sent calls.
    process.stderr.write(`pod-admin: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
