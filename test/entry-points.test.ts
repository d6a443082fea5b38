/**
 * The package's two entries, as they ship: `symphony-pod-admin` never loads the simulator, and importing either entry
 * runs nothing with an effect (`"sideEffects": false` is a promise to bundlers). Checked on a build of src/, imported
 * by package name through the package's own `exports` map, in a child process that records every module it loads
 * (a loader hook) and every effectful call made from the package's code while it is imported: file system (sync and
 * async), process listeners, timers, sockets and servers, writes to stdout/stderr, `process.exitCode`.
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const PACKAGE = "symphony-pod-admin";
let dir = "";

/** What the child saw while importing one entry. */
interface Import {
  /** The package's own modules loaded, relative to dist/ (`src/index.js`, …). */
  loaded: string[];
  /** Effectful calls made with the package's code on the stack, as `fs.realpathSync`, `process.on SIGINT`, … */
  effects: string[];
  exports: string[];
  listenersAdded: string[];
  exitCode: unknown;
}

/** The child: hooks first, then spies, then the import; it prints what it saw as one JSON line. */
const CHECK = `
import fs from "node:fs";
import net from "node:net";
import { register, syncBuiltinESMExports } from "node:module";

const [specifier, log] = process.argv.slice(2);
const HOOKS = \`
import { appendFileSync } from "node:fs";
let log;
export function initialize(data) { log = data.log; }
export async function load(url, context, next) { appendFileSync(log, url + "\\\\n"); return next(url, context); }
\`;
register("data:text/javascript," + encodeURIComponent(HOOKS), { data: { log } });

const dist = new URL("./dist/", import.meta.url).href;
Error.stackTraceLimit = 100;
const effects = [];
let importing = false;
function spy(target, name, label) {
  const original = target[name];
  if (typeof original !== "function" || /^[A-Z]/.test(name)) return;
  target[name] = function (...args) {
    if (importing && (new Error().stack ?? "").includes(dist)) {
      effects.push(typeof args[0] === "string" && label.startsWith("process.") ? label + " " + args[0] : label);
    }
    return original.apply(this, args);
  };
}
for (const name of Object.keys(fs)) if (name !== "promises") spy(fs, name, "fs." + name);
for (const name of Object.keys(fs.promises)) spy(fs.promises, name, "fs.promises." + name);
for (const name of ["on", "once", "addListener", "prependListener", "prependOnceListener", "emit", "exit", "kill"]) {
  spy(process, name, "process." + name);
}
for (const name of ["setTimeout", "setInterval", "setImmediate"]) spy(globalThis, name, name);
spy(net.Server.prototype, "listen", "net.Server.listen");
spy(net.Socket.prototype, "connect", "net.Socket.connect");
spy(process.stdout, "write", "process.stdout.write");
spy(process.stderr, "write", "process.stderr.write");
syncBuiltinESMExports();

const listeners = () => process.eventNames().flatMap((name) => Array(process.listenerCount(name)).fill(String(name)));
const before = listeners();
importing = true;
const module = await import(specifier);
importing = false;
const after = listeners();
for (const name of before) after.splice(after.indexOf(name), 1);
const loaded = fs.readFileSync(log, "utf8").split("\\n").filter((url) => url.startsWith(dist)).map((url) => url.slice(dist.length));
console.log(JSON.stringify({ loaded, effects, exports: Object.keys(module).sort(), listenersAdded: after, exitCode: process.exitCode ?? null }));
`;

function importInChild(specifier: string): Import {
  const log = path.join(dir, `loaded-${specifier.replace(/\W+/g, "_")}.txt`);
  writeFileSync(log, "");
  const child = spawnSync(process.execPath, ["check.mjs", specifier, log], { cwd: dir, encoding: "utf8" });
  expect(child.stderr).toBe("");
  expect(child.status).toBe(0);
  return JSON.parse(child.stdout.trim().split("\n").at(-1) as string) as Import;
}

beforeAll(() => {
  // Inside node_modules so that the build's dependencies (openapi-fetch, undici, …) resolve as in the project, and in
  // a directory of its own so that it never clobbers dist/ under a running npm run check:package.
  const cache = path.join(ROOT, "node_modules/.cache");
  mkdirSync(cache, { recursive: true });
  dir = mkdtempSync(path.join(cache, "entry-points-"));
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const build = spawnSync(
    process.execPath,
    [tsc, "-p", "tsconfig.build.json", "--outDir", path.join(dir, "dist"), "--noCheck", "--declaration", "false"],
    { cwd: ROOT, encoding: "utf8" },
  );
  if (build.status !== 0) throw new Error(`tsc failed:\n${build.stdout}${build.stderr}`);
  // The package's own package.json next to its dist/: the child imports it by name, through its exports map.
  copyFileSync(path.join(ROOT, "package.json"), path.join(dir, "package.json"));
  writeFileSync(path.join(dir, "check.mjs"), CHECK);
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the package's entries", () => {
  it("promise no side effects, and export the simulator as a subpath of its own", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.exports["./simulator"]).toEqual({
      types: "./dist/src/simulator/index.d.ts",
      default: "./dist/src/simulator/index.js",
    });
  });

  it(`"${PACKAGE}" does not load the simulator, nor export any of it`, () => {
    const main = importInChild(PACKAGE);
    expect(main.loaded).toContain("src/index.js");
    expect(main.loaded.filter((file) => file.startsWith("src/simulator/"))).toEqual([]);
    expect(main.exports).toContain("createPodClient");
    expect(main.exports.filter((name) => /simulat/i.test(name))).toEqual([]);
  });

  it(`"${PACKAGE}/simulator" holds startSimulatedPod, without the standalone process's entry module`, () => {
    const simulator = importInChild(`${PACKAGE}/simulator`);
    expect(simulator.loaded).toContain("src/simulator/index.js");
    expect(simulator.loaded).not.toContain("src/simulator/main.js");
    expect(simulator.exports).toEqual(
      expect.arrayContaining(["startSimulatedPod", "SimulatedPodState", "DEFAULT_SIMULATOR_TOKEN", "runSimulatorCli"]),
    );
  });

  it.each([PACKAGE, `${PACKAGE}/simulator`])("importing %s runs nothing with an effect", (specifier) => {
    const { effects, listenersAdded, exitCode } = importInChild(specifier);
    expect({ effects, listenersAdded, exitCode }).toEqual({ effects: [], listenersAdded: [], exitCode: null });
  });

  it("the bin package.json declares runs as `pod-admin` once linked onto the PATH, as npm install -g links it", () => {
    // What README and docs/cli.md tell administrators: npm links each `bin` entry into its bin directory and makes
    // the target executable; the target's shebang then runs it under node.
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8"));
    expect(Object.keys(pkg.bin)).toEqual(["pod-admin"]);
    const target = path.join(dir, pkg.bin["pod-admin"]);
    expect(readFileSync(target, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    chmodSync(target, 0o755);
    const bin = path.join(dir, "bin");
    mkdirSync(bin);
    symlinkSync(target, path.join(bin, "pod-admin"));
    const run = spawnSync("pod-admin", ["--version"], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${bin}${path.delimiter}${path.dirname(process.execPath)}` },
    });
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(`pod-admin ${pkg.version}\n`);
    expect(run.status).toBe(0);
  });

  it("the check sees effects: importing the standalone simulator's entry module does run code", () => {
    // main.ts is an entry point, never imported by either entry: when imported, it checks process.argv[1] on disk.
    const entry = pathToFileURL(path.join(dir, "dist/src/simulator/main.js")).href;
    expect(importInChild(entry).effects).toContain("fs.realpathSync");
  });
});
