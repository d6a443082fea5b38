/**
 * `pod-admin`: applies a CSV or JSON Lines file to a pod through the bulk helpers. Everything the command does
 * goes through {@link runCli}, so tests run it in-process or as a real child process alike.
 */
import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, open, realpath, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import type { SessionTokenProvider } from "../auth.js";
import type { BulkOutcome, BulkProgress } from "../bulk.js";
import { createPodClient, type PodClient } from "../client.js";
import { PodApiError, PodUnauthorizedError, ValidationError } from "../errors.js";
import { userIdToDecimal } from "../ids.js";
import { AuthenticationError, readPrivateKeyFile, rsaAuthentication } from "../rsa-auth.js";
import { stringifyJson } from "../wire.js";
import { CSV_COLUMNS, formatFor, InputError, type ItemOf, type Operation, REPORT_KEY, readItems } from "./readers.js";

/** Where the command reads and writes; the real process's streams, or test doubles. */
export interface CliIo {
  stdin: Readable;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
  env: Record<string, string | undefined>;
  /** Aborting it is Ctrl-C: stop taking new work, finish in-flight calls, write the report. */
  interrupt?: AbortSignal;
}

/** Exit codes: 0 all applied, 1 some failed (report written), 2 nothing sent (bad usage, input or login), 130 interrupted before sending. */
export const EXIT = { ok: 0, someFailed: 1, usage: 2, interrupted: 130 } as const;

const COMMANDS: Record<string, { operation: Operation; label: string; call: string }> = {
  "features apply": { operation: "features", label: "features", call: "POST features/update" },
  "delegates apply": { operation: "delegates", label: "delegates", call: "POST delegates/update" },
  "apps replace": { operation: "appsReplace", label: "apps (replace)", call: "POST app/entitlement/list" },
  "apps patch": { operation: "appsPatch", label: "apps (patch)", call: "PATCH app/entitlement/list" },
};

const BULK_METHOD = {
  features: "updateFeatures",
  delegates: "updateDelegates",
  appsReplace: "replaceApps",
  appsPatch: "patchApps",
} as const;

export const USAGE = `Usage: pod-admin <command> FILE [options]

Commands:
  features apply FILE    set feature entitlements        CSV: uid,entitlement,enabled (rows of a user grouped)
  delegates apply FILE   add or remove delegates         CSV: uid,userId,action (ADD|REMOVE)
  apps replace FILE      replace all apps of each user   CSV: uid,appId,listed,install[,appName][,product*]
  apps patch FILE        change some apps of each user   CSV: uid,appId[,listed][,install][,product*]
  simulate               run a simulated pod on loopback (see pod-admin simulate --help)

FILE is CSV or JSON Lines (.jsonl; one bulk item per line, e.g. a --report file). "-" reads standard input.
product* columns: productName,productType,productSubscribed[,productSku][,productAppId]

Options:
  --pod URL              the pod's base URL, e.g. https://acme.symphony.com/pod (or POD_URL)
  --concurrency N        calls at once, 1-1000 (default 300)
  --max-attempts N       attempts per call, retries included (default 5)
  --dry-run              parse and validate everything, print the plan, send nothing
  --report FILE          write every failed or not-attempted item as one JSON line (valid input to retry)
  --format csv|jsonl     input format (default: from the file name, else sniffed)
  --username NAME        service account for RSA authentication (or POD_USERNAME)
  --private-key FILE     its RSA private key, PEM (or POD_PRIVATE_KEY_FILE)
  --quiet                no progress output
  -h, --help             this help

Session token: POD_SESSION_TOKEN, or RSA authentication with --username and --private-key.
Exit codes: 0 all applied, 1 some failed (report written), 2 bad usage, invalid input or refused login
(nothing sent), 130 interrupted before anything was sent.`;

class UsageError extends Error {}

