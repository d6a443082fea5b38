/**
 * The answer body cap (src/core/answer-body.ts) read directly, as both transports use it: what is read, what is
 * refused and how the refusal is worded, each content encoding the pod might send anyway, and the turns that keep
 * at most two large answers in memory. test/hardening.test.ts covers the same cap end to end through a client.
 */
import { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  AnswerTooLargeError,
  DEFAULT_MAX_ANSWER_BYTES,
  LargeAnswerTurns,
  readFetchBody,
  readUndiciBody,
  SMALL_ANSWER_BYTES,
  type UndiciAnswer,
} from "../src/core/answer-body.js";
import { AttemptSignal } from "../src/core/transport.js";

const KiB = 1024;
const TEXT = '[{"entitlment":"canCreatePublicRoom","enabled":true}]';

/** An undici answer whose body streams `chunks`, as `request()` gives one. */
function undiciAnswer(chunks: Buffer[], headers: UndiciAnswer["headers"] = {}, statusCode = 200) {
  const body = Readable.from(chunks) as UndiciAnswer["body"];
  body.text = async () => {
    const parts: Buffer[] = [];
    for await (const part of body) parts.push(part as Buffer);
    return Buffer.concat(parts).toString("utf8");
  };
  return { statusCode, headers, body } satisfies UndiciAnswer;
}

async function refusal(promise: Promise<unknown>): Promise<AnswerTooLargeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AnswerTooLargeError);
  return error as AnswerTooLargeError;
}

/** Whether a promise is still pending after the event loop had a chance to settle it. */
async function pending(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  await delay(20);
  return !settled;
}

describe("the refusal's words", () => {
  it.each([
    [DEFAULT_MAX_ANSWER_BYTES, "8 MiB"],
    [1.5 * KiB * KiB, "1.5 MiB"],
    [KiB * KiB + KiB, "1025 KiB"],
    [KiB * KiB, "1 MiB"],
    [64 * KiB, "64 KiB"],
    [2 * KiB, "2 KiB"],
    [KiB, "1 KiB"],
    [1536, "1,536 bytes"],
    [1000, "1,000 bytes"],
  ])("a limit of %d bytes is named %s", (limit, words) => {
    const error = new AnswerTooLargeError(200, {}, limit, "received");
    expect(error.message).toBe(`the answer is larger than ${words}`);
    expect(error.detail).toBe(
      `the answer is larger than ${words}, the limit of an answer (option maxAnswerBytes): it was not read further`,
    );
  });

  it("says how it was found: by its length, while receiving, or while inflating", () => {
    const how = (found: AnswerTooLargeError["found"]) => new AnswerTooLargeError(200, {}, 2048, found).detail;
    expect(how("declared")).toMatch(/: its Content-Length says so, and it was not read$/);
    expect(how("received")).toMatch(/: it was not read further$/);
    expect(how("inflated")).toMatch(/: once inflated \(it was compressed\); it was not inflated further$/);
    expect(new AnswerTooLargeError(503, { a: "b" }, 2048, "declared")).toMatchObject({
      name: "AnswerTooLargeError",
      status: 503,
      headers: { a: "b" },
      limit: 2048,
      found: "declared",
    });
  });
});

