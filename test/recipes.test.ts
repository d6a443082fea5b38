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
async function runRecipe(
  name: string,
  /** Runs after the setup, before the recipe: what changed on the pod in between (drift). */
  between?: (pod: SimulatedPod) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

  const env = {
    PATH: `${bin}${path.delimiter}${process.env.PATH ?? ""}`,
    HOME: work,
    POD_URL: pod.url,
    POD_SESSION_TOKEN: pod.currentToken(),
  };
  const setupRun = await bash(seed.join("\n"), work, env);
  if (setupRun.code !== 0) throw new Error(`the setup failed: ${setupRun.stderr}`);
  between?.(pod);
  return bash(recipe, work, env);
}

/** Runs a script under `set -euo pipefail`: a recipe whose command fails stops there, as a careful script would. */
async function bash(
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("bash", ["-c", `set -euo pipefail\n${script}`], { cwd, env });
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
      ["copy-user", "nightly-drift", "offboard", "onboard", "remove-delegate", "setup"].sort(),
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

  it("copy-user: Radia ends with exactly Ada's features and apps", async () => {
    const run = await runRecipe("copy-user", (seeded) => {
      seeded.state.setFeatures(UID.radia, { postReadEnabled: true, sendFilesEnabled: false });
    });
    expectClean(run);
    const state = (pod as SimulatedPod).state;
    // --exact: the feature Radia had on and Ada's file does not name is turned off.
    expect(features(UID.radia)).toEqual({ ...features(UID.ada), postReadEnabled: false });
    expect(features(UID.ada)).toEqual({ canCreatePublicRoom: true, sendFilesEnabled: true, isExternalIMEnabled: true });
    const apps = (uid: bigint) =>
      state
        .apps(uid)
        .map((app) => ({ appId: app.appId, listed: app.listed, install: app.install }))
        .sort((a, b) => a.appId.localeCompare(b.appId));
    expect(apps(UID.radia)).toEqual(apps(UID.ada));
    expect(apps(UID.radia).map((app) => app.appId)).toEqual(["bloomberg", "djApp"]);
  }, 60_000);

  describe("nightly-drift", () => {
    const WRITE = "POST /v1/admin/user/{uid}/features/update";
    const writes = () => (pod as SimulatedPod).stats().byOperation[WRITE] ?? 0;

    it("in sync: says so and writes nothing", async () => {
      let before = 0;
      const run = await runRecipe("nightly-drift", (seeded) => {
        before = seeded.stats().byOperation[WRITE] ?? 0;
      });
      expectClean(run);
      expect(run.stdout).toBe("in sync\n");
      expect(writes()).toBe(before);
    }, 60_000);

    it("drift on 2 users: repaired by applying exactly the saved plan", async () => {
      const run = await runRecipe("nightly-drift", (seeded) => {
        seeded.state.setFeatures(UID.grace, { canCreatePublicRoom: true, sendFilesEnabled: true });
        seeded.state.setFeatures(UID.ada, {
          canCreatePublicRoom: true,
          sendFilesEnabled: true,
          isExternalIMEnabled: false,
        });
        seeded.resetStats();
      });
      expectClean(run);
      expect(run.stdout).toContain("drift: 2 settings differ; repairing\n");
      expect(writes(), run.stdout + run.stderr).toBe(2);
      expect(features(UID.grace)).toEqual({ canCreatePublicRoom: true, sendFilesEnabled: false });
      expect(features(UID.ada)).toEqual({
        canCreatePublicRoom: true,
        sendFilesEnabled: true,
        isExternalIMEnabled: true,
      });
    }, 60_000);

    it("drift on 4 users: over the cap of 3, the repair is refused with nothing sent and the job fails", async () => {
      const run = await runRecipe("nightly-drift", (seeded) => {
        for (const uid of [UID.ada, UID.grace, UID.alan, UID.dennis]) {
          seeded.state.setFeatures(uid, { canCreatePublicRoom: false });
        }
        seeded.resetStats();
      });
      expect(run.code, run.stdout + run.stderr).toBe(2);
      expect(run.stdout).toContain("drift: ");
      expect(run.stderr).toContain(
        "pod-admin: this run changes 4 users of the saved plan (each one a change its reads found), more than " +
          "--max-changes 3 allows; give --yes to go past the cap.\nNothing was sent.\n",
      );
      expect(writes()).toBe(0);
      expect(features(UID.ada).canCreatePublicRoom).toBe(false);
    }, 60_000);
  });
});
