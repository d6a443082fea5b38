/**
 * The simulated pod as a standalone process: `npx tsx src/simulator/main.ts --port 8443` (or `pod-admin simulate`,
 * the same command line). The first stdout line is machine-readable (`listening <url>`), for benchmarks and scripts
 * that spawn it.
 *
 * This is an entry point, not a module of the package's API: when it is the process's entry, it runs
 * {@link runSimulatorCli}. Neither `symphony-pod-admin` nor `symphony-pod-admin/simulator` imports it, so importing
 * either runs nothing; they take the command line from ./cli.js.
 */

import { realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { runSimulatorCli } from "./cli.js";

/** True when this module is the process's entry point (tsx or node), not imported by the CLI. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  runSimulatorCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
