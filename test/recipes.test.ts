/**
 * Runs every recipe of docs/recipes.md for real: each in a scratch copy of docs/recipes/, against a simulated pod
 * started as the setup block says and seeded by that block's other lines, with `pod-admin` on the PATH (the
 * source, through tsx). Each recipe must exit 0 and leave the pod in the state its text promises, so a recipe that
 * stops working (a renamed option, a changed export layout) fails here.
 */
import { spawn } from "node:child_process";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parseSimulatorArgs } from "../src/simulator/cli.js";
import { type SimulatedPod, startSimulatedPod } from "../src/simulator/index.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RECIPES = path.join(ROOT, "docs/recipes.md");
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** The ```sh block after each `<!-- recipe: NAME -->` marker, by name. */
async function recipes(): Promise<Map<string, string>> {
  const markdown = await readFile(RECIPES, "utf8");
  const found = new Map<string, string>();
  for (const match of markdown.matchAll(/<!-- recipe: ([\w-]+) -->\r?\n```sh\r?\n([\s\S]*?)^```\s*$/gm)) {
    found.set(match[1] as string, match[2] as string);
  }
  return found;
}

const UID = {
  ada: 7215545057281n,
  grace: 7215545057282n,
  alan: 7215545057283n,
  edsger: 7215545057284n,
  barbara: 7215545057285n,
  ken: 7215545057286n,
  dennis: 7215545057287n,
  margaret: 7215545057288n,
  linus: 7215545057289n,
  radia: 7215545057290n,
};

let pod: SimulatedPod | undefined;
let work: string | undefined;
afterEach(async () => {
  await pod?.close();
  pod = undefined;
  if (work) await rm(work, { recursive: true, force: true });
  work = undefined;
});

/**
 * Copies docs/recipes/ to a scratch folder, starts the pod the setup block's `pod-admin simulate` line describes
 * (on a free port), runs the setup's other lines but the `export POD_URL=…` (the test sets the pod's own URL),
 * then the recipe; resolves to the recipe's output.
 */
async function runRecipe(name: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const all = await recipes();
  const setup = all.get("setup");
  const recipe = all.get(name);
  if (setup === undefined || recipe === undefined) throw new Error(`docs/recipes.md has no setup or ${name} recipe`);
  work = await mkdtemp(path.join(tmpdir(), "pod-admin-recipe-"));
  await cp(path.join(ROOT, "docs/recipes"), work, { recursive: true });
  const bin = path.join(work, ".bin");
  await mkdir(bin);
  await writeFile(
    path.join(bin, "pod-admin"),
    `#!/bin/sh\nexec "${process.execPath}" --import "${tsx}" "${path.join(ROOT, "src/cli/main.ts")}" "$@"\n`,
  );
  await chmod(path.join(bin, "pod-admin"), 0o755);

  const lines = setup.split("\n");
  const start = lines.find((line) => line.startsWith("pod-admin simulate "));
  if (!start) throw new Error("the setup block does not start the simulated pod");
  const args = start
    .replace(/&\s*$/, "")
    .trim()
    .split(/\s+/)
    .slice(2)
    .map((arg) => (arg.endsWith(".csv") ? path.join(work as string, arg) : arg));
  const options = await parseSimulatorArgs(args);
  if (options === "help") throw new Error("the setup's simulate line asks for help");
  pod = await startSimulatedPod({ ...options, port: 0 });
  const seed = lines.filter((line) => !line.startsWith("pod-admin simulate ") && !line.startsWith("export POD_URL="));

  const script = `set -eu\n${seed.join("\n")}\n${recipe}`;
  const child = spawn("bash", ["-o", "pipefail", "-c", script], {
    cwd: work,
    env: {
      PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
      HOME: work,
      POD_URL: pod.url,
      POD_SESSION_TOKEN: pod.currentToken(),
    },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, stdout, stderr };
}

/** Exit 0 and no error or warning line (the progress lines a run prints on stderr are fine); says why if not. */
function expectClean(run: { code: number | null; stdout: string; stderr: string }): void {
  expect(
    { code: run.code, errors: run.stderr.split("\n").filter((line) => line.startsWith("pod-admin:")) },
    run.stderr,
  ).toEqual({ code: 0, errors: [] });
}

function features(uid: bigint): Record<string, boolean> {
  return (pod as SimulatedPod).state.features(uid);
}

describe("docs/recipes.md", () => {
  it("names every recipe this test checks, and no other", async () => {
    expect([...(await recipes()).keys()].sort()).toEqual(
      ["copy-user", "offboard", "onboard", "remove-delegate", "setup"].sort(),
    );
  });

  it("onboard: every new hire gets the team's features, Trading also external chat", async () => {
    const run = await runRecipe("onboard");
    expectClean(run);
    const team = { canCreatePublicRoom: true, sendFilesEnabled: true };
    expect(features(UID.margaret)).toEqual({ ...team, isExternalIMEnabled: true });
    expect(features(UID.linus)).toEqual(team);
    expect(features(UID.radia)).toEqual({ ...team, isExternalIMEnabled: true });
    expect(features(UID.ada)).toEqual({ canCreatePublicRoom: true, sendFilesEnabled: true, isExternalIMEnabled: true });
    expect(run.stdout).toContain("3 emails looked up");
    await expect(readFile(path.join(work as string, "onboard.undo.jsonl"), "utf8")).resolves.toContain('"operation"');
  }, 60_000);

  it("offboard: the leaver is disabled and holds no feature; nobody else changes", async () => {
    const run = await runRecipe("offboard");
    expectClean(run);
    const state = pod as SimulatedPod;
    expect(state.state.status(UID.dennis)?.status).toBe("DISABLED");
    expect(features(UID.dennis)).toEqual({
      canCreatePublicRoom: false,
      sendFilesEnabled: false,
      isExternalIMEnabled: false,
    });
    expect(state.state.status(UID.ada)?.status).toBe("ENABLED");
    expect(features(UID.ada)).toEqual({ canCreatePublicRoom: true, sendFilesEnabled: true, isExternalIMEnabled: true });
  }, 60_000);

  it("remove-delegate: nobody keeps Dennis as a delegate; other delegates stay", async () => {
    const run = await runRecipe("remove-delegate");
    expectClean(run);
    const state = (pod as SimulatedPod).state;
    expect(state.delegates(UID.ada)).toEqual([]);
    expect(state.delegates(UID.grace)).toEqual([]);
    expect(state.delegates(UID.alan)).toEqual([UID.ken]);
    expect(state.delegates(UID.edsger)).toEqual([UID.barbara]);
  }, 60_000);

  it("copy-user: Radia ends with Ada's features and exactly Ada's apps", async () => {
    const run = await runRecipe("copy-user");
    expectClean(run);
    const state = (pod as SimulatedPod).state;
    expect(features(UID.radia)).toEqual(features(UID.ada));
    expect(Object.keys(features(UID.radia))).toHaveLength(3);
    const apps = (uid: bigint) =>
      state
        .apps(uid)
        .map((app) => ({ appId: app.appId, listed: app.listed, install: app.install }))
        .sort((a, b) => a.appId.localeCompare(b.appId));
    expect(apps(UID.radia)).toEqual(apps(UID.ada));
    expect(apps(UID.radia).map((app) => app.appId)).toEqual(["bloomberg", "djApp"]);
  }, 60_000);
});
