import { spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { rsaAuthentication } from "../src/core/rsa-auth.js";
import { parseSimulatorArgs, runSimulatorCli } from "../src/simulator/index.js";

/** Collects what is written, line by line. */
function sink() {
  let text = "";
  return {
    write: (chunk: string) => {
      text += chunk;
      return true;
    },
    lines: () => text.split("\n").filter((line) => line !== ""),
  };
}

describe("parseSimulatorArgs", () => {
  it("maps every flag to an option", async () => {
    const options = await parseSimulatorArgs([
      "--port=8443",
      "--host",
      "0.0.0.0",
      "--token",
      "t",
      "--expire-token-after",
      "1000",
      "--rate-limit",
      "0.1",
      "--retry-after",
      "0.5",
      "--server-error",
      "0.05",
      "--drop",
      "0.01",
      "--latency",
      "2-10",
      "--seed",
      "7",
      "--features",
      "a, b,c",
      "--strict-features",
      "--users",
      "5-7",
    ]);
    expect(options).toEqual({
      port: 8443,
      host: "0.0.0.0",
      sessionToken: "t",
      expireTokenAfterRequests: 1000,
      faults: {
        rateLimit: 0.1,
        retryAfterSeconds: 0.5,
        serverError: 0.05,
        dropConnection: 0.01,
        latencyMs: [2, 10],
        seed: 7,
      },
      availableFeatures: ["a", "b", "c"],
      strictFeatures: true,
      users: [5n, 6n, 7n],
    });
    expect(await parseSimulatorArgs([])).toEqual({});
    expect(await parseSimulatorArgs(["--latency", "3", "--users", "1,9223372036854775807"])).toEqual({
      faults: { latencyMs: 3 },
      users: [1n, 9223372036854775807n],
    });
    expect(await parseSimulatorArgs(["-h"])).toBe("help");
  });

  it("maps the rate-limit flags to the rateLimit option", async () => {
    expect(await parseSimulatorArgs(["--rate-limit-per-second", "10"])).toEqual({ rateLimit: { perSecond: 10 } });
    expect(
      await parseSimulatorArgs([
        "--rate-limit-per-second",
        "1500",
        "--rate-window=100",
        "--rate-algorithm",
        "token-bucket",
        "--rate-limit",
        "0.1",
      ]),
    ).toEqual({
      rateLimit: { perSecond: 1500, windowMs: 100, algorithm: "token-bucket" },
      faults: { rateLimit: 0.1 },
    });
    expect(await parseSimulatorArgs(["--rate-limit-per-second", "0.5", "--rate-window", "2000"])).toEqual({
      rateLimit: { perSecond: 0.5, windowMs: 2000 },
    });
    expect(await parseSimulatorArgs(["--rate-limit-per-second", "1000", "--rate-changes", "10:300,20.5:1000"])).toEqual(
      {
        rateLimit: {
          perSecond: 1000,
          changes: [
            { afterSeconds: 10, perSecond: 300 },
            { afterSeconds: 20.5, perSecond: 1000 },
          ],
        },
      },
    );
  });

  it.each([
    [["--rate-limit-per-second", "fast"], "--rate-limit-per-second expects a number"],
    [["--rate-limit-per-second", "0"], "--rate-limit-per-second must be a number of calls per second > 0, got 0"],
    [["--rate-limit-per-second=-3"], "--rate-limit-per-second must be"],
    [["--rate-limit-per-second", "10", "--rate-window", "0"], "--rate-window must be a whole number"],
    [["--rate-limit-per-second", "10", "--rate-window", "2.5"], "--rate-window expects an integer"],
    [["--rate-limit-per-second", "10", "--rate-algorithm", "leaky"], "--rate-algorithm must be one of"],
    [["--rate-limit-per-second", "15", "--rate-window", "100"], "must be a whole number >= 1"],
    [["--rate-window", "100"], "--rate-window needs --rate-limit-per-second"],
    [["--rate-algorithm", "token-bucket"], "--rate-algorithm needs --rate-limit-per-second"],
    [["--rate-changes", "1:5"], "--rate-changes needs --rate-limit-per-second"],
    [["--rate-limit-per-second", "10", "--rate-changes", "10-300"], "--rate-changes takes SECONDS:PER_SECOND pairs"],
    [["--rate-limit-per-second", "10", "--rate-changes", "2:5,1:5"], "--rate-changes: afterSeconds must be"],
    [["--latency", "10-2"], '--latency must be a number >= 0 or a MIN-MAX range, got "10-2"'],
    [["--users", "5,0"], '--users: "0" is not a user id (a positive int64)'],
    [["--users", "1-9223372036854775808"], '--users TO: "9223372036854775808" is not a user id'],
  ])("refuses %j, naming the flag; the CLI exits with 2", async (argv, message) => {
    await expect(parseSimulatorArgs(argv)).rejects.toThrow(message);
    const stderr = sink();
    expect(await runSimulatorCli(argv, { stdout: sink(), stderr })).toBe(2);
    expect(stderr.lines()[0]).toMatch(/^simulate: /);
    expect(stderr.lines()[0]).toContain(message);
  });

  it.each([
    [["--port", "abc"]],
    [["--port", "1.5"]],
    [["--nope"]],
    [["extra"]],
    [["--latency", "fast"]],
    [["--users", "x"]],
    [["--login-public-key", "/no/such/file.pem"]],
  ])("refuses %j", async (argv) => {
    await expect(parseSimulatorArgs(argv)).rejects.toThrow();
  });
});

describe("--login-public-key: a key that cannot verify logins is refused at start", () => {
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const write = (name: string, text: string) => {
    const dir = mkdtempSync(join(tmpdir(), "sim-key-"));
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it.each([
    [
      "a private key (PKCS#8)",
      pair.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      "holds a private key",
    ],
    [
      "a private key (PKCS#1)",
      pair.privateKey.export({ type: "pkcs1", format: "pem" }) as string,
      "holds a private key",
    ],
    ["text that is no key", "hello\n", "is not a PEM public key"],
    ["an EC public key", ec.publicKey.export({ type: "spki", format: "pem" }) as string, "is not an RSA key"],
  ])("%s: exit 2 with the fix, nothing served", async (_what, pem, message) => {
    const stdout = sink();
    const stderr = sink();
    const file = write("key.pem", pem);
    expect(await runSimulatorCli(["--login-public-key", file], { stdout, stderr })).toBe(2);
    expect(stdout.lines()).toEqual([]);
    expect(stderr.lines()[0]).toContain(message);
    expect(stderr.lines()[0]).toContain("openssl rsa -in bot.pem -pubout");
    expect(stderr.lines().join("\n")).not.toContain("-----"); // the key file is never echoed
  });

  it.each(["spki", "pkcs1"] as const)("the public half (%s PEM) starts, and verifies logins with it", async (type) => {
    const file = write("public.pem", pair.publicKey.export({ type, format: "pem" }) as string);
    const stop = new AbortController();
    const stdout = sink();
    const done = runSimulatorCli(["--login-public-key", file], { stdout, stderr: sink(), interrupt: stop.signal });
    await expect.poll(() => stdout.lines().length).toBe(2);
    const podUrl = (stdout.lines()[0] as string).slice("listening ".length);
    const login = rsaAuthentication({ podUrl, username: "bot", privateKey: pair.privateKey });
    await expect(login()).resolves.toMatch(/\S+/);
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await expect(rsaAuthentication({ podUrl, username: "bot", privateKey: other.privateKey })()).rejects.toMatchObject({
      status: 401,
    });
    stop.abort();
    expect(await done).toBe(0);
  });
});

describe("runSimulatorCli", () => {
  it("prints the ready lines, serves until interrupted, then prints the counters and returns 0", async () => {
    const stdout = sink();
    const stderr = sink();
    const stop = new AbortController();
    const done = runSimulatorCli(["--token", "cli-token", "--server-error", "1"], {
      stdout,
      stderr,
      interrupt: stop.signal,
    });
    await expect.poll(() => stdout.lines().length).toBe(2);
    const [listening, token] = stdout.lines();
    expect(listening).toMatch(/^listening http:\/\/127\.0\.0\.1:\d+\/pod$/);
    expect(token).toBe("token cli-token");
    const url = (listening as string).slice("listening ".length);
    const res = await fetch(`${url}/v1/admin/user/1/features`, { headers: { sessionToken: "cli-token" } });
    expect(res.status).toBe(503);
    stop.abort();
    expect(await done).toBe(0);
    expect(stderr.lines().at(-1)).toContain("stopped: 1 requests");
    await expect(fetch(`${url}/v1/admin/user/1/features`)).rejects.toThrow();
  });

  it("rate limits with --rate-limit-per-second, serves the counters at /__simulator/stats, prints them at the end", async () => {
    const stdout = sink();
    const stderr = sink();
    const stop = new AbortController();
    // One call per 20 s window: three quick calls cross at most one window boundary, so at least one is refused.
    const done = runSimulatorCli(["--rate-limit-per-second", "0.05", "--rate-window", "20000"], {
      stdout,
      stderr,
      interrupt: stop.signal,
    });
    await expect.poll(() => stdout.lines().length).toBe(2);
    const url = (stdout.lines()[0] as string).slice("listening ".length);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${url}/v1/admin/user/${i + 1}/features`, {
        headers: { sessionToken: "simulated-session-token" },
      });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      await res.text();
    }
    expect(statuses[0]).toBe(200);
    expect(statuses).toContain(429);
    const stats = (await (await fetch(`${new URL(url).origin}/__simulator/stats`)).json()) as {
      requests: number;
      rateLimiter: { admitted: number; refused: number };
      byStatus: Record<string, number>;
    };
    expect(stats.requests).toBe(3);
    expect(stats.rateLimiter.admitted + stats.rateLimiter.refused).toBe(3);
    expect(stats.byStatus["429"]).toBe(stats.rateLimiter.refused);
    stop.abort();
    expect(await done).toBe(0);
    expect(stderr.lines().at(-1)).toContain(`rate limiter ${JSON.stringify(stats.rateLimiter)}`);
  });

  it("returns 2 for bad usage and 0 for --help", async () => {
    const stderr = sink();
    expect(await runSimulatorCli(["--rate-limit", "2"], { stdout: sink(), stderr })).toBe(2);
    expect(stderr.lines()[0]).toContain("rateLimit");
    expect(await runSimulatorCli(["--bogus"], { stdout: sink(), stderr: sink() })).toBe(2);
    const stdout = sink();
    expect(await runSimulatorCli(["--help"], { stdout, stderr: sink() })).toBe(0);
    expect(stdout.lines()[0]).toMatch(/^Usage/);
  });

  it("runs standalone: `tsx src/simulator/main.ts`, stops on SIGTERM with exit code 0", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/simulator/main.ts", "--port", "0", "--seed", "3"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
      const listening = (await lines.next()).value as string;
      expect(listening).toMatch(/^listening http:\/\/127\.0\.0\.1:\d+\/pod$/);
      expect((await lines.next()).value).toBe("token simulated-session-token");
      const url = listening.slice("listening ".length);
      const res = await fetch(`${url}/v1/admin/system/features/list`, {
        headers: { sessionToken: "simulated-session-token" },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toContain("canCreatePublicRoom");
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
