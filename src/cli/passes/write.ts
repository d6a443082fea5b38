import type { BulkOutcome } from "../../api/bulk.js";
import type { PodClient } from "../../api/client.js";
import { PodApiError, type PodError } from "../../core/errors.js";
import type { AuthenticationError } from "../../core/rsa-auth.js";
import { plural, printable } from "../../core/text.js";
import { type Command, EXIT } from "../args.js";
import { causeOf, FailureCauses, neverSent } from "../failures.js";
import type { Journal } from "../files/report.js";
import { flowProgress, flowSummary } from "../flow.js";
import type { CliIo } from "../io.js";
import { progressRenderer } from "../progress.js";
import { pendingItems } from "./pending.js";
import { BULK_METHOD, type LooseBulk, type Plan } from "./plan.js";
import { finishInterruptedReads, type ReadPass } from "./read.js";
import { type PassStop, runPass, stopOf } from "./stream.js";

/**
 * Applies the plan. Ctrl-C (`io.interrupt`) stops taking work and lets the calls in flight finish; a second one
 * (`io.quit`) writes what has settled and exits at once through `io.exitNow`, the calls in flight staying
 * `pending` in the journal (sent again when it is applied).
 *
 * @example
 * ```ts
 * const options = {} as Parameters<typeof apply>[0]; // io, pod, command, journal, plan, … from run.ts
 * const code = await apply({ ...options, concurrency: 300, quiet: false });
 * ```
 */
