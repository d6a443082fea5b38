/**
 * The small parts of src/transport.ts the pipeline relies on: the per-attempt abort signal (undici's EventEmitter-like
 * `signal`), reading a header of an answer, and the adapter of a user's `fetch` (what it is called with, how the
 * attempt's abort reaches it, what comes back). The undici transport itself is in test/transport.test.ts.
 */
import { describe, expect, it } from "vitest";
import { AnswerTooLargeError } from "../src/core/answer-body.js";
import { AttemptSignal, type FetchLike, fetchTransport, headerValue } from "../src/core/transport.js";

describe("AttemptSignal", () => {
  it("abort() sets aborted and reason and calls each listener once, in order; a second abort changes nothing", () => {
    const signal = new AttemptSignal();
    expect(signal.aborted).toBe(false);
    expect(signal.reason).toBeUndefined();
    const calls: string[] = [];
    signal.once("abort", () => calls.push("a"));
    signal.on("abort", () => calls.push("b"));
    const first = new Error("timed out");
    signal.abort(first);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(first);
    expect(calls).toStrictEqual(["a", "b"]);
    signal.abort(new Error("second"));
    expect(signal.reason).toBe(first);
    expect(calls).toStrictEqual(["a", "b"]);
  });

  it("a listener removed (removeListener or off) is not called; the others are", () => {
    const signal = new AttemptSignal();
    const calls: string[] = [];
    const a = () => calls.push("a");
    const b = () => calls.push("b");
    const c = () => calls.push("c");
    expect(signal.once("abort", a)).toBe(signal);
    signal.once("abort", b);
    signal.once("abort", c);
    expect(signal.removeListener("abort", b)).toBe(signal);
    expect(signal.off("abort", a)).toBe(signal);
    signal.abort("stop");
    expect(calls).toStrictEqual(["c"]);
  });

  it("removing a listener that was never added removes nothing, before or after others were added", () => {
    const signal = new AttemptSignal();
    const stranger = () => {};
    signal.removeListener("abort", stranger);
    const calls: string[] = [];
    signal.once("abort", () => calls.push("a"));
    signal.once("abort", () => calls.push("b"));
    signal.removeListener("abort", stranger);
    signal.abort("stop");
    expect(calls).toStrictEqual(["a", "b"]);
  });

  it("listeners are dropped once it aborted: removing one then is harmless", () => {
    const signal = new AttemptSignal();
    const a = () => {};
    signal.once("abort", a);
    signal.abort("stop");
    expect(() => signal.removeListener("abort", a)).not.toThrow();
  });
});

describe("headerValue", () => {
  it("a single value as is, several joined with a comma, a missing one undefined", () => {
    const response = { status: 200, body: "", headers: { "retry-after": "3", "set-cookie": ["a=1", "b=2"] } };
    expect(headerValue(response, "retry-after")).toBe("3");
    expect(headerValue(response, "set-cookie")).toBe("a=1, b=2");
    expect(headerValue(response, "x-trace-id")).toBeUndefined();
  });
});

describe("fetchTransport", () => {
  function recordingFetch(answer: () => Response | Promise<Response> = () => new Response("[]")) {
    const calls: { input: string; init: RequestInit }[] = [];
    const fetchFn: FetchLike = async (input, init) => {
      calls.push({ input, init });
      return answer();
    };
    return { calls, fetchFn };
  }

  it("calls the fetch with the URL, method, headers and body, and returns status, lower-case headers and text", async () => {
    const { calls, fetchFn } = recordingFetch(
      () => new Response('{"ok":true}', { status: 201, headers: { "X-Trace-Id": "abc", "Content-Type": "text/json" } }),
    );
    const transport = fetchTransport(fetchFn);
    const answer = await transport({
      url: "https://acme.pod.test/pod/v1/x",
      method: "POST",
      headers: { sessionToken: "t", "content-type": "application/json" },
      body: '{"a":1}',
    });
    expect(answer).toStrictEqual({
      status: 201,
      headers: { "x-trace-id": "abc", "content-type": "text/json" },
      body: '{"ok":true}',
    });
    expect(calls).toStrictEqual([
      {
        input: "https://acme.pod.test/pod/v1/x",
        init: {
          method: "POST",
          headers: { sessionToken: "t", "content-type": "application/json" },
          body: '{"a":1}',
          signal: null,
          redirect: "manual",
        },
      },
    ]);
  });

  it("no body is sent as null", async () => {
    const { calls, fetchFn } = recordingFetch();
    await fetchTransport(fetchFn)({ url: "https://h.test/", method: "GET", headers: {} });
    expect(calls[0]?.init.body).toBeNull();
  });

  it("the attempt's signal becomes a real AbortSignal: already aborted, or aborting later, with its reason", async () => {
    const { calls, fetchFn } = recordingFetch();
    const transport = fetchTransport(fetchFn);
    const done = new AttemptSignal();
    done.abort("timed out");
    await transport({ url: "https://h.test/", method: "GET", headers: {}, signal: done });
    const first = calls[0]?.init.signal as AbortSignal;
    expect(first).toBeInstanceOf(AbortSignal);
    expect(first.aborted).toBe(true);
    expect(first.reason).toBe("timed out");

    const later = new AttemptSignal();
    await transport({ url: "https://h.test/", method: "GET", headers: {}, signal: later });
    const second = calls[1]?.init.signal as AbortSignal;
    expect(second.aborted).toBe(false);
    const reason = new Error("caller aborted");
    later.abort(reason);
    expect(second.aborted).toBe(true);
    expect(second.reason).toBe(reason);
  });

  it("a fetch that rejects rejects the transport with its error; close() leaves the fetch's connections alone", async () => {
    const failure = new TypeError("fetch failed");
    const transport = fetchTransport(async () => {
      throw failure;
    });
    await expect(transport({ url: "https://h.test/", method: "GET", headers: {} })).rejects.toBe(failure);
    await expect(transport.close()).resolves.toBeUndefined();
    // Still usable: the fetch was not the client's to close.
    const { fetchFn } = recordingFetch();
    const other = fetchTransport(fetchFn);
    await other.close();
    await expect(other({ url: "https://h.test/", method: "GET", headers: {} })).resolves.toMatchObject({ status: 200 });
  });

  it("a fetch that followed a redirect: the answer says where it ended, and its body is not read", async () => {
    let read = false;
    const followed: FetchLike = async () =>
      ({
        status: 200,
        redirected: true,
        url: "https://evil.example/login",
        headers: new Headers({ "content-type": "application/json" }),
        body: { cancel: async () => {} },
        text: async () => {
          read = true;
          return "[]";
        },
      }) as unknown as Response;
    const answer = await fetchTransport(followed)({ url: "https://h.test/", method: "GET", headers: {} });
    expect(answer).toStrictEqual({
      status: 200,
      headers: { "content-type": "application/json" },
      body: "",
      redirected: "https://evil.example/login",
    });
    expect(read).toBe(false);
  });

  it("the answer's size limit is the request's maxBytes when given, else the default (8 MiB)", async () => {
    const { fetchFn } = recordingFetch(() => new Response("x".repeat(2_000)));
    const transport = fetchTransport(fetchFn);
    const error = await transport({ url: "https://h.test/", method: "GET", headers: {}, maxBytes: 1_000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AnswerTooLargeError);
    expect(error).toMatchObject({ status: 200, limit: 1_000 });
    await expect(transport({ url: "https://h.test/", method: "GET", headers: {} })).resolves.toMatchObject({
      body: "x".repeat(2_000),
    });
  });
});
