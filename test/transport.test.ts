/**
 * The default transport (src/transport.ts) against a real local HTTP server, since its two optimisations are about
 * sockets and request targets that no stubbed fetch sees:
 * - lanes: an origin's calls go to pools of at most 32 connections, a new one when all are full, so the connections
 *   follow the calls in flight (an uncapped undici pool opens ~2 per call in flight under steady load);
 * - the fast path: a URL that `new URL()` would leave unchanged goes to its lane as origin + path, without undici's
 *   `request(url)` parsing it; any other URL, and every call after `close()`, goes through `request(url)`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import * as undici from "undici";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Transport, undiciTransport } from "../src/core/transport.js";
import { createPodClient, PodNetworkError } from "../src/index.js";

// undici's request(url) as the transport loads it, counted: the old path calls it, the fast path does not.
vi.mock("undici", async (importOriginal) => {
  const actual = await importOriginal<typeof import("undici")>();
  return { ...actual, request: vi.fn(actual.request) };
});
const slowPathCalls = vi.mocked(undici.request);

// ---------------------------------------------------------------------------------------------------------------
// A local server that records what reaches it
// ---------------------------------------------------------------------------------------------------------------

interface Seen {
  /** The request target as sent (`req.url`). */
  target: string;
  host: string | undefined;
  sessionToken: string | undefined;
  socket: Socket;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface LocalServer {
  server: Server;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  seen: Seen[];
  /** Connections accepted so far. */
  connections(): number;
  /** Sockets still open on the server's side. */
  open: Set<Socket>;
  /** Resolves once every socket the server accepted is closed. */
  allClosed(): Promise<void>;
  handle: Handler;
}

const answerEmptyList: Handler = (_req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end("[]");
};

/** A test waits for the server to see its calls and for sockets to close: a broken transport fails it fast. */
const WAIT = 5_000;

const servers: LocalServer[] = [];
const transports: Transport[] = [];

afterEach(async () => {
  slowPathCalls.mockClear();
  // The servers first: a transport's close() waits for calls a server might still hold.
  await Promise.all(
    servers.splice(0).map(({ server }) => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    }),
  );
  await Promise.all(transports.splice(0).map((t) => t.close()));
});

