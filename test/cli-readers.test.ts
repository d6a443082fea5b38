import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { formatFor, type Operation, readItems } from "../src/cli/input/readers.js";

async function read(operation: Operation, text: string, format: "csv" | "jsonl" = "csv") {
  const out: unknown[] = [];
  for await (const record of readItems(operation, Readable.from([text]), "in.csv", format)) {
    out.push("error" in record ? { line: record.line, error: record.error.message, rule: record.error.rule } : record);
  }
  return out;
}

describe("CSV: features", () => {
  it("groups consecutive rows of a user into one item, with the first line", async () => {
    const csv =
      "uid,entitlement,enabled\n1,canCreatePublicRoom,true\n1,sendFilesEnabled,FALSE\n2,delegatesEnabled,yes\n";
    expect(await read("features", csv)).toEqual([
      {
        line: 2,
        item: {
          uid: "1",
          features: [
            { entitlement: "canCreatePublicRoom", enabled: true },
            { entitlement: "sendFilesEnabled", enabled: false },
          ],
        },
      },
      { line: 4, item: { uid: "2", features: [{ entitlement: "delegatesEnabled", enabled: true }] } },
    ]);
  });

  it("keeps int64 uids beyond 2^53 as exact decimal strings", async () => {
    const [record] = await read("features", "uid,entitlement,enabled\n9223372036854775807,a,true\n");
    expect(record).toMatchObject({ item: { uid: "9223372036854775807" } });
  });

  it("names file, line, column and rule for a bad cell", async () => {
    const csv = "uid,entitlement,enabled\n1,a,true\n2,b,maybe\n3,,true\nx1,c,true\n";
    expect(await read("features", csv)).toEqual([
      { line: 2, item: { uid: "1", features: [{ entitlement: "a", enabled: true }] } },
      { line: 3, rule: "boolean", error: 'in.csv:3: column "enabled": expected true or false, got "maybe"' },
      { line: 4, rule: "required", error: 'in.csv:4: column "entitlement": is empty' },
      { line: 5, rule: "positive int64", error: 'in.csv:5: column "uid": expected a positive int64 user id, got "x1"' },
    ]);
  });

  it("rejects a header without the required columns, or with unknown ones", async () => {
    expect(await read("features", "uid,feature,enabled\n1,a,true\n")).toEqual([
      {
        line: 1,
        rule: "required column",
        error:
          'in.csv:1: column "entitlement": missing; the header needs uid,entitlement,enabled (or email or username instead of uid)',
      },
    ]);
    expect(await read("features", "uid,entitlement,enabled,note\n1,a,true,x\n")).toMatchObject([
      { line: 1, rule: "known column" },
    ]);
  });

  it("reports malformed CSV with its line", async () => {
    const out = await read("features", 'uid,entitlement,enabled\n1,a,true\n2,"b,true\n');
    expect(out.at(-1)).toMatchObject({ rule: "CSV" });
  });

  it("reports a row with too many cells", async () => {
    const out = await read("features", "uid,entitlement,enabled\n1,a,true,extra\n");
    expect(out).toMatchObject([{ rule: "CSV", line: 2 }]);
  });
});

