/**
 * One bulk-throughput case in its own process:
 * `node bench/throughput-case.js <case> <url> <token> <calls> <concurrency> <warmup>` (compiled).
 * Sends `warmup` calls (JIT, connections), then times `calls` `features/update` calls at `concurrency`, and prints
 * `{ case, calls, ms, callsPerSecond, errors }` as its last line.
 */
import createClient from "openapi-fetch";
import pMap from "p-map";
import { Agent, request } from "undici";
import type { paths } from "../generated/pod-api.js";
import { createPodClient } from "../src/index.js";
import { BASE_UID, benchClientOptions, CASES, type CaseName, FEATURE } from "./lib.js";

const [name, url, token, callsArg, concurrencyArg, warmupArg] = process.argv.slice(2) as [
  CaseName,
  string,
  string,
  string,
  string,
  string,
];
const calls = Number(callsArg);
const concurrency = Number(concurrencyArg);
const warmup = Number(warmupArg);

const path = (uid: number) => `/v1/admin/user/${uid}/features/update`;
const wireBody = JSON.stringify([{ entitlment: FEATURE, enabled: true }]);
const uids = (count: number, offset: number) => Array.from({ length: count }, (_, i) => BASE_UID + offset + i);

/** Runs `count` calls; resolves to the number of calls that did not get a 2xx. */
type Runner = (count: number, offset: number) => Promise<number>;

function rawFetch(): Runner {
  // What a customer writes today: global fetch, p-map.
  return async (count, offset) => {
    let errors = 0;
    await pMap(
      uids(count, offset),
      async (uid) => {
        const res = await fetch(url + path(uid), {
          method: "POST",
          headers: { sessionToken: token, "content-type": "application/json", accept: "application/json" },
          body: wireBody,
        });
        await res.text();
        if (!res.ok) errors++;
      },
      { concurrency },
    );
    return errors;
  };
}

function bareOpenapiFetch(): Runner {
  const client = createClient<paths>({ baseUrl: url });
  return async (count, offset) => {
    let errors = 0;
    await pMap(
      uids(count, offset),
      async (uid) => {
        const { error, response } = await client.POST("/v1/admin/user/{uid}/features/update", {
          params: { path: { uid }, header: { sessionToken: token } },
          body: [{ entitlment: FEATURE, enabled: true }],
        });
        if (error !== undefined || !response.ok) errors++;
      },
      { concurrency },
    );
    return errors;
  };
}

async function facadeBulk(): Promise<Runner> {
  const pod = createPodClient({ baseUrl: url, sessionToken: token, ...(await benchClientOptions()) });
  return async (count, offset) => {
    const items = (function* () {
      for (let i = 0; i < count; i++) {
        yield { uid: BASE_UID + offset + i, features: [{ entitlement: FEATURE, enabled: true }] };
      }
    })();
    const report = await pod.bulk.updateFeatures(items, { concurrency });
    return report.total - report.succeeded;
  };
}

function undiciRequest(): Runner {
  const dispatcher = new Agent({ connections: concurrency });
  return async (count, offset) => {
    let errors = 0;
    await pMap(
      uids(count, offset),
      async (uid) => {
        const res = await request(url + path(uid), {
          method: "POST",
          headers: { sessionToken: token, "content-type": "application/json", accept: "application/json" },
          body: wireBody,
          dispatcher,
        });
        await res.body.text();
        if (res.statusCode < 200 || res.statusCode >= 300) errors++;
      },
      { concurrency },
    );
    return errors;
  };
}

const runners: Record<CaseName, () => Runner | Promise<Runner>> = {
  "raw-fetch": rawFetch,
  "openapi-fetch": bareOpenapiFetch,
  "facade-bulk": facadeBulk,
  "undici-request": undiciRequest,
};

const factory = runners[name];
if (!factory) throw new Error(`unknown case ${name}; one of ${CASES.join(", ")}`);
const run = await factory();
const warmupErrors = await run(warmup, 0);
const started = performance.now();
const errors = await run(calls, 0);
const ms = performance.now() - started;
console.log(
  JSON.stringify({ case: name, calls, ms, callsPerSecond: (calls * 1000) / ms, errors: errors + warmupErrors }),
);
process.exit(0);