describe("readUndiciBody", () => {
  it("reads a small answer with or without a length, one chunk or several", async () => {
    const one = undiciAnswer([Buffer.from(TEXT)], { "content-length": String(TEXT.length) });
    expect(await readUndiciBody(one, 2048)).toBe(TEXT);
    const parts = undiciAnswer([Buffer.from(TEXT.slice(0, 10)), Buffer.from(TEXT.slice(10))]);
    expect(await readUndiciBody(parts, 2048)).toBe(TEXT);
    // A multi-byte character split across chunks comes out whole.
    const euro = Buffer.from('["€"]');
    expect(await readUndiciBody(undiciAnswer([euro.subarray(0, 3), euro.subarray(3)]), 2048)).toBe('["€"]');
  });

  it("refuses a Content-Length over the limit without reading, and closes the body", async () => {
    const answer = undiciAnswer([Buffer.from(TEXT)], { "content-length": "2049" }, 503);
    const error = await refusal(readUndiciBody(answer, 2048));
    expect(error).toMatchObject({ status: 503, limit: 2048, found: "declared" });
    expect(answer.body.destroyed).toBe(true);
  });

  it("a Content-Length at the limit is read; one given twice counts by its first; spaces are allowed", async () => {
    const at = "x".repeat(2048);
    expect(await readUndiciBody(undiciAnswer([Buffer.from(at)], { "content-length": "2048" }), 2048)).toBe(at);
    expect(await readUndiciBody(undiciAnswer([Buffer.from(TEXT)], { "content-length": [" 53 ", "99999"] }), 2048)).toBe(
      TEXT,
    );
    const twice = undiciAnswer([Buffer.from(TEXT)], { "content-length": ["99999", "53"] });
    expect(await refusal(readUndiciBody(twice, 2048))).toMatchObject({ found: "declared" });
  });

  it("a Content-Length that is not a number is ignored: the bytes received are counted", async () => {
    const over = undiciAnswer([Buffer.alloc(1500, "x"), Buffer.alloc(1500, "x")], { "content-length": "12abc" });
    expect(await refusal(readUndiciBody(over, 2048))).toMatchObject({ found: "received" });
    expect(over.body.destroyed).toBe(true);
    const fine = undiciAnswer([Buffer.from(TEXT)], { "content-length": "-5" });
    expect(await readUndiciBody(fine, 2048)).toBe(TEXT);
  });

  it("cuts an answer without a length one byte past the limit, and reads one at it", async () => {
    const at = [Buffer.alloc(1024, "a"), Buffer.alloc(1024, "b")];
    expect(await readUndiciBody(undiciAnswer(at), 2048)).toBe("a".repeat(1024) + "b".repeat(1024));
    const over = undiciAnswer([...at, Buffer.from("c")]);
    expect(await refusal(readUndiciBody(over, 2048))).toMatchObject({ status: 200, found: "received" });
    expect(over.body.destroyed).toBe(true);
  });

  it.each([
    ["gzip", "", gzipSync],
    ["x-gzip", "", gzipSync],
    ["GZip", "", gzipSync],
    ["br", "", brotliCompressSync],
    ["deflate", "zlib-wrapped", deflateSync],
    ["deflate", "raw, as some servers send it", deflateRawSync],
  ] as const)("inflates %s %s, with or without a length", async (encoding, _how, compress) => {
    const body = compress(Buffer.from(TEXT));
    expect(await readUndiciBody(undiciAnswer([body], { "content-encoding": encoding }), 2048)).toBe(TEXT);
    const headers = { "content-encoding": encoding, "content-length": String(body.length) };
    expect(await readUndiciBody(undiciAnswer([body], headers), 2048)).toBe(TEXT);
  });

  it("undoes several encodings last first; identity is no encoding; a header given twice counts both", async () => {
    const twice = gzipSync(brotliCompressSync(Buffer.from(TEXT)));
    expect(await readUndiciBody(undiciAnswer([twice], { "content-encoding": "br, gzip" }), 2048)).toBe(TEXT);
    expect(await readUndiciBody(undiciAnswer([twice], { "content-encoding": ["br", "gzip"] }), 2048)).toBe(TEXT);
    expect(await readUndiciBody(undiciAnswer([Buffer.from(TEXT)], { "content-encoding": " identity " }), 2048)).toBe(
      TEXT,
    );
    const withIdentity = { "content-encoding": "identity, gzip,", "content-length": String(gzipSync(TEXT).length) };
    expect(await readUndiciBody(undiciAnswer([gzipSync(TEXT)], withIdentity), 2048)).toBe(TEXT);
  });

  it.each([
    ["gzip", "", gzipSync],
    ["br", "", brotliCompressSync],
    ["deflate", "zlib-wrapped", deflateSync],
    ["deflate", "raw", deflateRawSync],
  ] as const)("stops inflating %s %s at the limit: a bomb is refused as inflated", async (encoding, _how, compress) => {
    const bomb = compress(Buffer.alloc(1024 * KiB, "["));
    expect(bomb.length).toBeLessThan(2048);
    const answer = undiciAnswer([bomb], { "content-encoding": encoding, "content-length": String(bomb.length) });
    expect(await refusal(readUndiciBody(answer, 2048))).toMatchObject({ found: "inflated", limit: 2048 });
    // One byte under the limit inflates fine.
    const fits = compress(Buffer.alloc(2048, "["));
    expect(await readUndiciBody(undiciAnswer([fits], { "content-encoding": encoding }), 2048)).toBe("[".repeat(2048));
  });

  it("an encoding it does not know, or a body that is not what it claims, is given as it came", async () => {
    expect(await readUndiciBody(undiciAnswer([Buffer.from(TEXT)], { "content-encoding": "zstd" }), 2048)).toBe(TEXT);
    expect(await readUndiciBody(undiciAnswer([Buffer.from(TEXT)], { "content-encoding": "gzip" }), 2048)).toBe(TEXT);
    expect(await readUndiciBody(undiciAnswer([Buffer.from(TEXT)], { "content-encoding": "br" }), 2048)).toBe(TEXT);
    // Undone up to the encoding it does not know: gzip (last) is undone, zstd then stops it.
    const gz = gzipSync(Buffer.from(TEXT));
    expect(await readUndiciBody(undiciAnswer([gz], { "content-encoding": "zstd, gzip" }), 2048)).toBe(TEXT);
  });

  it("past 64 KiB, reading waits for a turn, and gives it back once read", async () => {
    const turns = new LargeAnswerTurns(1);
    let other = await turns.take();
    const big = "x".repeat(SMALL_ANSWER_BYTES + 1);
    const answers = [
      undiciAnswer([Buffer.from(big)], { "content-length": String(big.length) }),
      undiciAnswer([Buffer.from(big.slice(0, SMALL_ANSWER_BYTES)), Buffer.from(big.slice(SMALL_ANSWER_BYTES))]),
      undiciAnswer([gzipSync(TEXT)], { "content-encoding": "gzip" }), // inflating takes a turn too
    ];
    for (const answer of answers) {
      const reading = readUndiciBody(answer, DEFAULT_MAX_ANSWER_BYTES, turns);
      expect(await pending(reading)).toBe(true);
      other(); // the turn frees…
      expect(await reading).toHaveLength(answer === answers[2] ? TEXT.length : big.length);
      // …and comes back once the answer is read: the next take is at once.
      const again = turns.take();
      expect(await pending(again)).toBe(false);
      (await again)();
      other = await turns.take(); // held for the next answer
    }
  });

  it("a small answer, with or without a length, does not wait for a turn", async () => {
    const turns = new LargeAnswerTurns(1);
    await turns.take();
    const small = "y".repeat(SMALL_ANSWER_BYTES);
    const declared = undiciAnswer([Buffer.from(small)], { "content-length": String(small.length) });
    expect(await readUndiciBody(declared, DEFAULT_MAX_ANSWER_BYTES, turns)).toBe(small);
    expect(await readUndiciBody(undiciAnswer([Buffer.from(small)]), DEFAULT_MAX_ANSWER_BYTES, turns)).toBe(small);
  });

  it("a refused answer gives its turn back", async () => {
    const turns = new LargeAnswerTurns(1);
    const chunks = [Buffer.alloc(SMALL_ANSWER_BYTES + 1, "z"), Buffer.alloc(SMALL_ANSWER_BYTES, "z")];
    await refusal(readUndiciBody(undiciAnswer(chunks), SMALL_ANSWER_BYTES + 2, turns));
    expect(await pending(turns.take())).toBe(false);
  });
});