describe("CSV: delegates and apps", () => {
  it("reads one delegate change per row", async () => {
    expect(await read("delegates", "uid,userId,action\n1,9007199254740993,add\n2,3,REMOVE\n4,5,DROP\n")).toEqual([
      { line: 2, item: { uid: "1", userId: "9007199254740993", action: "ADD" } },
      { line: 3, item: { uid: "2", userId: "3", action: "REMOVE" } },
      { line: 4, rule: "enum ADD|REMOVE", error: 'in.csv:4: column "action": expected one of ADD, REMOVE, got "DROP"' },
    ]);
  });

  it("builds apps with products for replace; rows of one app must agree on its settings", async () => {
    const csv = [
      "uid,appId,appName,listed,install,productName,productType,productSubscribed,productSku",
      "1,selerity,Selerity,true,true,Standard,default,true,",
      "1,selerity,Selerity,true,true,Premium,premium,false,AcDccU53SsY",
      "1,djApp,,true,false,,,,",
      "2,djApp,,false,false,,,,",
      "2,djApp,,true,false,Pro,premium,true,",
      ",,,,,,,,",
    ].join("\n");
    expect(await read("appsReplace", csv)).toEqual([
      {
        line: 2,
        item: {
          uid: "1",
          apps: [
            {
              appId: "selerity",
              appName: "Selerity",
              listed: true,
              install: true,
              products: [
                { name: "Standard", type: "default", subscribed: true },
                { name: "Premium", type: "premium", subscribed: false, sku: "AcDccU53SsY" },
              ],
            },
            { appId: "djApp", listed: true, install: false },
          ],
        },
      },
      {
        line: 5,
        rule: "no contradiction",
        error:
          'in.csv:6: column "listed": user 2, app "djApp", is "true" here but "false" at in.csv:5 (column "listed"); keep one of the two rows',
      },
    ]);
  });

  it("gathers a user's split rows into one item at the line of its first row, users then in uid order", async () => {
    const csv = "uid,entitlement,enabled\n2,b,true\n1,a,true\n2,c,false\n";
    expect(await read("features", csv)).toEqual([
      { line: 3, item: { uid: "1", features: [{ entitlement: "a", enabled: true }] } },
      {
        line: 2,
        item: {
          uid: "2",
          features: [
            { entitlement: "b", enabled: true },
            { entitlement: "c", enabled: false },
          ],
        },
      },
    ]);
  });

  it("reads patch settings, leaving empty cells out", async () => {
    const csv = "uid,appId,listed,install\n1,djApp,true,\n1,selerity,REMOVE,keep\n2,x,maybe,\n";
    expect(await read("appsPatch", csv)).toEqual([
      {
        line: 2,
        item: {
          uid: "1",
          patches: [
            { appId: "djApp", listed: "TRUE" },
            { appId: "selerity", listed: "REMOVE", install: "KEEP" },
          ],
        },
      },
      {
        line: 4,
        rule: "enum TRUE|FALSE|KEEP|REMOVE",
        error: 'in.csv:4: column "listed": expected one of TRUE, FALSE, KEEP, REMOVE, got "maybe"',
      },
    ]);
  });
});

describe("JSON Lines", () => {
  it("reads one item per line, drops report metadata, keeps big ids exact", async () => {
    const text = [
      '\uFEFF{"uid": 9007199254740993, "features": [{"entitlement": "a", "enabled": true}]}',
      "",
      '{"uid":"2","features":[],"_report":{"status":"failed","line":3}}',
      "{not json",
      "[1,2]",
    ].join("\n");
    expect(await read("features", text, "jsonl")).toEqual([
      { line: 1, item: { uid: 9007199254740993n, features: [{ entitlement: "a", enabled: true }] } },
      { line: 3, item: { uid: "2", features: [] }, meta: { status: "failed", line: 3 } },
      { line: 4, rule: "JSON", error: expect.stringMatching(/^in\.csv:4: not valid JSON/) },
      { line: 5, rule: "type object", error: "in.csv:5: each line must be a JSON object" },
    ]);
  });

  it("picks the format from the name, or sniffs it", () => {
    expect(formatFor("a.jsonl", "x")).toBe("jsonl");
    expect(formatFor("a.CSV", "{")).toBe("csv");
    expect(formatFor("-", "{")).toBe("jsonl");
    expect(formatFor("-", "u")).toBe("csv");
  });
});

