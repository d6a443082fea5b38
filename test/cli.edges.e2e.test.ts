/**
 * Issue 22's rough edges, through the real `pod-admin` process against the simulated pod: CSV headers whatever their
 * case, files with another separator, a user's rows anywhere in the file, exports in a stable order, export FILE
 * with repeated users, per-command help, --version.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { SimulatedPod } from "../src/simulator/index.js";
import { type CliRun, startPodAdmin, useCliWorkspace } from "./cli-process.js";

const workspace = useCliWorkspace("pod-admin-edges-");
const ROOT = fileURLToPath(new URL("..", import.meta.url));
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
        "3,canCreatePublicRoom,false\n1,sendFilesEnabled,false\n02,isExternalIMEnabled,true\n",
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
      isExternalIMEnabled: true,
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

describe("exports come out in a stable order", () => {
  const USERS = Array.from({ length: 60 }, (_, i) => 9_007_199_254_740_000n + BigInt(((i * 37) % 60) * 1000));
  const BIG = 9_223_372_036_854_775_807n;
  const DELEGATES = [BIG, 5n, 9_007_199_254_740_993n];

  /** Every user's state set in an order that is not the sorted one, so the pod answers unsorted lists. */
  function seed(pod: SimulatedPod) {
    for (const [i, uid] of USERS.entries()) {
      pod.state.setFeatures(uid, {
        sendFilesEnabled: i % 2 === 0,
        canCreatePublicRoom: true,
        canCreateDatafeed: false,
      });
      pod.state.setDelegates(uid, i % 3 === 0 ? DELEGATES : [DELEGATES[1] as bigint]);
      pod.state.setApps(uid, [
        {
          appId: "news",
          listed: true,
          install: false,
          products: [
            { name: "pro", type: "premium", subscribed: i % 2 === 0 },
            { name: "basic", type: "default", subscribed: true },
          ],
        },
        { appId: "djApp", listed: i % 2 === 0, install: true },
      ]);
    }
  }

  async function twice(args: string[], pod: SimulatedPod): Promise<[string, string]> {
    const outs: string[] = [];
    for (const [n, concurrency] of ["300", "7"].entries()) {
      const out = join(workspace.work, `twice-${args.join("-").replace(/[^\w-]/g, "")}-${n}`);
      const run = await podAdmin([...args, "--out", out, "--concurrency", concurrency, "--quiet"], pod);
      expect(run.code).toBe(0);
      outs.push(await readFile(out, "utf8"));
    }
    return outs as [string, string];
  }

  it("features export --all: by uid, each user's features by name; byte-identical at any concurrency", async () => {
    const pod = await workspace.simulate({ users: [...USERS, ...DELEGATES] });
    seed(pod);
    const [first, second] = await twice(["features", "export", "--all"], pod);
    expect(second).toBe(first);
    const sorted = [...USERS].sort((a, b) => (a < b ? -1 : 1));
    const expected = sorted.flatMap((uid) => {
      const i = USERS.indexOf(uid);
      return [
        `${uid},canCreateDatafeed,false`,
        `${uid},canCreatePublicRoom,true`,
        `${uid},sendFilesEnabled,${i % 2 === 0}`,
      ];
    });
    expect(first).toBe(`uid,entitlement,enabled\n${expected.join("\n")}\n`);
  });

  it("delegates export FILE, apps export, status export: byte-identical, in uid order, each user once", async () => {
    const pod = await workspace.simulate({ users: [...USERS, ...DELEGATES] });
    seed(pod);
    // Named in no order, by an apply-layout file: a row per delegate, users repeated, one far from its first row.
    const named = [...USERS].reverse().flatMap((uid) => [`${uid},5,ADD`, `${uid},6,ADD`]);
    named.push(`${USERS[0]},7,ADD`);
    const csv = await file("named-delegates.csv", `uid,userId,action\n${named.join("\n")}\n`);
    const [first, second] = await twice(["delegates", "export", csv], pod);
    expect(second).toBe(first);
    const lines = first.trim().split("\n");
    expect(lines[0]).toBe("uid,userId,action");
    const smallest = [...USERS].sort((a, b) => (a < b ? -1 : 1))[0] as bigint;
    const i = USERS.indexOf(smallest);
    expect(lines.slice(1, i % 3 === 0 ? 4 : 2)).toEqual(
      i % 3 === 0
        ? [`${smallest},5,ADD`, `${smallest},9007199254740993,ADD`, `${smallest},${BIG},ADD`]
        : [`${smallest},5,ADD`],
    );
    const uids = lines.slice(1).map((line) => BigInt(line.split(",")[0] as string));
    expect(uids).toEqual([...uids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(new Set(uids).size).toBe(USERS.length);

    const [apps, appsAgain] = await twice(["apps", "export", "--all", "--format", "jsonl"], pod);
    expect(appsAgain).toBe(apps);
    const items = apps
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const appUids = items.map((item: { uid: string }) => BigInt(item.uid));
    expect(appUids).toEqual([...appUids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    const ofSmallest = items.find((item: { uid: string }) => item.uid === String(smallest));
    expect(ofSmallest.apps.map((app: { appId: string }) => app.appId)).toEqual(["djApp", "news"]);
    expect(ofSmallest.apps[1].products.map((p: { name: string }) => p.name)).toEqual(["basic", "pro"]);

    const [status, statusAgain] = await twice(["status", "export", "--all"], pod);
    expect(statusAgain).toBe(status);
    const statusUids = status
      .trim()
      .split("\n")
      .slice(1)
      .map((line) => BigInt(line.split(",")[0] as string));
    expect(statusUids).toEqual([...statusUids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    expect(statusUids.length).toBe(USERS.length + DELEGATES.length);
  });

  it("export FILE of an apply-layout file: repeated users exported once, without a warning per row", async () => {
    const pod = await workspace.simulate({ users: [1, 2] });
    pod.state.setFeatures(1, { canCreatePublicRoom: true });
    pod.state.setFeatures(2, { canCreatePublicRoom: false });
    const csv = await file(
      "features-file.csv",
      "uid,entitlement,enabled\n2,a,true\n2,b,true\n1,a,true\n1,b,true\n2,c,false\nnot-a-uid,a,true\n",
    );
    const refused = await podAdmin(["features", "export", csv], pod);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${csv}:7: column "uid": expected a positive int64 user id, got "not-a-uid"`);
    await writeFile(csv, "uid,entitlement,enabled\n2,a,true\n2,b,true\n1,a,true\n1,b,true\n2,c,false\n");
    const run = await podAdmin(["features", "export", csv], pod);
    expect(run.stderr).toBe("Exported 2 users (2 rows).\n");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("uid,entitlement,enabled\n1,canCreatePublicRoom,true\n2,canCreatePublicRoom,false\n");
    expect(pod.stats().byOperation["GET /v1/admin/user/{uid}/features"]).toBe(3);
  });
});

describe("help per command, a group without its command, --version", () => {
  it("<write> --help prints that command's usage: its columns, its options, examples", async () => {
    const run = await podAdmin(["features", "apply", "--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout.startsWith("Usage: pod-admin features apply FILE [options]\n\n")).toBe(true);
    expect(run.stdout).toContain(
      "CSV columns (any order, names in any case): uid|email|username,entitlement,enabled\n",
    );
    expect(run.stdout).toContain("A user's rows may be anywhere in the file: they make one call.");
    expect(run.stdout).toContain("\n  --journal FILE         the undo journal:");
    expect(run.stdout).toContain(
      "\nExamples:\n  pod-admin features apply users.csv --pod https://acme.symphony.com/pod",
    );
    expect(run.stdout).not.toContain("Commands:");
    expect(run.stdout).not.toContain("--out FILE");
    const delegates = await podAdmin(["delegates", "apply", "x.csv", "--help"]);
    expect(delegates.stdout.startsWith("Usage: pod-admin delegates apply FILE [options]\n")).toBe(true);
    expect(delegates.stdout).toContain("uid|email|username,userId|delegateEmail,action");
  });

  it("export --help, undo --help and simulate --help print their own usage", async () => {
    const exported = await podAdmin(["features", "export", "--help"]);
    expect(exported.code).toBe(0);
    expect(exported.stdout.startsWith("Usage: pod-admin features export [FILE | --all] [options]\n")).toBe(true);
    expect(exported.stdout).toContain("CSV columns written: uid,entitlement,enabled\n");
    expect(exported.stdout).toContain("\n  --out FILE             write to FILE");
    expect(exported.stdout).toContain("\n  --all                  export every user");
    expect(exported.stdout).not.toContain("--journal");
    expect(exported.stdout).toContain(
      "  pod-admin features export --all --pod https://acme.symphony.com/pod --out features.csv",
    );

    const undo = await podAdmin(["undo", "--help"]);
    expect(undo.code).toBe(0);
    expect(undo.stdout.startsWith("Usage: pod-admin undo JOURNAL [options]\n")).toBe(true);
    expect(undo.stdout).toContain("  pod-admin undo undo.jsonl --pod https://acme.symphony.com/pod --dry-run");
    expect(undo.stdout).not.toContain("--format");

    const simulate = await podAdmin(["simulate", "--help"]);
    expect(simulate.code).toBe(0);
    expect(simulate.stdout.startsWith("Usage: pod-admin simulate [options]\n")).toBe(true);
    expect(simulate.stdout).toContain("--rate-limit-per-second N");
    expect(simulate.stdout).toContain("Example:\n  pod-admin simulate ");
  });

  it("a group without its command lists the group's commands (exit 2); --help on the group prints them (exit 0)", async () => {
    const run = await podAdmin(["features"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      "pod-admin: features needs a command:\n" +
        "  features apply FILE            set feature entitlements\n" +
        "  features export [FILE|--all]   what users hold, in the features apply layout\n" +
        "Run pod-admin features <command> --help for its options.\n",
    );
    const apps = await podAdmin(["apps", "--help"]);
    expect(apps.code).toBe(0);
    expect(apps.stdout).toContain("Usage: pod-admin apps <command> [options]\n\nCommands:\n  apps replace FILE");
    expect(apps.stdout).toContain("\n  apps patch FILE ");
    expect(apps.stdout).toContain("\n  apps export [FILE|--all] ");
  });

  it("--version and -V print the package's version", async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
    for (const flag of ["--version", "-V"]) {
      const run = await podAdmin([flag]);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(`pod-admin ${version}\n`);
      expect(run.stderr).toBe("");
    }
    const global = await podAdmin(["--help"]);
    expect(global.stdout).toContain("Usage: pod-admin <command> FILE [options]");
    expect(global.stdout).toContain("  -V, --version          the version of pod-admin");
  });
});

describe("the report is the report, the journal is the undo journal", () => {
  it("no help text or docs/cli.md line calls the report a journal", async () => {
    const helps = await Promise.all(
      [["--help"], ["features", "apply", "--help"], ["undo", "--help"], ["status", "apply", "--help"]].map((args) =>
        podAdmin(args),
      ),
    );
    for (const help of helps) {
      expect(help.stdout).toContain("--report FILE          the report: kept up to date as calls settle");
      for (const line of help.stdout.split("\n").filter((l) => /journal/i.test(l))) {
        expect(line).toMatch(/undo|--journal/);
      }
    }
    // In docs/cli.md, outside its "Journal and undo" section, "journal" is only ever the undo journal.
    const docs = await readFile(join(ROOT, "docs", "cli.md"), "utf8");
    const outside = docs.replace(/\n## Journal and undo\n[\s\S]*?(?=\n## )/, "\n");
    expect(outside.length).toBeLessThan(docs.length);
    for (const line of outside.split("\n").filter((l) => /journal/i.test(l))) expect(line).toMatch(/undo|--journal/i);
  });
});