describe("readFetchBody", () => {
  const stream = (chunks: Uint8Array[]) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk);
        controller.close();
      },
    });

  it("reads a body as text; a bodiless answer is empty", async () => {
    expect(await readFetchBody(new Response(TEXT), 2048)).toBe(TEXT);
    const euro = new TextEncoder().encode('["€"]');
    expect(await readFetchBody(new Response(stream([euro.subarray(0, 3), euro.subarray(3)])), 2048)).toBe('["€"]');
    expect(await readFetchBody(new Response(null, { status: 204 }), 2048)).toBe("");
  });

  it("refuses a Content-Length over the limit before reading", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(10));
      },
    });
    const answer = new Response(body, { status: 502, headers: { "content-length": "2049", "x-trace-id": "t-1" } });
    const error = await refusal(readFetchBody(answer, 2048));
    expect(error).toMatchObject({ status: 502, found: "declared", headers: { "x-trace-id": "t-1" } });
    expect(pulled).toBeLessThanOrEqual(1); // the stream's own first pull, nothing read
    const at = new Response("x".repeat(2048), { headers: { "content-length": "2048" } });
    expect(await readFetchBody(at, 2048)).toBe("x".repeat(2048));
  });

  it("cuts a stream one byte past the limit (received, or inflated when it was compressed); reads one at it", async () => {
    const at = [new Uint8Array(1024).fill(0x61), new Uint8Array(1024).fill(0x61)];
    expect(await readFetchBody(new Response(stream(at)), 2048)).toBe("a".repeat(2048));
    const over = [...at, new Uint8Array(1)];
    expect(await refusal(readFetchBody(new Response(stream(over)), 2048))).toMatchObject({ found: "received" });
    const inflated = new Response(stream(over), { headers: { "content-encoding": "gzip" } });
    expect(await refusal(readFetchBody(inflated, 2048))).toMatchObject({ found: "inflated" });
    const identity = new Response(stream(over), { headers: { "content-encoding": "identity" } });
    expect(await refusal(readFetchBody(identity, 2048))).toMatchObject({ found: "received" });
  });

  it("a double without a stream is read by its text(), counted in bytes", async () => {
    const double = (text: string) =>
      ({ status: 200, headers: new Headers(), body: null, text: async () => text }) as unknown as Response;
    expect(await readFetchBody(double(TEXT), 2048)).toBe(TEXT);
    expect(await readFetchBody(double("é".repeat(1024)), 2048)).toBe("é".repeat(1024)); // 2,048 bytes
    expect(await refusal(readFetchBody(double(`${"é".repeat(1024)}x`), 2048))).toMatchObject({ found: "received" });
  });

  it("past 64 KiB, reading waits for a turn; an abort while waiting rejects with its reason", async () => {
    const turns = new LargeAnswerTurns(1);
    const other = await turns.take();
    const chunks = [new Uint8Array(SMALL_ANSWER_BYTES).fill(0x62), new Uint8Array(1).fill(0x62)];
    const reading = readFetchBody(new Response(stream(chunks)), DEFAULT_MAX_ANSWER_BYTES, turns);
    expect(await pending(reading)).toBe(true);
    other();
    expect(await reading).toBe("b".repeat(SMALL_ANSWER_BYTES + 1));
    expect(await pending(turns.take())).toBe(false); // given back once read

    const signal = new AttemptSignal();
    const waiting = readFetchBody(new Response(stream(chunks)), DEFAULT_MAX_ANSWER_BYTES, turns, signal);
    expect(await pending(waiting)).toBe(true);
    signal.abort(new Error("timed out"));
    await expect(waiting).rejects.toThrow("timed out");
    // At 64 KiB exactly, no turn is needed.
    const small = new Response(stream([new Uint8Array(SMALL_ANSWER_BYTES).fill(0x63)]));
    expect(await readFetchBody(small, DEFAULT_MAX_ANSWER_BYTES, turns)).toHaveLength(SMALL_ANSWER_BYTES);
  });
});