/** A server on 127.0.0.1, on `port` (any free one by default); rejects when that port is taken. */
async function startServer(port = 0): Promise<LocalServer> {
  const server = createServer();
  // Longer than any test: only the client closes a connection (close() must; a lost one would be a new socket).
  server.keepAliveTimeout = 60_000;
  const open = new Set<Socket>();
  let accepted = 0;
  let onAllClosed: (() => void) | undefined;
  server.on("connection", (socket) => {
    accepted++;
    open.add(socket);
    socket.on("close", () => {
      open.delete(socket);
      if (open.size === 0) onAllClosed?.();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  const local: LocalServer = {
    server,
    origin: `http://127.0.0.1:${bound}`,
    port: bound,
    seen: [],
    connections: () => accepted,
    open,
    allClosed: () =>
      open.size === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            onAllClosed = resolve;
          }),
    handle: answerEmptyList,
  };
  server.on("request", (req, res) => {
    const token = req.headers.sessiontoken;
    local.seen.push({
      target: req.url ?? "",
      host: req.headers.host,
      sessionToken: Array.isArray(token) ? token.join(", ") : token,
      socket: req.socket,
    });
    local.handle(req, res);
  });
  servers.push(local);
  return local;
}

function transport(): Transport {
  const t = undiciTransport();
  transports.push(t);
  return t;
}

/** Closes `t` now (afterEach closes only those left open: a second close() rejects, see below). */
function close(t: Transport): Promise<void> {
  transports.splice(transports.indexOf(t), 1);
  return t.close();
}

/**
 * Lets undici free the connections just answered: it reuses one only from the event loop's next check phase
 * (a setImmediate queued when the answer completed, before the caller's await resumes).
 */
async function settle(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise((resolve) => setImmediate(resolve));
}

const get = (t: Transport, url: string) => t({ url, method: "GET", headers: {} });

/**
 * Holds every request until `n` have arrived, then answers them all in the same turn, and again for the next `n`:
 * `n` calls are then in flight at once, and the next round is sent while the last answers are read, the moment an
 * uncapped pool opens new connections because the answered ones are not reusable yet.
 */
function releaseEvery(local: LocalServer, n: number): void {
  let held: ServerResponse[] = [];
  local.handle = (_req, res) => {
    held.push(res);
    if (held.length < n) return;
    const round = held;
    held = [];
    for (const r of round) r.end("ok");
  };
}

/** `workers` loops of `rounds` calls each, every loop sending its next call as soon as its answer is read. */
async function inFlight(t: Transport, url: string, workers: number, rounds: number): Promise<void> {
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (let i = 0; i < rounds; i++) expect((await get(t, url)).body).toBe("ok");
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The fast path sends what new URL() would
// ---------------------------------------------------------------------------------------------------------------

/**
 * URLs relative to the server's origin (`{o}` = `http://127.0.0.1:<port>`, `{p}` = the port), and whether the
 * transport may send them without parsing: only when `new URL()` leaves them exactly as they are.
 */
const TARGETS: { url: string; fast: boolean }[] = [
  // Left as they are: the fast path.
  { url: "{o}/pod/v1/admin/user/7215545057281/features", fast: true },
  { url: "{o}/", fast: true },
  { url: "{o}/a/b?uid=1&skip=0&limit=100", fast: true },
  { url: "{o}/a%2Fb/%zz/%E2%82%AC/%2e%2ex", fast: true }, // percent-escapes, even malformed ones, are kept as given
  { url: "{o}/a/.../.b/c./..c", fast: true }, // dots that are not dot segments
  { url: "{o}/a/..%2fb", fast: true }, // not a dot segment either
  { url: "{o}//double//slashes/", fast: true },
  { url: "{o}/sub-delims/!$&'()*+,;=:@~_-.", fast: true },
  { url: "{o}/q?a=/x?y&b=:@!$()*+,;=&c=%20", fast: true }, // "/" and "?" inside a query are kept
  // Changed by new URL(): the old path, and the server must see new URL()'s target, not the string given.
  { url: "{o}/a/../b", fast: false },
  { url: "{o}/a/./b/.", fast: false },
  { url: "{o}/a/%2e%2E/b/%2E", fast: false },
  { url: "{o}/a/.%2e/b/..", fast: false },
  { url: "{o}/a/..?x=1", fast: false },
  { url: "{o}/a/b/..", fast: false }, // a dot segment at the end only
  { url: "{o}/a b/é/€/日本", fast: false },
  { url: "{o}/a\tb\nc", fast: false }, // tabs and newlines are dropped
  { url: "{o}/a?q=it's", fast: false }, // "'" is kept in a path, encoded in a query
  { url: "{o}/a?q=a b&r=é", fast: false },
  { url: "{o}/a?", fast: false }, // an empty query
  { url: "{o}/a?q=1#fragment", fast: false },
  { url: "{o}/a#frag?x", fast: false },
  { url: "{o}/a\\b", fast: false },
  { url: '{o}/a|b^c`d{e}[f]"g<h>', fast: false },
  { url: "{o}/a?b=|^`{}[]\\", fast: false },
  { url: "{o}", fast: false }, // no path at all: "/"
  { url: "{o}?x=1", fast: false },
  { url: "HTTP://127.0.0.1:{p}/upper-scheme", fast: false },
  { url: "http://LOCALHOST:{p}/upper-host", fast: false },
  { url: "http://127.1:{p}/short-ipv4", fast: false },
  { url: "http://0x7f.0.0.1:{p}/hex-ipv4", fast: false },
  { url: "http://127.0.0.1:0{p}/leading-zero-port", fast: false },
  { url: "  {o}/surrounding-spaces  ", fast: false },
];
// A default port (http://host:80/) is normalised away by new URL() too, and takes the old path for the same reason
// as LOCALHOST above (the string does not start with the origin); it is not in the table because the server here
// cannot listen on port 80.

describe("the fast path sends the request target new URL() would produce", { timeout: WAIT }, () => {
  it.each(TARGETS)("$url", async ({ url: template, fast }) => {
    const local = await startServer();
    const url = template.replaceAll("{o}", local.origin).replaceAll("{p}", String(local.port));
    const parsed = new URL(url);
    const expected = { target: parsed.pathname + parsed.search, host: parsed.host };
    expect(parsed.host).toBe(`${parsed.hostname}:${local.port}`); // every row reaches the local server

    const t = transport();
    // Twice: the first call of an origin learns it, the second finds it learned.
    for (let i = 0; i < 2; i++) {
      slowPathCalls.mockClear();
      const answer = await get(t, url);
      expect(answer.status).toBe(200);
      expect(answer.body).toBe("[]");
      const seen = local.seen.at(-1);
      expect({ target: seen?.target, host: seen?.host }).toEqual(expected);
      // Only a URL new URL() leaves as it is skips undici's request(url).
      expect(slowPathCalls).toHaveBeenCalledTimes(fast ? 0 : 1);
    }
    expect(local.seen).toHaveLength(2);

    // The reference: fetch sends the same target.
    await (await fetch(url)).text();
    const reference = local.seen.at(-1);
    expect({ target: reference?.target, host: reference?.host }).toEqual(expected);
  });

  it("the fast path is exactly the URLs new URL() leaves as they are (href unchanged)", () => {
    for (const { url: template, fast } of TARGETS) {
      const url = template.replaceAll("{o}", "http://127.0.0.1:4242").replaceAll("{p}", "4242");
      if (fast) expect(new URL(url).href, url).toBe(url);
    }
  });

  it("lanes for 8 origins at most: a ninth origin's calls go through request(url), and still arrive", async () => {
    const locals = await Promise.all(Array.from({ length: 9 }, () => startServer()));
    const t = transport();
    for (const local of locals.slice(0, 8)) await get(t, `${local.origin}/lane`);
    expect(slowPathCalls).not.toHaveBeenCalled();
    const ninth = locals[8] as LocalServer;
    expect((await get(t, `${ninth.origin}/ninth`)).status).toBe(200);
    expect(slowPathCalls).toHaveBeenCalledTimes(1);
    expect(ninth.seen.map((s) => s.target)).toEqual(["/ninth"]);
  });

  it("an origin that starts with a learned one (port 4123 and 41234) gets its own lanes", async () => {
    // b on any port, a on the port b's starts with (41234 -> 4123), so that b's URLs start with a's origin.
    let a: LocalServer | undefined;
    let b: LocalServer | undefined;
    for (let i = 0; i < 5 && a === undefined; i++) {
      b = await startServer();
      a = await startServer(Math.floor(b.port / 10)).catch(() => undefined);
    }
    if (a === undefined || b === undefined) throw new Error("no free pair of ports such as 4123 and 41234");
    expect(b.origin.startsWith(a.origin)).toBe(true);
    const t = transport();
    await get(t, `${a.origin}/first`);
    await get(t, `${b.origin}/second?to=${a.origin}/x`);
    await get(t, `${a.origin}/third`);
    expect(a.seen.map((s) => [s.target, s.host])).toEqual([
      ["/first", `127.0.0.1:${a.port}`],
      ["/third", `127.0.0.1:${a.port}`],
    ]);
    expect(b.seen.map((s) => [s.target, s.host])).toEqual([[`/second?to=${a.origin}/x`, `127.0.0.1:${b.port}`]]);
    expect(slowPathCalls).not.toHaveBeenCalled(); // all three on the fast path, each to its own origin's lanes
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Lanes: connections follow the calls in flight
// ---------------------------------------------------------------------------------------------------------------

const LANE = 32;

describe("lanes: the connections follow the calls in flight", { timeout: WAIT }, () => {
  it.each([100, 40, 32, 1])(
    "%i calls in flight, 4 rounds back to back: at most one lane more connections",
    async (n) => {
      const local = await startServer();
      releaseEvery(local, n);
      const t = transport();
      // The server answers only once n calls have arrived: no cap below n, or this never finishes.
      await inFlight(t, `${local.origin}/v1/admin/user/1/features`, n, 1);
      expect(local.connections()).toBe(n); // n calls held at once need n connections (no pipelining)

      // Each loop sends its next call the moment its answer is read; an uncapped undici pool opens ~n more per round.
      await inFlight(t, `${local.origin}/v1/admin/user/1/features`, n, 4);
      expect(local.seen).toHaveLength(5 * n);
      expect(local.connections()).toBeLessThanOrEqual(Math.ceil(n / LANE) * LANE);
      expect(local.connections()).toBeLessThanOrEqual(n + LANE);
      expect(slowPathCalls).not.toHaveBeenCalled();
    },
  );

  it("connections opened for a burst are reused by the next, over the same sockets", async () => {
    const local = await startServer();
    const n = 100;
    releaseEvery(local, n);
    const t = transport();
    const url = `${local.origin}/v1/admin/user/1/features`;
    await inFlight(t, url, n, 1);
    const firstSockets = new Set(local.seen.map((s) => s.socket));
    expect(firstSockets.size).toBe(n);
    // Every answer of the burst has been read before the next starts: the next finds every connection free.
    for (let round = 0; round < 3; round++) {
      await settle();
      local.seen.length = 0;
      await inFlight(t, url, n, 1);
      expect(new Set(local.seen.map((s) => s.socket))).toEqual(firstSockets);
    }
    expect(local.connections()).toBe(n);
  });

  it("a burst above what the lanes hold opens a new lane rather than queueing behind the full ones", async () => {
    const local = await startServer();
    releaseEvery(local, 10);
    const t = transport();
    const url = `${local.origin}/x`;
    await inFlight(t, url, 10, 1); // one lane, 10 connections
    releaseEvery(local, 3 * LANE + 1);
    // 97 calls held at once need 97 connections; lanes of at most 32 hold them as 32 + 32 + 32 + 1, so exactly 97
    // although the first 10 connections are not yet reusable when the burst starts.
    await inFlight(t, url, 3 * LANE + 1, 1);
    expect(local.connections()).toBe(3 * LANE + 1);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// close()
// ---------------------------------------------------------------------------------------------------------------

describe("close()", { timeout: WAIT }, () => {
  it("waits for the calls in flight, closes every socket, and later calls fail without reaching the server", async () => {
    const local = await startServer();
    const n = 40; // two lanes
    releaseEvery(local, n);
    const t = transport();
    const url = `${local.origin}/v1/admin/user/1/features`;
    await inFlight(t, url, n, 1);
    expect(local.open.size).toBe(n);

    await settle();
    // n calls in flight, held by the server; close() is called meanwhile, and they are answered after.
    const held: ServerResponse[] = [];
    local.handle = (_req, res) => held.push(res);
    const calls = Array.from({ length: n }, () => get(t, url).then((answer) => answer.body));
    await vi.waitFor(() => expect(held).toHaveLength(n));
    const closing = close(t);
    for (const res of held) res.end("ok");
    expect(await Promise.all(calls)).toEqual(Array(n).fill("ok"));
    expect(local.connections()).toBe(n); // over the same connections
    await closing;

    await local.allClosed();
    expect(local.open.size).toBe(0);

    const before = local.connections();
    // Calls after close fail at once, with one message whatever the URL, and never reach undici.
    slowPathCalls.mockClear();
    await expect(get(t, url)).rejects.toThrow("the client was closed");
    await expect(get(t, `${local.origin}/a b`)).rejects.toThrow("the client was closed");
    expect(slowPathCalls).not.toHaveBeenCalled();
    expect(local.connections()).toBe(before);
    expect(local.seen).toHaveLength(2 * n);
  });

  it("before any call: later calls fail with 'the client was closed', and undici is never loaded", async () => {
    const local = await startServer();
    const t = transport();
    await close(t);
    await expect(get(t, `${local.origin}/x`)).rejects.toThrow("the client was closed");
    await expect(get(t, `${local.origin}/a b`)).rejects.toThrow("the client was closed");
    expect(slowPathCalls).not.toHaveBeenCalled();
    expect(local.connections()).toBe(0);
  });

  it("closes the old path's connections too", async () => {
    const local = await startServer();
    const t = transport();
    await get(t, `${local.origin}/fast`);
    await get(t, `${local.origin}/slow/../path`);
    expect(slowPathCalls).toHaveBeenCalledTimes(1);
    expect(local.seen.map((s) => s.target)).toEqual(["/fast", "/path"]);
    expect(local.open.size).toBeGreaterThan(0);
    await close(t);
    await local.allClosed();
    expect(local.open.size).toBe(0);
  });

  // Once undici was loaded, a call made right after close() (not awaited) used to slip out on the fast path.
  it("a call made after close() was called, before it resolves, fails too", async () => {
    const local = await startServer();
    const t = transport();
    await get(t, `${local.origin}/first`);
    const closing = close(t);
    const late = get(t, `${local.origin}/late`).then(
      () => "answered",
      () => "failed",
    );
    await closing;
    expect(await late).toBe("failed");
    expect(local.seen.map((s) => s.target)).toEqual(["/first"]);
  });

  // undici 7 rejects close() on a dispatcher already closed: `await using pod = …` plus an explicit
  // `await pod.close()` used to throw.
  it("close() twice resolves both times", async () => {
    const local = await startServer();
    const t = transport();
    await get(t, `${local.origin}/x`);
    await close(t);
    await expect(t.close()).resolves.toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Through the public API
// ---------------------------------------------------------------------------------------------------------------

describe("createPodClient without a fetch uses this transport", { timeout: WAIT }, () => {
  it("one listFeatures call over a local socket, then pod.close() closes it and later calls fail", async () => {
    const local = await startServer();
    const pod = createPodClient({ baseUrl: `${local.origin}/pod`, sessionToken: "local-token" });
    expect(await pod.users.listFeatures(7215545057281n)).toEqual([]);
    expect(local.seen.map(({ target, host, sessionToken }) => ({ target, host, sessionToken }))).toEqual([
      {
        target: "/pod/v1/admin/user/7215545057281/features",
        host: `127.0.0.1:${local.port}`,
        sessionToken: "local-token",
      },
    ]);
    expect(slowPathCalls).not.toHaveBeenCalled(); // the pod's own URLs take the fast path
    expect(local.connections()).toBe(1);

    await pod.close();
    await local.allClosed();
    const error = await pod.users.listFeatures(7215545057281n, { retry: { maxAttempts: 1 } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PodNetworkError);
    expect(local.seen).toHaveLength(1);
    expect(local.connections()).toBe(1);
  });
});
