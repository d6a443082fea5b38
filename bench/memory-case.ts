/**
 * Memory on streamed input, in its own process:
 * `node --expose-gc bench/memory-case.js <items> <concurrency>` (compiled, see `lib.ts`).
 * Feeds `items` feature updates from an async generator through `pod.bulk.updateFeatures`, with a stubbed `fetch`
 * that answers at once (so the pipeline, not a server, is the bottleneck), and records the peak RSS (the kernel's
 * high-water mark, `process.resourceUsage().maxRSS`) when the generator hands out the 100,000th item and at the end.
 * Prints `{ items, seconds, rssStartMB, peak100kMB, peakEndMB, heapEndMB, succeeded }` as its last line.
 */
import { createPodClient } from "../src/index.js";
import { BASE_UID, FEATURE } from "./lib.js";

const [itemsArg = "1000000", concurrencyArg = "300"] = process.argv.slice(2);
const total = Number(itemsArg);
const concurrency = Number(concurrencyArg);
const CHECKPOINT = Math.min(100_000, total);

const MB = 1024 * 1024;
const peakMB = () => (process.resourceUsage().maxRSS * 1024) / MB;

const SUCCESS = JSON.stringify({ format: "TEXT", message: "OK" });
const noHeaders = new Headers({ "content-type": "application/json" });
// Answers at once without building a WHATWG Response per call: the pipeline reads status, headers and text().
const stub = async (_input: string, _init: RequestInit): Promise<Response> =>
  ({ status: 200, ok: true, headers: noHeaders, text: async () => SUCCESS }) as unknown as Response;

const pod = createPodClient({
  baseUrl: "http://pod.invalid/pod",
  sessionToken: "bench-token",
  fetch: stub,
  insecureHttp: true,
});

let peak100k = 0;
async function* items() {
  for (let i = 0; i < total; i++) {
    if (i === CHECKPOINT) peak100k = peakMB();
    yield { uid: BASE_UID + i, features: [{ entitlement: FEATURE, enabled: i % 2 === 0 }] };
  }
}

globalThis.gc?.();
const rssStartMB = process.memoryUsage.rss() / MB;
const started = performance.now();
const report = await pod.bulk.updateFeatures(items(), { concurrency });
const seconds = (performance.now() - started) / 1000;
if (peak100k === 0) peak100k = peakMB();
const peakEndMB = peakMB();
globalThis.gc?.();
console.log(
  JSON.stringify({
    items: total,
    seconds,
    itemsPerSecond: total / seconds,
    rssStartMB,
    peak100kMB: peak100k,
    peakEndMB,
    heapEndMB: process.memoryUsage().heapUsed / MB,
    succeeded: report.succeeded,
  }),
);
