/**
 * Runs the README's usage example (the ts block after `<!-- readme-example: usage -->`) for real against the
 * simulated pod, and checks that it prints what its comments say it prints and leaves the pod in the state it
 * describes. The README can then not promise output the client does not give.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatWithOptions } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type SimulatedPod, startSimulatedPod } from "../src/simulator/index.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MARKER = "<!-- readme-example: usage -->";
const UID = 7215545057281n;

/** The code of the ts block that follows the marker. */
function usageExample(): string {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no ${MARKER}`);
  const block = /^```ts\r?\n([\s\S]*?)^```\s*$/m.exec(readme.slice(at + MARKER.length));
  if (!block?.[1]) throw new Error(`no ts block after ${MARKER}`);
  return block[1];
}

/** What each `console.log(…); // expected` line of the example promises to print, in order. */
function promisedOutput(code: string): string[] {
  return code
    .split("\n")
    .filter((line) => line.includes("console.log(") && line.includes("// "))
    .map((line) => line.slice(line.lastIndexOf("// ") + 3).trim());
}

/** One `console.log` call as it prints on one line, with double quotes as the README writes strings. */
function printed(args: unknown[]): string {
  return formatWithOptions({ breakLength: Number.POSITIVE_INFINITY }, ...args).replaceAll("'", '"');
}

let pod: SimulatedPod | undefined;
let dir: string | undefined;
const savedEnv = { POD_URL: process.env.POD_URL, POD_SESSION_TOKEN: process.env.POD_SESSION_TOKEN };

afterEach(async () => {
  vi.restoreAllMocks();
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await pod?.close();
  pod = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("the README's usage example", () => {
  it("runs against the simulated pod, prints what its comments promise and leaves the state it describes", async () => {
    const code = usageExample();
    const promised = promisedOutput(code);
    expect(promised.length, "the example promises some output in comments").toBeGreaterThanOrEqual(4);
    const source = code.replaceAll(
      `from "symphony-pod-admin"`,
      `from ${JSON.stringify(path.join(ROOT, "src/index.ts"))}`,
    );
    expect(source, "the example imports the package").not.toBe(code);

    pod = await startSimulatedPod();
    process.env.POD_URL = pod.url;
    process.env.POD_SESSION_TOKEN = pod.currentToken();
    dir = mkdtempSync(path.join(tmpdir(), "readme-example-"));
    const file = path.join(dir, "usage.ts");
    writeFileSync(file, `${source}\nexport {};\n`);

    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
      lines.push(printed(args));
    });
    await import(/* @vite-ignore */ file);

    expect(lines).toEqual(promised);
    expect(lines).toEqual([
      '{ entitlement: "canCreatePublicRoom", enabled: true }',
      "[ 7215545057282n ]",
      '[ { appId: "djApp", appName: "Dow Jones", listed: true, install: true } ]',
      "apps[0].appId minLength 1",
    ]);

    expect(pod.state.features(UID)).toEqual({ canCreatePublicRoom: true, isExternalIMEnabled: false });
    expect(pod.state.delegates(UID)).toEqual([7215545057282n]);
    expect(pod.state.apps(UID)).toEqual([{ appId: "djApp", appName: "Dow Jones", listed: true, install: true }]);
    // updateFeatures, addDelegate, replaceApps, patchApps: the invalid replaceApps never left the client.
    expect(pod.stats().writes).toBe(4);
    expect(pod.state.users()).toEqual([String(UID)]);
  });
});
