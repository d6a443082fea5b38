/**
 * The resolution of users named by email or username (identities.ts) and the report's `unknownUser` lines, against
 * a stub of `pod.users.lookup`: chunks, call counts, case, unknown users, failures.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PodClient } from "../src/api/client.js";
import { Journal } from "../src/cli/files/report.js";
import { scanJournal } from "../src/cli/files/report-scan.js";
import { LookupError, RESOLVE_CHUNK, type ResolvedRecord, UserResolver } from "../src/cli/input/identities.js";
import type { SourceRecord } from "../src/cli/input/readers.js";
import { UsageError } from "../src/core/usage-error.js";
import type { UserQuery } from "../src/index.js";

/** A pod whose users are `user<n>@acme.com` / `user<n>` with uid 1000 + n; counts lookups and the values asked. */
function stubPod(options: { fail?: Error } = {}) {
  const calls: string[][] = [];
  const pod = {
    users: {
      async lookup(query: UserQuery) {
        if (options.fail) throw options.fail;
        const values = ("emails" in query ? query.emails : query.usernames) as string[];
        calls.push([...values]);
        const users = [];
        const notFound = [];
        for (const value of values) {
          const n = /^user(\d+)(@acme\.com)?$/i.exec(value);
          if (n)
            users.push({
              id: BigInt(1000 + Number(n[1])),
              emailAddress: `user${n[1]}@acme.com`,
              username: `user${n[1]}`,
            });
          else notFound.push(value);
        }
        return { users, notFound };
      },
    },
  } as unknown as PodClient;
  return { pod, calls };
}

async function* records(items: object[]): AsyncGenerator<SourceRecord<object>> {
  let line = 2;
  for (const item of items) yield { item, line: line++ };
}

async function collect(stream: AsyncIterable<ResolvedRecord<object>>) {
  const out: ResolvedRecord<object>[] = [];
  for await (const record of stream) out.push(record);
  return out;
}

