/**
 * The lookup cost in its own process: `node bench/directory-case.js <url> <token> <users>` (compiled).
 *
 * Resolves `users` synthetic emails (`user.<uid>@example.com`, which the simulated pod resolves to `<uid>`) with
 * `pod.users.lookup`, then writes one feature to each of the same users with `pod.bulk.updateFeatures`, and prints
 * `{ lookupUsersPerSecond, lookupCalls, writeUsersPerSecond }`: the baseline of the ratio is the write of the same
 * users, by the same client, in the same process.
 */
import { createPodClient } from "../src/index.js";

const [url, token, usersArg] = process.argv.slice(2) as [string, string, string];
const users = Number(usersArg);
const FIRST = 9_215_545_000_000n;
const pod = createPodClient({ baseUrl: url, sessionToken: token });
const emails = Array.from({ length: users }, (_, i) => `user.${FIRST + BigInt(i)}@example.com`);

const statsUrl = `${new URL(url).origin}/__simulator/stats`;
const lookups = async () =>
  ((await (await fetch(statsUrl)).json()) as { byOperation: Record<string, number> }).byOperation["GET /v3/users"] ?? 0;

// Warm-up: the JIT and the connection pool, on other users.
await pod.users.lookup({ emails: emails.slice(0, 1000).map((email) => email.replace("user.", "user.1")) });

const before = await lookups();
let started = performance.now();
const { users: found, notFound } = await pod.users.lookup({ emails });
const lookupMs = performance.now() - started;
const lookupCalls = (await lookups()) - before;
if (notFound.length > 0 || found.length !== users) throw new Error(`${notFound.length} emails were not resolved`);

started = performance.now();
const report = await pod.bulk.updateFeatures(
  found.map((user) => ({ uid: user.id, features: [{ entitlement: "canCreatePublicRoom", enabled: true }] })),
);
const writeMs = performance.now() - started;
if (report.succeeded !== users) throw new Error(`${users - report.succeeded} writes failed`);

console.log(
  JSON.stringify({
    lookupUsersPerSecond: users / (lookupMs / 1000),
    lookupCalls,
    writeUsersPerSecond: users / (writeMs / 1000),
  }),
);
await pod.close();
process.exit(0);