/** Runs one `pod-admin` invocation and resolves to its exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await run(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`pod-admin: ${error.message}\nRun pod-admin --help for usage.\n`);
      return EXIT.usage;
    }
    throw error;
  }
}

async function run(argv: string[], io: CliIo): Promise<number> {
  if (argv[0] === "simulate") {
    const { runSimulatorCli } = await import("../simulator/main.js");
    return runSimulatorCli(argv.slice(1), io);
  }
  const { values, positionals } = parseOptions(argv);
  if (values.help || argv.length === 0) {
    io.stdout.write(`${USAGE}\n`);
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[positionals.slice(0, 2).join(" ")];
  if (!command) throw new UsageError(`unknown command "${positionals.slice(0, 2).join(" ")}"`);
  const file = positionals[2];
  if (file === undefined || positionals.length > 3)
    throw new UsageError("give exactly one input FILE (or - for standard input)");
  const concurrency = values.concurrency === undefined ? 300 : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 1000) {
    throw new UsageError(`--concurrency must be an integer from 1 to 1000, got ${values.concurrency}`);
  }
  const maxAttempts = values["max-attempts"] === undefined ? undefined : Number(values["max-attempts"]);
  if (maxAttempts !== undefined && (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 100)) {
    throw new UsageError(`--max-attempts must be an integer from 1 to 100, got ${values["max-attempts"]}`);
  }
  if (values.format !== undefined && values.format !== "csv" && values.format !== "jsonl") {
    throw new UsageError(`--format must be csv or jsonl, got ${values.format}`);
  }
  const podUrl = values.pod ?? io.env.POD_URL;
  const dryRun = values["dry-run"] === true;
  if (!dryRun && !podUrl) throw new UsageError("--pod URL is required (or set POD_URL)");
  const sessionToken = dryRun ? "dry-run" : await resolveSessionToken(values, io.env, podUrl as string);

  const input = await openInput(file, io.stdin);
  let report: ReportFile | undefined;
  try {
    // Opened before anything is sent, so an unwritable report is a usage error, not a crash mid-run.
    if (!dryRun) report = await openReport(values.report, input.path);
    const format = (values.format as "csv" | "jsonl" | undefined) ?? formatFor(file, await firstChar(input.path));
    const source = () => createReadStream(input.path);
    const pod = createPodClient({
      baseUrl: podUrl ?? "http://dry-run.invalid/pod",
      sessionToken,
      ...(maxAttempts && { retry: { maxAttempts } }),
    });
    const plan = await makePlan(pod, command.operation, source, input.label, format, io.interrupt);
    if (io.interrupt?.aborted) {
      io.stderr.write("\nInterrupted while reading the input: nothing was sent.\n");
      return EXIT.interrupted;
    }
    printPlan(io, command, input.label, plan, concurrency, dryRun);
    if (plan.invalid.length > 0) return EXIT.usage;
    if (dryRun || !report) return EXIT.ok;
    return await apply(io, pod, command, source, input.label, format, plan, {
      concurrency,
      report,
      quiet: values.quiet === true,
    });
  } finally {
    await report?.discard();
    await input.cleanup();
  }
}

function parseOptions(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        pod: { type: "string" },
        concurrency: { type: "string" },
        "max-attempts": { type: "string" },
        "dry-run": { type: "boolean" },
        report: { type: "string" },
        format: { type: "string" },
        username: { type: "string" },
        "private-key": { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function resolveSessionToken(
  values: { username?: string | undefined; "private-key"?: string | undefined },
  env: CliIo["env"],
  podUrl: string,
): Promise<string | SessionTokenProvider> {
  const username = values.username ?? env.POD_USERNAME;
  const keyFile = values["private-key"] ?? env.POD_PRIVATE_KEY_FILE;
  if (username || keyFile) {
    if (!username || !keyFile) throw new UsageError("RSA authentication needs both --username and --private-key");
    const privateKey = await readPrivateKeyFile(keyFile).catch((error: Error) => {
      throw new UsageError(`cannot use --private-key ${keyFile}: ${error.message}`);
    });
    const provider = rsaAuthentication({ podUrl, username, privateKey });
    // Log in before reading anything: a refused key is a usage error, not a run of failed calls.
    let first: Promise<string> | undefined = provider();
    await first.catch((error: Error) => {
      throw new UsageError(`RSA authentication failed: ${error.message}`);
    });
    return () => {
      const token = first ?? provider();
      first = undefined;
      return token;
    };
  }
  const token = env.POD_SESSION_TOKEN;
  if (!token) {
    throw new UsageError("no session token: set POD_SESSION_TOKEN, or use --username and --private-key (RSA)");
  }
  return token;
}

/** A file to read twice (plan, then apply). Standard input is spooled to a temporary file first, not to memory. */
async function openInput(file: string, stdin: Readable) {
  if (file !== "-") {
    const handle = await open(file).catch((error: NodeJS.ErrnoException) => {
      throw new UsageError(`cannot read ${file}: ${error.code === "ENOENT" ? "no such file" : error.message}`);
    });
    await handle.close();
    return { path: file, label: file, cleanup: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), "pod-admin-"));
  const path = join(dir, "stdin");
  await pipeline(stdin, createWriteStream(path));
  return { path, label: "<stdin>", cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The report, written to a temporary file beside it and renamed at the end, so a reader never sees half of one. */
interface ReportFile {
  path: string;
  lines: number;
  write(line: string): Promise<void>;
  /** Closes the report and moves it into place: always when `--report` was given, else only if it has lines. */
  finish(): Promise<void>;
  /** Removes the temporary file if the run ended before finish(). */
  discard(): Promise<void>;
}

async function openReport(requested: string | undefined, inputPath: string): Promise<ReportFile> {
  const path = resolve(requested ?? `pod-admin-report-${new Date().toISOString().replace(/[:.]/g, "-")}.jsonl`);
  const inputReal = await realpath(inputPath);
  if ((await realpath(path).catch(() => path)) === inputReal) {
    throw new UsageError(
      `--report ${requested} is the input file: the report is written while the input is read; name another file`,
    );
  }
  const temporary = `${path}.partial`;
  const handle = await open(temporary, "w").catch((error: Error) => {
    throw new UsageError(`cannot write the report ${requested ?? path}: ${error.message}`);
  });
  const stream = handle.createWriteStream();
  let failure: Error | undefined;
  stream.on("error", (error) => {
    failure ??= error;
  });
  let finished = false;
  const report: ReportFile = {
    path,
    lines: 0,
    async write(line) {
      if (failure) throw failure;
      report.lines++;
      if (!stream.write(line)) await once(stream, "drain");
    },
    async finish() {
      finished = true;
      await new Promise<void>((done) => stream.end(() => done()));
      if (failure) throw failure;
      if (requested !== undefined || report.lines > 0) await rename(temporary, path);
      else await rm(temporary, { force: true });
    },
    async discard() {
      if (finished) return;
      finished = true;
      await new Promise<void>((done) => stream.end(() => done()));
      await rm(temporary, { force: true });
    },
  };
  return report;
}

async function firstChar(path: string): Promise<string | undefined> {
  const handle = await open(path);
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
    return buffer.subarray(0, bytesRead).toString("utf8").trimStart()[0];
  } finally {
    await handle.close();
  }
}