describe("users named by uid, email or username (issue 14)", () => {
  it("reads a user column of email or username into the item under that name; rows of one email group whatever its case", async () => {
    const csv = "email,entitlement,enabled\nAda@acme.com,a,true\nada@ACME.com,b,false\ngrace@acme.com,a,true\n";
    expect(await read("features", csv)).toEqual([
      {
        line: 2,
        item: {
          email: "Ada@acme.com",
          features: [
            { entitlement: "a", enabled: true },
            { entitlement: "b", enabled: false },
          ],
        },
      },
      { line: 4, item: { email: "grace@acme.com", features: [{ entitlement: "a", enabled: true }] } },
    ]);
    expect(await read("appsPatch", "username,appId,listed\nada,app1,true\n")).toEqual([
      { line: 2, item: { username: "ada", patches: [{ appId: "app1", listed: "TRUE" }] } },
    ]);
  });

  it("refuses an over-long email or username, and invisible characters, naming the line and the rule", async () => {
    const long = `${"a".repeat(500_000)}@acme.com`;
    const local65 = `${"b".repeat(65)}@acme.com`;
    const csv = `email,entitlement,enabled\n${long},a,true\n${local65},a,true\nx\u200b@acme.com,a,true\nok@acme.com,a,true\n`;
    const out = (await read("features", csv)) as { line: number; rule?: string; error?: string }[];
    expect(out.map((r) => [r.line, r.rule])).toEqual([
      [2, "email length"],
      [3, "email length"],
      [4, "no invisible characters"],
      [5, undefined],
    ]);
    expect(out[0]?.error).toBe(
      'in.csv:2: column "email": an email address has at most 254 characters, 64 before the @; got 500009 characters',
    );
    expect(out[2]?.error).toContain("\\u200b");
    const names = await read("features", `username,entitlement,enabled\n${"u".repeat(257)},a,true\n`);
    expect(names).toMatchObject([{ line: 2, rule: "username length" }]);
  });

  it("reads a delegate named by delegateEmail, its owner by any of the three", async () => {
    const csv = "username,delegateEmail,action\nada,grace@acme.com,add\n";
    expect(await read("delegates", csv)).toEqual([
      { line: 2, item: { username: "ada", delegateEmail: "grace@acme.com", action: "ADD" } },
    ]);
  });

  it("refuses a header naming users two ways, or none, naming the columns", async () => {
    expect(await read("features", "uid,email,entitlement,enabled\n1,a@b.co,a,true\n")).toEqual([
      {
        line: 1,
        rule: "one identity column",
        error:
          'in.csv:1: column "email": the header has both "uid" and "email": a file names all its users one way, by exactly one of uid, email, username; keep one column',
      },
    ]);
    expect(await read("delegates", "email,userId,delegateEmail,action\na@b.co,2,c@d.co,ADD\n")).toMatchObject([
      { line: 1, rule: "one identity column", error: expect.stringContaining('both "userId" and "delegateEmail"') },
    ]);
    expect(await read("delegates", "email,action\na@b.co,ADD\n")).toEqual([
      {
        line: 1,
        rule: "required column",
        error:
          'in.csv:1: column "userId": missing; the header needs uid,userId,action (or email or username instead of uid, delegateEmail instead of userId)',
      },
    ]);
  });

  it("checks email and username cells with file:line and column", async () => {
    const csv = "email,entitlement,enabled\nada@acme.com,a,true\nnot-an-email,a,true\n,a,true\nx@y,a,true\n";
    expect(await read("features", csv)).toEqual([
      { line: 2, item: { email: "ada@acme.com", features: [{ entitlement: "a", enabled: true }] } },
      { line: 3, rule: "email", error: 'in.csv:3: column "email": expected an email address, got "not-an-email"' },
      { line: 4, rule: "required", error: 'in.csv:4: column "email": is empty' },
      { line: 5, rule: "email", error: 'in.csv:5: column "email": expected an email address, got "x@y"' },
    ]);
    expect(await read("delegates", "uid,delegateEmail,action\n1,grace,ADD\n")).toEqual([
      { line: 2, rule: "email", error: 'in.csv:2: column "delegateEmail": expected an email address, got "grace"' },
    ]);
    expect(await read("features", "username,entitlement,enabled\nada lovelace,a,true\n")).toEqual([
      {
        line: 2,
        rule: "username",
        error: 'in.csv:2: column "username": expected a username (no blanks, no commas), got "ada lovelace"',
      },
    ]);
  });

  it("JSON Lines: one identity field per item and per file; report lines may mix them", async () => {
    const jsonl = [
      '{"email":"ada@acme.com","features":[]}',
      '{"uid":"1","email":"b@acme.com","features":[]}',
      '{"uid":"2","features":[]}',
      '{"email":"nope","features":[]}',
      '{"uid":"3","features":[],"_report":{"status":"failed","item":0}}',
      '{"username":"grace","features":[],"_report":{"status":"unknownUser","line":9}}',
    ].join("\n");
    expect(await read("features", jsonl, "jsonl")).toEqual([
      { line: 1, item: { email: "ada@acme.com", features: [] } },
      {
        line: 2,
        rule: "one identity field",
        error: 'in.csv:2: names its user by both "uid" and "email": give exactly one of "uid", "email", "username"',
      },
      {
        line: 3,
        rule: "one identity field",
        error:
          'in.csv:3: names its user by "uid", but line 1 names it by "email": a file names all its users one way, by exactly one of "uid", "email", "username"',
      },
      { line: 4, rule: "email", error: 'in.csv:4: field "email": expected an email address, got "nope"' },
      { line: 5, item: { uid: "3", features: [] }, meta: { status: "failed", item: 0 } },
      { line: 6, item: { username: "grace", features: [] }, meta: { status: "unknownUser", line: 9 } },
    ]);
    expect(
      await read("delegates", '{"uid":"1","userId":"2","delegateEmail":"g@acme.com","action":"ADD"}', "jsonl"),
    ).toMatchObject([
      { line: 1, rule: "one identity field", error: expect.stringContaining('"userId" and "delegateEmail"') },
    ]);
  });
});
