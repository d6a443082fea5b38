/**
 * Per-call CPU overhead in its own process: `node bench/overhead-case.js <first> <timeMs>` (compiled).
 * Both clients get the same stubbed `fetch` that answers at once, so only client-side work is measured: bare
 * openapi-fetch's POST against `pod.users.updateFeatures` (uid conversion, validation, mapping, the pipeline, error
 * handling). Prints `{ "openapi-fetch": opsPerSecond, facade: opsPerSecond }` as its last line.
 */
import createClient from "openapi-fetch";
import { Bench } from "tinybench";
import type { paths } from "../generated/pod-api.js";
import { createPodClient } from "../src/index.js";
import { BASE_UID, FEATURE } from "./lib.js";

const [first = "openapi-fetch", timeArg = "1500"] = process.argv.slice(2);
const time = Number(timeArg);

const SUCCESS = JSON.stringify({ format: "TEXT", message: "OK" });
const stub = async (_input: unknown, _init?: unknown): Promise<Response> =>
  new Response(SUCCESS, { status: 200, headers: { "content-type": "application/json" } });

const baseUrl = "http://pod.invalid/pod";
const token = "bench-token";
const bare = createClient<paths>({ baseUrl, fetch: stub });
const pod = createPodClient({ baseUrl, sessionToken: token, fetch: stub, insecureHttp: true });

let i = 0;
const tasks: Record<string, () => Promise<void>> = {
  "openapi-fetch": async () => {
    const { error } = await bare.POST("/v1/admin/user/{uid}/features/update", {
      params: { path: { uid: BASE_UID + (i++ % 1000) }, header: { sessionToken: token } },
      body: [{ entitlment: FEATURE, enabled: true }],
    });
    if (error !== undefined) throw new Error("unexpected error answer");
  },
  facade: async () => {
    await pod.users.updateFeatures(BASE_UID + (i++ % 1000), [{ entitlement: FEATURE, enabled: true }]);
  },
};

const order = first === "facade" ? ["facade", "openapi-fetch"] : ["openapi-fetch", "facade"];
const bench = new Bench({ time, warmupTime: 300 });
for (const name of order) bench.add(name, tasks[name] as () => Promise<void>);
await bench.run();

const result: Record<string, number> = {};
for (const task of bench.tasks) {
  const r = task.result;
  if (r.state !== "completed") throw new Error(`${task.name}: ${r.state} ${"error" in r ? String(r.error) : ""}`);
  result[task.name] = 1000 / r.period;
}
console.log(JSON.stringify(result));