describe("LargeAnswerTurns", () => {
  it("gives two turns at once by default; the next waits for a release, in the order asked", async () => {
    const turns = new LargeAnswerTurns();
    const first = await turns.take();
    await turns.take();
    const order: string[] = [];
    const third = turns.take().then((release) => {
      order.push("third");
      return release;
    });
    const fourth = turns.take().then((release) => {
      order.push("fourth");
      return release;
    });
    expect(await pending(third)).toBe(true);
    first();
    first(); // a second release of the same turn frees nothing more
    expect(await pending(third)).toBe(false);
    expect(await pending(fourth)).toBe(true);
    (await third)();
    await fourth;
    expect(order).toEqual(["third", "fourth"]);
  });

  it("a waiter that aborts leaves the queue: the turn goes to the next one, and none is lost", async () => {
    const turns = new LargeAnswerTurns(1);
    const held = await turns.take();
    const signal = new AttemptSignal();
    const aborted = turns.take(signal);
    const next = turns.take();
    signal.abort("gone");
    await expect(aborted).rejects.toBe("gone");
    held();
    const release = await next;
    release();
    // Back to one free turn: taken at once, and only one.
    await turns.take();
    expect(await pending(turns.take())).toBe(true);
  });

  it("an already aborted signal is refused at once when it would wait; a granted waiter stops listening", async () => {
    const turns = new LargeAnswerTurns(1);
    const signal = new AttemptSignal();
    signal.abort("early");
    const free = await turns.take(signal); // a free turn is given whatever the signal
    await expect(turns.take(signal)).rejects.toBe("early");
    const live = new AttemptSignal();
    const waiting = turns.take(live);
    free();
    const granted = await waiting;
    live.abort("late"); // after the grant: nothing happens to the turn
    granted();
    await turns.take();
  });
});