describe("UserResolver", () => {
  it("replaces email and username by the uid, marks unknown users with a placeholder, passes uid items through", async () => {
    const { pod, calls } = stubPod();
    const resolver = new UserResolver(pod, { label: "in.csv" });
    const out = await collect(
      resolver.resolve(
        records([
          { email: "User1@ACME.com", features: [] },
          { email: "nobody@acme.com", features: [] },
          { email: "user1@acme.com", features: [] },
        ]),
      ),
    );
    expect(out).toEqual([
      {
        line: 2,
        item: { uid: "1001", features: [] },
        source: { item: { email: "User1@ACME.com", features: [] }, unknown: [] },
      },
      {
        line: 3,
        item: { uid: "9223372036854775807", features: [] },
        source: {
          item: { email: "nobody@acme.com", features: [] },
          unknown: [{ column: "email", value: "nobody@acme.com" }],
        },
      },
      {
        line: 4,
        item: { uid: "1001", features: [] },
        source: { item: { email: "user1@acme.com", features: [] }, unknown: [] },
      },
    ]);
    // One call; the two spellings of one email asked once.
    expect(calls).toEqual([["User1@ACME.com", "nobody@acme.com"]]);
    expect(resolver.stats).toEqual({ emails: 2, usernames: 0, found: 1, unknown: 1, calls: 1 });

    const uids = await collect(new UserResolver(undefined, { label: "in.csv" }).resolve(records([{ uid: "5" }])));
    expect(uids).toEqual([{ line: 2, item: { uid: "5" } }]);
  });

  it("resolves owners and delegates of one chunk in one email lookup; a delegate by uid stays", async () => {
    const { pod, calls } = stubPod();
    const resolver = new UserResolver(pod, { label: "in.csv" });
    const out = await collect(
      resolver.resolve(
        records([
          { username: "user2", delegateEmail: "user3@acme.com", action: "ADD" },
          { username: "user2", userId: "7", action: "ADD" },
          { username: "ghost", delegateEmail: "ghost@acme.com", action: "ADD" },
        ]),
      ),
    );
    expect(out.map((r) => ("item" in r ? r.item : r))).toEqual([
      { uid: "1002", userId: "1003", action: "ADD" },
      { uid: "1002", userId: "7", action: "ADD" },
      { uid: "9223372036854775807", userId: "9223372036854775806", action: "ADD" },
    ]);
    expect(out[2]).toMatchObject({
      source: {
        unknown: [
          { column: "username", value: "ghost" },
          { column: "delegateEmail", value: "ghost@acme.com" },
        ],
      },
    });
    expect(calls).toEqual([
      ["user3@acme.com", "ghost@acme.com"],
      ["user2", "ghost"],
    ]);
  });

  it(`looks up ${RESOLVE_CHUNK} values at a time, in input order, and holds no more than a chunk of records`, async () => {
    const { pod, calls } = stubPod();
    const resolver = new UserResolver(pod, { label: "in.csv" });
    const total = 2.5 * RESOLVE_CHUNK;
    let pulled = 0;
    let pulledAtFirst = 0;
    async function* source(): AsyncGenerator<SourceRecord<object>> {
      for (let i = 0; i < total; i++) {
        pulled++;
        yield { item: { email: `user${i}@acme.com`, features: [] }, line: i + 2 };
      }
    }
    let index = 0;
    for await (const record of resolver.resolve(source())) {
      if (index === 0) pulledAtFirst = pulled;
      expect(record).toMatchObject({ line: index + 2, item: { uid: String(1000 + index) } });
      index++;
    }
    expect(index).toBe(total);
    expect(pulledAtFirst).toBe(RESOLVE_CHUNK);
    expect(calls.map((values) => values.length)).toEqual([RESOLVE_CHUNK, RESOLVE_CHUNK, RESOLVE_CHUNK / 2]);
    // The library sends at most 100 values a call: ⌈users / 100⌉ calls.
    expect(resolver.stats.calls).toBe(Math.ceil(total / 100));
  });

  it("remembers users across chunks: a user named again later is not looked up again", async () => {
    const { pod, calls } = stubPod();
    const resolver = new UserResolver(pod, { label: "in.csv" });
    const items = Array.from({ length: RESOLVE_CHUNK + 1 }, (_, i) => ({ email: `user${i % RESOLVE_CHUNK}@acme.com` }));
    const out = await collect(resolver.resolve(records([...items, { email: "USER0@acme.com" }])));
    expect(out.at(-1)).toMatchObject({ item: { uid: "1000" } });
    expect(calls.flat()).toHaveLength(RESOLVE_CHUNK);
  });

  it("resolves every chunk's records even where the memory of earlier values is dropped", async () => {
    const { pod, calls } = stubPod();
    const resolver = new UserResolver(pod, { label: "in.csv", chunk: 10, remember: 25 });
    const items = Array.from({ length: 100 }, (_, i) => ({ email: `user${i}@acme.com` }));
    const out = await collect(resolver.resolve(records([...items, { email: "user0@acme.com" }])));
    expect(out.map((r) => ("item" in r ? (r.item as { uid: string }).uid : r))).toEqual([
      ...items.map((_, i) => String(1000 + i)),
      "1000",
    ]);
    expect(resolver.stats).toMatchObject({ found: 101, unknown: 0 }); // user0 forgotten, so asked again
    expect(calls).toHaveLength(11);
  });

  it("without a client (a dry run without --pod), a file that needs lookups is a usage error naming its line", async () => {
    const resolver = new UserResolver(undefined, { label: "in.csv" });
    const error = await collect(resolver.resolve(records([{ uid: "1" }, { email: "user1@acme.com" }]))).catch((e) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(/^in\.csv:3: names users by email, which the pod resolves to uids/);
  });

  it("a failed lookup is a LookupError saying what failed", async () => {
    const { pod } = stubPod({ fail: new Error("GET /v3/users failed with 503") });
    const resolver = new UserResolver(pod, { label: "in.csv" });
    const error = await collect(resolver.resolve(records([{ username: "user1" }]))).catch((e) => e);
    expect(error).toBeInstanceOf(LookupError);
    expect((error as Error).message).toBe("looking up users by username failed: GET /v3/users failed with 503");
  });
});

describe("the report's unknownUser lines", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pod-admin-identity-unit-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("come after the pending lines (the apply pass reads only those) and stay in the final report", async () => {
    const input = join(dir, "in.csv");
    await writeFile(input, "email,entitlement,enabled\n");
    const path = join(dir, "report.jsonl");
    const journal = await Journal.open(path, input);
    await journal.unknownUser(
      { email: "ghost@acme.com", features: [] },
      2,
      [{ column: "email", value: "ghost@acme.com" }],
      "no user",
    );
    await journal.pending({ uid: "1001", features: [] }, 0, 3);
    const { pendingBytes } = await journal.commit();
    const text = await readFile(path, "utf8");
    const [pending, unknown] = text.split("\n");
    expect(Buffer.byteLength(`${pending}\n`)).toBe(pendingBytes);
    expect(JSON.parse(unknown as string)).toEqual({
      email: "ghost@acme.com",
      features: [],
      _report: { status: "unknownUser", line: 2, column: "email", value: "ghost@acme.com", message: "no user" },
    });
    // A journal still (its first line is pending): resuming it skips nothing it should not.
    expect((await scanJournal(path))?.settled.size).toBe(0);
    journal.succeeded(0);
    expect(await journal.finish()).toEqual({ lines: 1, removed: false });
    expect(await readFile(path, "utf8")).toBe(`${unknown}\n`);
    expect(journal.unknownUsers).toBe(1);
  });
});
