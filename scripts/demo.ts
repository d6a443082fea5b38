/**
 * The main job, end to end, with no credentials: `npm run demo`.
 *
 * 1. starts the simulated pod on loopback, with a directory of 10,000 users (ids and email addresses) and faults on
 *    (a rate limit, 503s, dropped connections, an expiring session);
 * 2. writes an HR-style CSV keyed by email (three feature rows a user, plus 3 addresses the pod does not know) and
 *    an RSA key for a service account;
 * 3. runs the real `pod-admin features apply` command against it, in its own process: a dry run (the plan: emails
 *    resolved, unknown ones listed), then the run; anything but the unknown users left in its report is applied
 *    again from the report, as an administrator would;
 * 4. plans the same file again with `--only-changes --dry-run`: every user already holds it, nothing would be sent;
 * 5. reads every user back through the client and checks that each holds the intended entitlements, and that the
 *    report holds exactly the 3 unknown addresses.
 *
 *   npm run demo -- --users 50000        more users
 */
import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createPodClient, type FeatureEntitlement } from "../src/index.js";
import { startSimulatedPod } from "../src/simulator/index.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({ options: { users: { type: "string", default: "10000" } } });
const USERS = Number(values.users);
/** Calls per second the simulated pod admits: the demo shows the client learning it. */
const RATE_LIMIT = 2_000;
const FIRST_UID = 7_215_545_000_000n;
const FEATURES = ["canCreatePublicRoom", "isExternalIMEnabled", "sendFilesEnabled"] as const;
/** Addresses in the HR file that the pod does not know (people who left, a typo): listed, reported, never sent. */
const UNKNOWN = ["former.employee@acme.example", "contractor.2019@acme.example", "jane.doe@acme.exmple"];

const emailOf = (i: number) => `employee${String(i).padStart(6, "0")}@acme.example`;

/** What user number `i` should end up with: a deterministic mix, so a wrong or missing call shows. */
function intended(i: number): FeatureEntitlement[] {
  return FEATURES.map((entitlement, f) => ({ entitlement, enabled: ((i >> f) & 1) === 1 }));
}

async function writeCsv(path: string) {
  const out = createWriteStream(path);
  out.write("email,entitlement,enabled\n");
  const write = async (line: string) => {
    if (!out.write(line)) await new Promise<void>((r) => out.once("drain", () => r()));
  };
  for (let i = 0; i < USERS; i++) {
    for (const { entitlement, enabled } of intended(i)) await write(`${emailOf(i)},${entitlement},${enabled}\n`);
  }
  for (const email of UNKNOWN) await write(`${email},${FEATURES[0]},true\n`);
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}

