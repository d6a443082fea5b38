#!/usr/bin/env node
// The `pod-admin` executable: wires the real process to runCli.
import { runCli } from "./run.js";

const interrupt = new AbortController();
let interrupts = 0;
process.on("SIGINT", () => {
  // First Ctrl-C: stop taking work, let calls in flight finish, write the report. Second: quit now.
  if (++interrupts > 1) process.exit(130);
  interrupt.abort();
});

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
    process.stderr.write(`pod-admin: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
