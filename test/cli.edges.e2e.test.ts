/**
 * Issue 22's rough edges, through the real `pod-admin` process against the simulated pod: CSV headers whatever their
 * case, files with another separator, a user's rows anywhere in the file, exports in a stable order, export FILE
 * with repeated users, per-command help, --version.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { type CliRun, startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-edges-");
const UPDATE = "POST /v1/admin/user/{uid}/features/update";
const APPS = "POST /v1/admin/user/{uid}/app/entitlement/list";

async function file(name: string, text: string): Promise<string> {
  const path = join(workspace.work, name);
  await writeFile(path, text);
  return path;
}

function podAdmin(args: string[], pod?: SimulatedPod, stdin?: string): Promise<CliRun> {
  return startPodAdmin([...args, ...(pod ? ["--pod", pod.url] : [])], {
    env: pod ? { POD_SESSION_TOKEN: pod.currentToken() } : {},
    cwd: workspace.work,
    stdin,
  }).done;
}

describe("CSV headers", () => {
  it("match the layout's columns whatever their case, with spaces around them trimmed", async () => {
    const pod = await workspace.simulate({ users: [1, 2] });
    const csv = await file(
      "capitals.csv",
      " UID , Entitlement,ENABLED\n1,canCreatePublicRoom,true\n2,sendFilesEnabled,false\n",
    );
    const run = await podAdmin(["features", "apply", csv, "--quiet"], pod);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(pod.state.features(1)).toMatchObject({ canCreatePublicRoom: true });
    expect(pod.state.features(2)).toMatchObject({ sendFilesEnabled: false });
    expect(pod.stats().byOperation[UPDATE]).toBe(2);

    // The identity column too, for apply and for export FILE.
    const emails = await file("emails.csv", "Email,Entitlement,Enabled\nnobody@acme.com,canCreatePublicRoom,true\n");
    const dry = await podAdmin(["features", "apply", emails, "--dry-run"]);
    expect(dry.stderr).not.toContain('column "uid": missing');
    expect(dry.stderr).toContain("email");
    const named = await file("named.csv", "Name,UID\nA,1\n");
    const exported = await podAdmin(["features", "export", named], pod);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toBe("uid,entitlement,enabled\n1,canCreatePublicRoom,true\n");
  });

  it("refuses a file separated by ';' or tabs with a message that says so, before any request", async () => {
    const pod = await workspace.simulate({ users: [1] });
    const semicolons = await file("semicolons.csv", "uid;entitlement;enabled\n1;canCreatePublicRoom;true\n");
    const run = await podAdmin(["features", "apply", semicolons], pod);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `${semicolons}:1: the header looks separated by ";" ("uid;entitlement;enabled"): pod-admin reads ` +
        "comma-separated CSV; save the file as CSV with commas",
    );
    expect(run.stderr).not.toContain("missing");
    const tabs = await file("tabs.csv", "uid\tuserId\taction\n1\t2\tADD\n");
    const tabbed = await podAdmin(["delegates", "apply", tabs], pod);
    expect(tabbed.code).toBe(2);
    expect(tabbed.stderr).toContain(`${tabs}:1: the header looks separated by tabs`);
    const exportTabs = await file("export-tabs.csv", "uid\tname\n1\tA\n");
    const exported = await podAdmin(["features", "export", exportTabs], pod);
    expect(exported.code).toBe(2);
    expect(exported.stderr).toContain(`${exportTabs}:1: the header looks separated by tabs`);
    expect(pod.stats().requests).toBe(0);
  });
});

describe("a user's rows anywhere in the file", () => {
  it("features: split rows make one call per user, each with all its rows", async () => {
    const pod = await workspace.simulate({ users: [1, 2, 3] });
    const csv = await file(
      "split.csv",
      "uid,entitlement,enabled\n" +
        "2,canCreatePublicRoom,true\n1,canCreatePublicRoom,true\n2,sendFilesEnabled,true\n" +
        "3,canCreatePublicRoom,false\n1,sendFilesEnabled,false\n02,canCreateDatafeed,true\n",
    );
    const run = await podAdmin(["features", "apply", csv, "--quiet"], pod);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("3 users, 3 calls (POST features/update)");
    expect(pod.stats().byOperation[UPDATE]).toBe(3);
    expect(pod.state.features(1)).toMatchObject({ canCreatePublicRoom: true, sendFilesEnabled: false });
    expect(pod.state.features(2)).toMatchObject({
      canCreatePublicRoom: true,
      sendFilesEnabled: true,
      canCreateDatafeed: true,
    });
    expect(pod.state.features(3)).toMatchObject({ canCreatePublicRoom: false });
  });

  it("apps replace by email: the user's apps from both places are one replace, not two racing ones", async () => {
    const directory = [
      { uid: 11, email: "ada@acme.com", username: "ada" },
      { uid: 12, email: "bob@acme.com", username: "bob" },
    ];
    const pod = await workspace.simulate({ directory });
    const csv = await file(
      "apps-split.csv",
      "email,appId,listed,install\nada@acme.com,djApp,true,true\nbob@acme.com,djApp,true,false\n" +
        "ADA@acme.com,news,false,true\n",
    );
    const run = await podAdmin(["apps", "replace", csv, "--quiet"], pod);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(pod.stats().byOperation[APPS]).toBe(2);
    expect(pod.state.apps(11).map((app) => app.appId)).toEqual(["djApp", "news"]);
    expect(pod.state.apps(12).map((app) => app.appId)).toEqual(["djApp"]);
  });

  it("errors still name each row's own line", async () => {
    const csv = await file("split-bad.csv", "uid,entitlement,enabled\n1,a,true\n2,a,true\n1,b,maybe\n");
    const run = await podAdmin(["features", "apply", csv, "--dry-run"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`${csv}:4: column "enabled"`);
  });
});
