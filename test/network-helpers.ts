/**
 * Real network parts for the connection tests: an authenticating CONNECT proxy (the `proxy` package, a real HTTP
 * proxy server) that records every tunnel it opens, and a server that answers every request with a redirect.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createProxy } from "proxy";

export interface TestProxy {
  /** `http://127.0.0.1:PORT`, without credentials. */
  url: string;
  port: number;
  /** `host:port` of every CONNECT tunnel it opened (authenticated ones only). */
  tunnels: string[];
  /** Requests it refused with 407. */
  refused: number;
  close(): Promise<void>;
}

/** A real HTTP proxy with Basic authentication (`user`:`password`). */
export async function startProxy(user: string, password: string): Promise<TestProxy> {
  const server = createProxy(createServer());
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const state = { tunnels: [] as string[], refused: 0 };
  server.authenticate = (req: IncomingMessage) => {
    const ok = req.headers["proxy-authorization"] === expected;
    if (ok && req.method === "CONNECT") state.tunnels.push(req.url ?? "");
    if (!ok) state.refused++;
    return ok;
  };
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get tunnels() {
      return state.tunnels;
    },
    get refused() {
      return state.refused;
    },
    close: () => closeServer(server),
  };
}

export interface Redirector {
  url: string;
  /** Requests received: method, path and whether they carried a session token or a body. */
  received: { method: string; path: string; sessionToken: boolean; body: string }[];
  close(): Promise<void>;
}

/** A server that records what it receives: the target of a redirect, which must receive nothing. */
export async function startRecorder(status = 200, location?: string): Promise<Redirector> {
  const received: Redirector["received"] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      received.push({
        method: req.method ?? "",
        path: req.url ?? "",
        sessionToken: req.headers.sessiontoken !== undefined,
        body,
      });
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (location) headers.location = location;
      res.writeHead(status, headers);
      res.end(JSON.stringify({ token: "stolen-session", name: "sessionToken" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, received, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