/** The statuses of a report's lines, e.g. `{ unknownUser: 3, failed: 2 }`. */
async function reportStatuses(path: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  const text = await readFile(path, "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const status = String((JSON.parse(line) as { _report?: { status?: string } })._report?.status);
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

/** Runs the real command as a separate process, as an administrator would. */
function podAdmin(args: string[]): Promise<number> {
  console.log(`\n$ pod-admin ${args.join(" ")}`);
  const cli = ["--import", "tsx", join(root, "src", "cli", "main.ts")];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...cli, ...args], { stdio: "inherit", cwd: root });
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), "pod-admin-demo-"));
  const pod = await startSimulatedPod({
    directory: Array.from({ length: USERS }, (_, i) => ({ uid: FIRST_UID + BigInt(i), email: emailOf(i) })),
    // A real pod's limit: a fixed number of calls per one-second window, the rest 429 with a whole-second Retry-After.
    rateLimit: { perSecond: RATE_LIMIT, windowMs: 1000 },
    faults: { serverError: 0.02, dropConnection: 0.005, seed: 7 },
    expireTokenAfterRequests: Math.ceil(USERS / 3),
  });
  try {
    console.log(`Simulated pod at ${pod.url}`);
    console.log(`The pod admits ${RATE_LIMIT} calls per second (429 beyond, Retry-After 1 s); faults: 2 % 503, 0.5 %`);
    console.log("dropped connections; the session expires every");
    console.log(`${Math.ceil(USERS / 3)} requests, so the service account logs in again (RSA, JWT) mid-run.`);

    const csv = join(work, "users.csv");
    await writeCsv(csv);
    const keyFile = join(work, "provisioning-bot.pem");
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await writeFile(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    console.log(
      `Wrote ${csv}: ${USERS} users named by email × ${FEATURES.length} features, and ${UNKNOWN.length} addresses ` +
        "the pod does not know.",
    );

    const common = ["--pod", pod.url, "--username", "provisioning-bot", "--private-key", keyFile];
    // Exit 1: the unknown addresses will not apply, and the plan says so before anything is sent.
    let code = await podAdmin(["features", "apply", csv, ...common, "--dry-run"]);
    if (code !== 1) throw new Error(`the dry run exited with ${code}, expected 1 (unknown users)`);
    const report = (round: number) => join(work, `report-${round}.jsonl`);
    code = await podAdmin(["features", "apply", csv, ...common, "--report", report(0)]);
    let last = 0;
    // The unknown users stay in the report whatever happens; anything else left there (a fault) is applied again.
    const leftOver = async (round: number) => {
      const { unknownUser = 0, ...others } = await reportStatuses(report(round));
      return { unknownUser, others: Object.values(others).reduce((a, b) => a + b, 0) };
    };
    for (let round = 1; code === 1 && (await leftOver(round - 1)).others > 0 && round <= 3; round++) {
      console.log("Some items did not apply; applying the report, as an administrator would.");
      code = await podAdmin(["features", "apply", report(round - 1), ...common, "--report", report(round)]);
      last = round;
    }
    const left = await leftOver(last);
    if (code > 1 || left.others > 0 || left.unknownUser !== UNKNOWN.length) {
      throw new Error(`pod-admin exited with ${code}, its report holding ${JSON.stringify(left)}`);
    }
    console.log(`The report holds the ${left.unknownUser} unknown addresses, and nothing else.`);

    // The same file again, planned against what the pod now holds: nothing left to send.
    code = await podAdmin(["features", "apply", csv, ...common, "--only-changes", "--dry-run"]);
    if (code !== 1) throw new Error(`the --only-changes dry run exited with ${code}, expected 1 (unknown users)`);

    // Read everything back through the API, faults off, and compare.
    pod.setFaults(undefined);
    pod.setRateLimit(undefined);
    const client = createPodClient({ baseUrl: pod.url, sessionToken: () => pod.currentToken() });
    let verified = 0;
    const wrong: string[] = [];
    const indexes = Array.from({ length: USERS }, (_, i) => i);
    const worker = async () => {
      for (let i = indexes.pop(); i !== undefined; i = indexes.pop()) {
        const uid = FIRST_UID + BigInt(i);
        const actual = new Map((await client.users.listFeatures(uid)).map((f) => [f.entitlement, f.enabled]));
        const ok = intended(i).every((f) => actual.get(f.entitlement) === f.enabled);
        if (ok) verified++;
        else wrong.push(String(uid));
      }
    };
    await Promise.all(Array.from({ length: 100 }, worker));
    const stats = pod.stats();
    console.log(
      `\nThe pod answered ${stats.requests} requests: ${stats.byStatus[429] ?? 0} × 429, ${stats.faults.serverErrors} × 503, ` +
        `${stats.faults.dropped} dropped, ${stats.tokenExpiries} session expiries, ${stats.logins} logins.`,
    );
    if (wrong.length > 0) {
      console.log(`Verification FAILED: ${wrong.length} users differ, e.g. ${wrong.slice(0, 5).join(", ")}`);
      return 1;
    }
    console.log(`Verified: ${verified}/${USERS} users hold the intended entitlements.`);
    return 0;
  } finally {
    await pod.close();
    await rm(work, { recursive: true, force: true });
  }
}

process.exitCode = await main().catch((error: unknown) => {
  console.error(error);
  return 1;
});