export async function apply(options: {
  io: CliIo;
  pod: PodClient;
  command: Command;
  journal: Journal;
  pendingBytes: number;
  plan: Plan;
  concurrency: number;
  quiet: boolean;
  /** What the read pass found ({@link readBeforeWriting}): items not to send, and how the reads ended. */
  reads?: ReadPass | undefined;
  /** Items of disabled users the plan kept out (`--skip-disabled`): in the report, never sent. */
  skippedDisabled?: number;
}): Promise<number> {
  const { io, pod, command, journal, plan, reads } = options;
  // Ctrl-C during the reads: no write pass at all (its progress and counts would contradict "nothing written").
  if (reads?.interrupted) return finishInterruptedReads({ ...options, reads }, reads.interrupted.resume);
  /** Calls to make: the plan's, less the items the read pass settled (unchanged, unreadable, not attempted). */
  const calls = plan.calls - (reads?.skip.size ?? 0);
  const retryHint = `pod-admin ${command.words} ${journal.path}`;
  io.stdout.write(
    `Report: ${journal.path} (kept up to date as calls settle; if this run stops, ${retryHint} finishes it)\n`,
  );

  const controller = new AbortController();
  /** Ctrl-C stopped the run: its summary says "Interrupted after", not "Done in". */
  let interrupted = io.interrupt?.aborted === true;
  const onInterrupt = () => {
    interrupted = true;
    io.stderr.write(
      "\nInterrupted: finishing the calls in flight, then writing the report (Ctrl-C again to quit now).\n",
    );
    controller.abort();
  };
  io.interrupt?.addEventListener("abort", onInterrupt, { once: true });
  if (io.interrupt?.aborted) controller.abort();

  const counts = { succeeded: 0, failed: 0, notAttempted: 0 };
  const causes = new FailureCauses();
  let taken = 0;
  const onQuit = () => {
    // Second Ctrl-C: no waiting. What settled is written; the calls in flight have no outcome line, so the journal
    // keeps them pending and applying it sends them again (every write of the API sets state: a repeat is safe).
    journal.flushSync();
    const inFlight = taken - counts.succeeded - counts.failed - counts.notAttempted;
    io.stderr.write(
      `\nQuit with ${plural(inFlight, "call")} in flight: their outcome is unknown, and the report counts them as not applied.\n` +
        `${journal.path} holds everything not applied: ${retryHint} finishes the job.\n`,
    );
    io.exitNow?.(taken > 0 ? EXIT.someFailed : EXIT.interrupted);
  };
  io.quit?.addEventListener("abort", onQuit, { once: true });

  journal.onFailure = () => controller.abort();

  const where = new WeakMap<object, { ordinal: number; line: number | undefined }>();
  async function* items() {
    const settled = { merged: plan.merged, skip: reads?.skip };
    for await (const { item, ordinal, line } of pendingItems(
      journal,
      command.operation,
      options.pendingBytes,
      settled,
    )) {
      where.set(item as object, { ordinal, line });
      taken++;
      yield item;
    }
  }

  const flowBefore = pod.flowControl();
  const progress = options.quiet
    ? undefined
    : progressRenderer(io.stderr, command.label, calls, () => flowProgress(flowBefore, pod.flowControl()));
  let refused: "token" | "login" | undefined;
  let loginError: AuthenticationError | undefined;
  /** The breaker that stopped the run (the pod unreachable, the privilege missing), for its message. */
  let stoppedBy: PodError | undefined;
  /**
   * Notes why the run stops. A refused session or login stops it now: every later call would be refused too (and a
   * refused login retried would risk locking the account). A breaker stops the run by itself; the first says why.
   */
  const noteStop = (stop: PassStop | undefined) => {
    if (stop?.kind === "breaker") stoppedBy ??= stop.error;
    else if (stop) {
      refused = stop.kind;
      if (stop.kind === "login") loginError = stop.error;
      controller.abort();
    }
  };
  // The read pass stopped (a refused session, a breaker): nothing is written, and the same message says why.
  const stopReason = reads?.stoppedBy;
  noteStop(stopOf(stopReason));
  if (stopReason) controller.abort();
  const started = Date.now();
  const bulk = pod.bulk.stream[BULK_METHOD[command.operation]] as LooseBulk;
  try {
    /** One call settled: counted, its outcome written to the report; a refused session or login stops the run. */
    const settle = (outcome: BulkOutcome<unknown>): void => {
      // A call a breaker or a refused session stopped before its first attempt was not sent: not a failure the pod saw.
      const unsent = outcome.status === "failed" && neverSent(outcome.error);
      counts[unsent ? "notAttempted" : outcome.status]++;
      const at = where.get(outcome.input as object) ?? { ordinal: 0, line: undefined };
      if (outcome.status === "failed" && !unsent) causes.add(outcome.error, outcome.uid, at.line);
      if (outcome.status === "succeeded") {
        journal.succeeded(at.ordinal);
        return;
      }
      // A refused session or login stops the run here; the calls not made stay in the report for a retry.
      if (outcome.status === "failed" && !refused) noteStop(stopOf(outcome.error));
      const error = outcome.status === "failed" ? outcome.error : undefined;
      journal.unapplied(outcome.input as object, at.ordinal, {
        status: outcome.status,
        line: at.line,
        ...(error && {
          error: error.name,
          ...(error instanceof PodApiError && { httpStatus: error.status }),
          message: error.message,
        }),
      });
    };
    const pass = { concurrency: options.concurrency, signal: controller.signal, progress };
    const end = await runPass((streamOptions) => bulk(items(), streamOptions), pass, settle);
    // A run stopped by a breaker says why here (the all-403 stop has no failed item that carries it).
    stoppedBy ??= end;
  } finally {
    progress?.stop();
    io.interrupt?.removeEventListener("abort", onInterrupt);
  }
  try {
    return await finish();
  } finally {
    // Until here a second Ctrl-C exits 1 through onQuit: calls were sent, even while the report is being written.
    io.quit?.removeEventListener("abort", onQuit);
  }

  /** Why the calls not attempted were never sent, in words. */
  function whyNotSent(): string {
    if (refused === "token") return "the pod refused the session token (401), so the run stopped";
    if (refused === "login") return "the login failed, so the run stopped";
    if (stoppedBy?.circuitBreaker === "unreachable") {
      // The breaker's error carries the last connection failure: say it here, in the one line a --quiet run shows.
      const why = /\((.+)\)$/.exec(causeOf(stoppedBy))?.[1];
      return `the pod stopped answering${why ? ` (${why})` : ""}, so the run stopped`;
    }
    if (stoppedBy?.circuitBreaker === "forbidden") return "the pod refused every call (403), so the run stopped";
    if (stoppedBy?.circuitBreaker === "session") return "the pod refused the session, so the run stopped";
    if (stoppedBy) return "the run stopped";
    if (journal.failure) return "the report could not be written, so the run stopped";
    if (interrupted) return "interrupted (Ctrl-C)";
    return "the run stopped";
  }

  async function finish(): Promise<number> {
    const elapsed = (Date.now() - started) / 1000;
    const done = counts.succeeded + counts.failed;
    const unsentWhy = counts.notAttempted > 0 ? whyNotSent() : undefined;
    io.stdout.write(
      `${interrupted ? "Interrupted after" : "Done in"} ${elapsed.toFixed(1)} s ` +
        `(${(done / Math.max(elapsed, 0.001)).toFixed(0)} calls/s): ` +
        `${counts.succeeded} succeeded, ${counts.failed} failed, ${counts.notAttempted} not attempted` +
        (reads ? `; ${reads.unchangedSkipped} already held it (not sent)` : "") +
        (reads && reads.unsent > 0 ? `, ${reads.unsent} not sent (their user was not read)` : "") +
        (options.skippedDisabled ? `; ${plural(options.skippedDisabled, "item")} of disabled users skipped` : "") +
        ".\n",
    );
    if (done > 0) io.stdout.write(flowSummary(flowBefore, pod.flowControl(), elapsed));
    // Why, on stderr even with --quiet: one line per cause, the calls never sent apart.
    if (causes.total > 0 || unsentWhy) {
      io.stderr.write("Not applied, by cause:\n");
      for (const line of causes.lines("failed")) io.stderr.write(line);
      if (unsentWhy) io.stderr.write(`  ${counts.notAttempted} not sent: ${unsentWhy}\n`);
    }
    if (refused === "token") {
      io.stderr.write(
        "The pod refused the session token (401), so the run stopped. Set a fresh POD_SESSION_TOKEN, or use " +
          "--username and --private-key; with RSA, check that the service account is enabled and that its public " +
          "key is the one registered on the pod.\n",
      );
    } else if (refused === "login") {
      // Refused (401/403) or not answered: the error says which; only a refusal points at the account.
      const why = loginError ? printable(loginError.message) : "the RSA login failed";
      const hint =
        loginError?.status === 401 || loginError?.status === 403
          ? "check --username and --private-key"
          : "the session-auth service did not answer as it should; run the report again later";
      io.stderr.write(`The run stopped: ${why}. ${hint[0]?.toUpperCase()}${hint.slice(1)}.\n`);
    } else if (stoppedBy) {
      io.stderr.write(`The run stopped: ${printable(stoppedBy.note ?? stoppedBy.message)}.\n`);
    }

    let report: { lines: number; removed: boolean } | undefined;
    let reportError: Error | undefined = journal.failure;
    if (!reportError) {
      try {
        report = await journal.finish();
      } catch (error) {
        reportError = error as Error;
      }
    } else {
      await journal.discard();
    }
    const applied =
      done + counts.notAttempted === calls && counts.succeeded === calls && (reads === undefined || reads.unsent === 0);
    if (reportError) {
      io.stderr.write(
        `pod-admin: cannot write the report ${journal.path}: ${printable(reportError.message)}.\n` +
          (journal.failure ? "The run stopped taking work when it happened. " : "") +
          `${journal.path} holds every item of the run and the outcomes written before the failure: once it can be ` +
          `written again, ${retryHint} finishes the job (items whose outcome is missing are sent again).\n`,
      );
      return EXIT.someFailed;
    }
    if (report && report.lines > 0) {
      io.stdout.write(`Report: ${journal.path} (${plural(report.lines, "item")}). Retry them with: ${retryHint}\n`);
    } else if (report?.removed) {
      // The first line named it: say it is gone, rather than leave the reader looking for it.
      io.stdout.write(`Report: none kept (every call applied; ${journal.path} was removed).\n`);
    }
    if (applied) return EXIT.ok;
    return counts.succeeded + counts.failed === 0 && controller.signal.aborted && !refused && !stopReason
      ? EXIT.interrupted
      : EXIT.someFailed;
  }
}