interface Plan {
  calls: number;
  users: number;
  invalid: InputError[];
  invalidCount: number;
}

const MAX_LISTED_INVALID = 50;

/** Pass 1: reads and validates everything (a bulk dry run), so a bad row stops the job before any call. */
async function makePlan(
  pod: PodClient,
  operation: Operation,
  source: () => Readable,
  label: string,
  format: "csv" | "jsonl",
  interrupt: AbortSignal | undefined,
): Promise<Plan> {
  const plan: Plan = { calls: 0, users: 0, invalid: [], invalidCount: 0 };
  // First line of each user (of each user and delegate, for delegates): two calls for one of them would race.
  const firstLines = new Map<string, number>();
  // Distinct users, where the keys above are not users (delegates: one key per user and delegate).
  const delegators = operation === "delegates" ? new Set<string>() : undefined;
  const lines = new WeakMap<object, number>();
  const addInvalid = (error: InputError) => {
    plan.invalidCount++;
    if (plan.invalid.length < MAX_LISTED_INVALID) plan.invalid.push(error);
  };
  async function* items() {
    for await (const record of readItems(operation, source(), label, format)) {
      if (interrupt?.aborted) return;
      if ("error" in record) addInvalid(record.error);
      else {
        lines.set(record.item as object, record.line);
        yield record.item;
      }
    }
  }
  const bulk = pod.bulk.stream[BULK_METHOD[operation]] as (
    items: AsyncIterable<unknown>,
    options: { dryRun: boolean; concurrency: number },
  ) => AsyncGenerator<BulkOutcome<unknown>>;
  for await (const outcome of bulk(items(), { dryRun: true, concurrency: 1000 })) {
    if (outcome.status === "succeeded") {
      const line = lines.get(outcome.input as object) ?? 0;
      const key =
        operation === "delegates"
          ? `${outcome.uid} ${userIdToDecimal((outcome.input as { userId: unknown }).userId, "userId")}`
          : outcome.uid;
      const first = firstLines.get(key);
      if (first !== undefined) {
        const what = operation === "delegates" ? `the delegate change of user ${outcome.uid}` : `user ${outcome.uid}`;
        addInvalid(
          new InputError(
            label,
            line,
            "uid",
            "one call per user",
            `${what} appears again (first at line ${first}); keep all rows of a user together, or two calls for them would race`,
          ),
        );
        continue;
      }
      firstLines.set(key, line);
      plan.calls++;
      delegators?.add(outcome.uid);
    } else if (outcome.status === "failed") {
      const error = outcome.error;
      const line = lines.get(outcome.input as object) ?? 0;
      const field = error instanceof ValidationError ? error.field : undefined;
      const rule = error instanceof ValidationError ? error.rule : "invalid";
      addInvalid(new InputError(label, line, undefined, rule, field ? error.message : error.message));
    }
  }
  plan.users = delegators?.size ?? firstLines.size;
  plan.invalid.sort((a, b) => a.line - b.line);
  return plan;
}

