/**
 * What the read and write passes share (src/cli/passes/stream.ts): which failures stop a pass, and how a pass runs
 * over a bulk outcome stream (the options it starts the stream with, outcomes in order, the stream's stop).
 */
import { describe, expect, it } from "vitest";
import { runPass, stopOf } from "../src/cli/passes/stream.js";
import type { BulkOutcome, ScheduleOptions } from "../src/core/scheduler.js";
import {
  AuthenticationError,
  PodApiError,
  PodError,
  PodForbiddenError,
  PodNetworkError,
  PodUnauthorizedError,
} from "../src/index.js";

const PATH = "/v1/admin/user/7/features/update";
const call = { method: "POST", path: PATH, uid: "7", attempts: 1 };

/** The stop `error` is classified as: its kind, and the very error it carries. */
function expectStop(error: unknown, kind: "token" | "login" | "breaker") {
  const stop = stopOf(error);
  expect(stop?.kind).toBe(kind);
  expect(stop?.error).toBe(error);
}

describe("stopOf", () => {
  it("a refused token, a failed login and a tripped breaker stop the pass, each named", () => {
    expectStop(new PodUnauthorizedError({ ...call, status: 401 }), "token");
    expectStop(new AuthenticationError({ username: "bot", url: "https://a/login", status: 403, attempts: 1 }), "login");
    expectStop(new PodForbiddenError({ ...call, status: 403, circuitBreaker: "forbidden" }), "breaker");
    expectStop(new PodNetworkError({ ...call, timedOut: false, circuitBreaker: "unreachable" }), "breaker");
  });

  it("a 401 that tripped the session breaker is a refused token, not a breaker", () => {
    expectStop(new PodUnauthorizedError({ ...call, status: 401, circuitBreaker: "session" }), "token");
  });

  it("a row's own failure does not stop the pass", () => {
    expect(stopOf(new PodForbiddenError({ ...call, status: 403 }))).toBeUndefined();
    expect(stopOf(new PodApiError({ ...call, status: 404 }))).toBeUndefined();
    expect(stopOf(new PodError("no breaker"))).toBeUndefined();
    expect(stopOf(new Error("plain"))).toBeUndefined();
    expect(stopOf(undefined)).toBeUndefined();
  });
});

describe("runPass", () => {
  const outcomes: BulkOutcome<string>[] = [
    { status: "succeeded", uid: "1", input: "a" },
    { status: "failed", uid: "2", input: "b", error: new Error("boom") },
    { status: "notAttempted", uid: "3", input: "c" },
  ];

  it("starts the stream with the command's options, hands over every outcome in order, returns its stop", async () => {
    const signal = new AbortController().signal;
    const progress = { update: () => {} };
    const stop = new PodError("breaker");
    let started: ScheduleOptions | undefined;
    const seen: BulkOutcome<string>[] = [];
    const stoppedBy = await runPass(
      async function* (options) {
        started = options;
        yield* outcomes;
        return { stoppedBy: stop };
      },
      { concurrency: 7, signal, progress },
      (outcome) => seen.push(outcome),
    );
    expect(started).toEqual({ concurrency: 7, signal, onProgress: progress.update, progressIntervalMs: 200 });
    expect(started?.signal).toBe(signal);
    expect(started?.onProgress).toBe(progress.update);
    expect(seen).toEqual(outcomes);
    expect(stoppedBy).toBe(stop);
  });

  it("without progress or a stop: no onProgress, and undefined at the end", async () => {
    let started: ScheduleOptions | undefined;
    const stoppedBy = await runPass(
      async function* (options) {
        started = options;
        yield* outcomes;
        return undefined;
      },
      { concurrency: 1, signal: new AbortController().signal, progress: undefined },
      () => {},
    );
    expect(started?.onProgress).toBeUndefined();
    expect(stoppedBy).toBeUndefined();
  });

  it("an outcome's handler that throws rejects the pass, and no later outcome is pulled", async () => {
    let pulled = 0;
    const run = runPass(
      async function* () {
        for (const outcome of outcomes) {
          pulled++;
          yield outcome;
        }
        return {};
      },
      { concurrency: 1, signal: new AbortController().signal, progress: undefined },
      () => {
        throw new Error("report not writable");
      },
    );
    await expect(run).rejects.toThrow("report not writable");
    expect(pulled).toBe(1);
  });
});
