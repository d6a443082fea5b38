/**
 * Reading an answer's body with a bound on its size, for both transports. Pod admin answers are small (a user's
 * features, a page of 1,000 users: well under 1 MB); a body read whole whatever its size let one hostile or broken
 * answer take gigabytes (a 400 MB `listFeatures` took 2 GB, a 1 MB gzip bomb inflated past 1.2 GB). The bound
 * applies to the bytes received and, for a compressed answer, to the bytes it inflates to; reading stops as soon as
 * either passes it.
 */
import type { Readable } from "node:stream";
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from "node:zlib";

/**
 * The largest answer the client reads, in bytes, when `createPodClient({ maxAnswerBytes })` does not say: 8 MiB.
 *
 * @example
 * ```ts
 * console.log(DEFAULT_MAX_ANSWER_BYTES); // 8388608
 * ```
 */
export const DEFAULT_MAX_ANSWER_BYTES = 8 * 1024 * 1024;

/**
 * Thrown by a transport for an answer over the limit, with what was known of it: the pipeline turns it into a
 * `PodApiError` (the pod did answer) and does not retry (the same call would get the same answer).
 * @internal
 */
export class AnswerTooLargeError extends Error {
  override name = "AnswerTooLargeError";
  constructor(
    /** The answer's HTTP status. */
    readonly status: number,
    /** Its headers, lower-case names. */
    readonly headers: Record<string, string | string[] | undefined>,
    /** The limit it passed, in bytes. */
    readonly limit: number,
    /** How it was found: by its `Content-Length`, while receiving it, or while inflating it. */
    readonly found: "declared" | "received" | "inflated",
  ) {
    super(`the answer is larger than ${describeBytes(limit)}`);
  }

  /** The problem in words, for the `PodApiError`'s `podMessage`. */
  get detail(): string {
    const how =
      this.found === "declared"
        ? "its Content-Length says so, and it was not read"
        : this.found === "inflated"
          ? "once inflated (it was compressed); it was not inflated further"
          : "it was not read further";
    return `the answer is larger than ${describeBytes(this.limit)}, the limit of an answer (option maxAnswerBytes): ${how}`;
  }
}

/** An answer up to this size is read at once, whatever else is being read. */
export const SMALL_ANSWER_BYTES = 64 * 1024;
/** Answers over {@link SMALL_ANSWER_BYTES} a client reads at the same time; others wait for their turn. */
export const LARGE_ANSWERS_AT_ONCE = 2;

/** What an attempt's abort looks like to a wait: undici's EventEmitter-like signal or an AbortSignal. */
interface AbortLike {
  aborted: boolean;
  reason?: unknown;
  once(event: "abort", listener: () => void): unknown;
  removeListener(event: "abort", listener: () => void): unknown;
}

/**
 * The turns of large answers: a client reads at most {@link LARGE_ANSWERS_AT_ONCE} answers over
 * {@link SMALL_ANSWER_BYTES} at the same time, so the memory answers take stays bounded at any concurrency (about
 * `LARGE_ANSWERS_AT_ONCE × maxAnswerBytes` plus 64 KiB per call in flight), even when every answer is hostile. An
 * answer waiting for its turn is not read (its socket pushes back), and its attempt's timeout still runs.
 * @internal
 */
export class LargeAnswerTurns {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(turns = LARGE_ANSWERS_AT_ONCE) {
    this.#free = turns;
  }

  /** Resolves to a release function once a turn is free; rejects with the signal's reason if it aborts first. */
  take(signal?: AbortLike): Promise<() => void> {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const granted = () => {
        signal?.removeListener("abort", aborted);
        resolve(release);
      };
      const aborted = () => {
        const at = this.#waiting.indexOf(granted);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal?.reason);
      };
      signal?.once("abort", aborted);
      this.#waiting.push(granted);
    });
  }
}

/** `8 MiB`, `1.5 MiB`, or `1,000 bytes`. @internal */
export function describeBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (64 * 1024) === 0) return `${bytes / 1024 / 1024} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes.toLocaleString("en")} bytes`;
}

/** An answer of undici's `request()`, as far as reading its body goes. @internal */
export interface UndiciAnswer {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable & { text(): Promise<string> };
}

/**
 * The body of an undici answer as text, at most `limit` bytes received and, when the pod compressed it anyway (the
 * client never asks it to), at most `limit` bytes once inflated. Throws {@link AnswerTooLargeError} past either,
 * having destroyed the body (its connection is not reused). Past {@link SMALL_ANSWER_BYTES} (or to inflate), reading
 * waits for one of the client's `turns`.
 * @internal
 */