function printPlan(
  io: CliIo,
  command: { label: string; call: string },
  label: string,
  plan: Plan,
  concurrency: number,
  dryRun: boolean,
) {
  const out = io.stdout;
  out.write(`${dryRun ? "Plan (dry run, nothing sent)" : "Plan"}: ${command.label} from ${label}\n`);
  out.write(`  ${plan.users} users, ${plan.calls} calls (${command.call}), concurrency ${concurrency}\n`);
  out.write(`  ${plan.invalidCount} invalid rows\n`);
  for (const error of plan.invalid) io.stderr.write(`  ${error.message}\n`);
  if (plan.invalidCount > plan.invalid.length) {
    io.stderr.write(`  … and ${plan.invalidCount - plan.invalid.length} more\n`);
  }
  if (plan.invalidCount > 0) io.stderr.write("Nothing was sent: fix the rows above and run again.\n");
}

/** Pass 2: streams the items through the bulk helper, reporting progress and writing the report. */
async function apply(
  io: CliIo,
  pod: PodClient,
  command: { operation: Operation; label: string },
  source: () => Readable,
  label: string,
  format: "csv" | "jsonl",
  plan: Plan,
  options: { concurrency: number; report: ReportFile; quiet: boolean },
): Promise<number> {
  const controller = new AbortController();
  const onInterrupt = () => {
    io.stderr.write(
      "\nInterrupted: finishing the calls in flight, then writing the report (Ctrl-C again to quit now).\n",
    );
    controller.abort();
  };
  io.interrupt?.addEventListener("abort", onInterrupt, { once: true });
  if (io.interrupt?.aborted) controller.abort();

  const lines = new WeakMap<object, number>();
  async function* items() {
    for await (const record of readItems(command.operation, source(), label, format)) {
      // Pass 1 found no invalid rows, so every record is an item.
      if ("item" in record) {
        lines.set(record.item as object, record.line);
        yield record.item;
      }
    }
  }

  const { report } = options;
  const writeReport = async (outcome: BulkOutcome<unknown>) => {
    const error = outcome.status === "failed" ? outcome.error : undefined;
    const metadata = {
      status: outcome.status,
      line: lines.get(outcome.input as object),
      ...(error && {
        error: error.name,
        ...(error instanceof PodApiError && { httpStatus: error.status }),
        message: error.message,
      }),
    };
    await report.write(`${stringifyJson({ ...(outcome.input as object), [REPORT_KEY]: metadata })}\n`);
  };

  const progress = options.quiet ? undefined : progressRenderer(io, command.label, plan.calls);
  const counts = { succeeded: 0, failed: 0, notAttempted: 0 };
  let refused: "token" | "login" | undefined;
  const started = Date.now();
  const bulk = pod.bulk.stream[BULK_METHOD[command.operation]] as (
    items: AsyncIterable<unknown>,
    options: object,
  ) => AsyncGenerator<BulkOutcome<unknown>>;
  try {
    for await (const outcome of bulk(items(), {
      concurrency: options.concurrency,
      signal: controller.signal,
      onProgress: progress?.update,
      progressIntervalMs: 200,
    })) {
      counts[outcome.status]++;
      if (outcome.status === "succeeded") continue;
      if (outcome.status === "failed" && !refused) {
        // Every later call would be refused too (and a refused login retried would risk locking the account):
        // stop, and keep the rest in the report for a retry.
        if (outcome.error instanceof PodUnauthorizedError) refused = "token";
        else if (outcome.error instanceof AuthenticationError) refused = "login";
        if (refused) controller.abort();
      }
      await writeReport(outcome);
    }
  } finally {
    progress?.stop();
    io.interrupt?.removeEventListener("abort", onInterrupt);
  }
  await report.finish();

  const elapsed = (Date.now() - started) / 1000;
  const done = counts.succeeded + counts.failed;
  io.stdout.write(
    `Done in ${elapsed.toFixed(1)} s (${(done / Math.max(elapsed, 0.001)).toFixed(0)} calls/s): ` +
      `${counts.succeeded} succeeded, ${counts.failed} failed, ${counts.notAttempted} not attempted.\n`,
  );
  if (done + counts.notAttempted !== plan.calls) {
    // The file changed between the two passes: say so rather than let rows go unaccounted for.
    io.stderr.write(
      `The input changed while it was applied: ${plan.calls} calls were planned, ${done + counts.notAttempted} were read.\n`,
    );
  }
  if (refused === "token") {
    io.stderr.write(
      "The pod refused the session token (401). Set a fresh POD_SESSION_TOKEN, or use --username and --private-key.\n",
    );
  } else if (refused === "login") {
    io.stderr.write("The login was refused (RSA authentication): check --username and --private-key.\n");
  }
  if (report.lines > 0) {
    const words = commandWords(command.operation);
    io.stdout.write(
      `Report: ${report.path} (${report.lines} items). Retry them with: pod-admin ${words} ${report.path}\n`,
    );
    return EXIT.someFailed;
  }
  return done + counts.notAttempted === plan.calls ? EXIT.ok : EXIT.someFailed;
}

function commandWords(operation: Operation): string {
  return Object.entries(COMMANDS).find(([, c]) => c.operation === operation)?.[0] ?? "";
}

/** A progress bar on a terminal; a plain line every few seconds otherwise (logs, CI). */
function progressRenderer(io: CliIo, label: string, total: number) {
  if (io.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: io.stderr as NodeJS.WritableStream,
        format: `${label} |{bar}| {value}/{total} calls · {failed} failed · {rate}/s · ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 500,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { failed: 0, rate: 0 });
    return {
      update: (p: BulkProgress) => bar.update(p.done, { failed: p.failed, rate: p.ratePerSecond.toFixed(0) }),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  let latest: BulkProgress | undefined;
  let printed: BulkProgress | undefined;
  const line = (p: BulkProgress) => {
    printed = p;
    const percent = total > 0 ? ((100 * p.done) / total).toFixed(1) : "100.0";
    io.stderr.write(
      `progress: ${p.done}/${total} calls (${percent}%) · ${p.failed} failed · ${p.ratePerSecond.toFixed(0)}/s\n`,
    );
  };
  return {
    update: (p: BulkProgress) => {
      latest = p;
      if (p.elapsedMs - last >= 2000) {
        last = p.elapsedMs;
        line(p);
      }
    },
    stop: () => {
      if (latest && latest.done !== printed?.done) line(latest);
    },
  };
}

export type { ItemOf };
export { CSV_COLUMNS };