export async function readUndiciBody(
  res: UndiciAnswer,
  limit: number,
  turns?: LargeAnswerTurns,
  signal?: AbortLike,
): Promise<string> {
  const encoding = contentEncoding(res.headers["content-encoding"]);
  const declared = contentLength(res.headers["content-length"]);
  if (declared !== undefined && declared > limit) {
    discard(res.body);
    throw new AnswerTooLargeError(res.statusCode, res.headers, limit, "declared");
  }
  // The usual answer: its length known, small, not compressed (undici refuses a body longer than it declared).
  if (declared !== undefined && declared <= SMALL_ANSWER_BYTES && encoding.length === 0) return res.body.text();
  let release: (() => void) | undefined;
  const turn = () => (turns ? turns.take(signal) : Promise.resolve(() => {}));
  // Reading may stop early (too large, aborted): undici then reports the body "aborted", which is expected.
  res.body.on("error", ignore);
  try {
    if (declared !== undefined && encoding.length === 0) {
      release = await turn();
      return await res.body.text();
    }
    const chunks: Buffer[] = [];
    let received = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > limit) throw new AnswerTooLargeError(res.statusCode, res.headers, limit, "received");
      chunks.push(chunk);
      // Past the small size, wait for a turn before reading on (the stream is not read meanwhile).
      if (release === undefined && received > SMALL_ANSWER_BYTES) release = await turn();
    }
    const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
    if (encoding.length === 0) return raw.toString("utf8");
    release ??= await turn(); // inflating may take up to the limit
    return decode(raw, encoding, limit, res.statusCode, res.headers).toString("utf8");
  } catch (error) {
    discard(res.body); // not read to its end: its connection is closed, not reused
    throw error;
  } finally {
    release?.();
  }
}

/**
 * The body of a `fetch` answer as text, at most `limit` bytes. `fetch` inflates a compressed answer itself as it is
 * read, so the count is of inflated bytes, and reading stops (the stream cancelled, no more inflated) once it passes
 * the limit; a `Content-Length` over the limit (the compressed size, when compressed) is refused before any read.
 * Past {@link SMALL_ANSWER_BYTES}, reading waits for one of the client's `turns`.
 * @internal
 */
export async function readFetchBody(
  res: Response,
  limit: number,
  turns?: LargeAnswerTurns,
  signal?: AbortLike,
): Promise<string> {
  const headers = Object.fromEntries(res.headers);
  const declared = contentLength(res.headers.get("content-length") ?? undefined);
  if (declared !== undefined && declared > limit) {
    await res.body?.cancel().catch(() => {});
    throw new AnswerTooLargeError(res.status, headers, limit, "declared");
  }
  if (typeof res.body?.getReader !== "function") {
    // No stream (a bodiless answer, or a test double's `{ status, headers, text() }`): its text, checked after.
    const text = await res.text();
    if (Buffer.byteLength(text) > limit) throw new AnswerTooLargeError(res.status, headers, limit, "received");
    return text;
  }
  const compressed = contentEncoding(res.headers.get("content-encoding") ?? undefined).length > 0;
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  let release: (() => void) | undefined;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      if (received > limit) {
        await reader.cancel().catch(() => {});
        throw new AnswerTooLargeError(res.status, headers, limit, compressed ? "inflated" : "received");
      }
      chunks.push(value);
      if (release === undefined && received > SMALL_ANSWER_BYTES && turns) {
        release = await turns.take(signal).catch(async (reason: unknown) => {
          await reader.cancel().catch(() => {});
          throw reason;
        });
      }
    }
    return Buffer.concat(chunks, received).toString("utf8");
  } finally {
    release?.();
  }
}

/**
 * Undoes the encodings (applied in order, so undone last first) with the limit on each output. On the main thread:
 * inflating to the limit takes a few milliseconds, and zlib's thread pool would leave its buffers in per-thread
 * malloc arenas, which a run of gzip bombs grew by tens of MB of RSS.
 */
function decode(
  raw: Buffer,
  encodings: string[],
  limit: number,
  status: number,
  headers: Record<string, string | string[] | undefined>,
): Buffer {
  let data = raw;
  for (const encoding of [...encodings].reverse()) {
    const options = { maxOutputLength: limit };
    try {
      if (encoding === "gzip" || encoding === "x-gzip") data = gunzipSync(data, options);
      else if (encoding === "br") data = brotliDecompressSync(data, options);
      else if (encoding === "deflate") {
        // HTTP's "deflate" is zlib-wrapped; some servers send it raw.
        const wrapped = data;
        try {
          data = inflateSync(wrapped, options);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw error;
          data = inflateRawSync(wrapped, options);
        }
      } else return data; // an encoding the client does not know: the text as it came, refused as not JSON
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
        throw new AnswerTooLargeError(status, headers, limit, "inflated");
      }
      return data; // not what it claims to be: refused as not JSON by the decoder
    }
  }
  return data;
}

/** Stops reading a body and closes its connection; undici's "aborted" error that follows is expected. */
function discard(body: Readable): void {
  body.on("error", ignore);
  if (!body.destroyed) body.destroy();
}

function ignore(): void {}

/** The encodings of a `Content-Encoding` header, lower case, `identity` left out. */
function contentEncoding(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(",") : value;
  return text
    .split(",")
    .map((encoding) => encoding.trim().toLowerCase())
    .filter((encoding) => encoding !== "" && encoding !== "identity");
}

function contentLength(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || !/^\d+$/.test(text.trim())) return undefined;
  return Number(text.trim());
}
