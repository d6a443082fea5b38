import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { delay, HttpResponse, http } from "msw";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PodError, PodUnauthorizedError } from "../src/core/errors.js";
import { AuthenticationError, readPrivateKeyFile, rsaAuthentication } from "../src/core/rsa-auth.js";
import { withoutCredentials } from "../src/core/urls.js";
import { BASE_URL, testClient, useMsw } from "./helpers.js";

const server = useMsw();

const ORIGIN = new URL(BASE_URL).origin; // BASE_URL is the pod's /pod URL
const LOGIN_URL = `${ORIGIN}/login/pubkey/authenticate`;
const USERNAME = "provisioning-bot";
const UID = "7215545057281";

const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PKCS8 = rsa.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const PKCS1 = rsa.privateKey.export({ type: "pkcs1", format: "pem" }).toString();
/** A run of the key's base64 body: if it shows up anywhere, key material leaked. */
const KEY_FRAGMENT = PKCS8.split("\n")[5] ?? "";

/** What the login endpoint saw, one entry per login. */
interface SeenLogin {
  url: string;
  method: string;
  contentType: string | null;
  body: string;
  jwt: string;
}

/** A login endpoint at `url` handing out session-1, session-2, …; `slowMs` keeps each login in flight a while. */
function loginEndpoint(url = LOGIN_URL, slowMs = 0): SeenLogin[] {
  const seen: SeenLogin[] = [];
  server.use(
    http.post(url, async ({ request }) => {
      const body = await request.text();
      seen.push({
        url: request.url,
        method: request.method,
        contentType: request.headers.get("content-type"),
        body,
        jwt: (JSON.parse(body) as { token: string }).token,
      });
      const n = seen.length;
      if (slowMs > 0) await delay(slowMs);
      return HttpResponse.json({ name: "sessionToken", token: `session-${n}` });
    }),
  );
  return seen;
}

function provider(overrides: Partial<Parameters<typeof rsaAuthentication>[0]> = {}) {
  return rsaAuthentication({
    podUrl: BASE_URL,
    username: USERNAME,
    privateKey: PKCS8,
    retry: { initialDelayMs: 1, maxDelayMs: 5 },
    ...overrides,
  });
}

/** Every way an error gets logged; none of them may carry a secret. */
function serializations(error: unknown): string[] {
  const e = error as Error;
  return [e.message, e.stack ?? "", JSON.stringify(error), inspect(error, { depth: 10 }), String(error)];
}

describe("rsaAuthentication: the login request", () => {
  it("POSTs { token } to <origin>/login/pubkey/authenticate and returns the session token", async () => {
    const seen = loginEndpoint();
    await expect(provider()()).resolves.toBe("session-1");
    expect(seen).toHaveLength(1);
    const [login] = seen;
    expect(login?.url).toBe(LOGIN_URL);
    expect(login?.method).toBe("POST");
    expect(login?.contentType).toBe("application/json");
    expect(JSON.parse(login?.body ?? "")).toEqual({ token: login?.jwt });
    expect(Object.keys(JSON.parse(login?.body ?? ""))).toEqual(["token"]);
  });

  it("signs an RS512 JWT for the username that verifies against the public key and expires within 5 minutes", async () => {
    const seen = loginEndpoint();
    const before = Math.floor(Date.now() / 1000);
    await provider()();
    const after = Math.ceil(Date.now() / 1000);
    const jwt = seen[0]?.jwt ?? "";
    expect(decodeProtectedHeader(jwt).alg).toBe("RS512");
    const { payload, protectedHeader } = await jwtVerify(jwt, rsa.publicKey, { algorithms: ["RS512"] });
    expect(protectedHeader.alg).toBe("RS512");
    expect(payload.sub).toBe(USERNAME);
    expect(payload.exp).toBeGreaterThan(after);
    expect(payload.exp).toBeLessThanOrEqual(before + 5 * 60);
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.iat).toBeLessThanOrEqual(after);
  });

  it("does not verify against another key pair (the check above can fail)", async () => {
    const seen = loginEndpoint();
    await provider()();
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 });
    await expect(jwtVerify(seen[0]?.jwt ?? "", other.publicKey)).rejects.toThrow();
  });

  it.each([
    ["PKCS#1 PEM", PKCS1],
    ["KeyObject", rsa.privateKey],
  ] as const)("accepts the key as a %s", async (_, privateKey) => {
    const seen = loginEndpoint();
    await provider({ privateKey })();
    const { payload } = await jwtVerify(seen[0]?.jwt ?? "", rsa.publicKey, { algorithms: ["RS512"] });
    expect(payload.sub).toBe(USERNAME);
  });

  it.each([
    ["a pod URL ending in /pod/", { podUrl: `${ORIGIN}/pod/` }, LOGIN_URL],
    ["a pod origin", { podUrl: ORIGIN }, LOGIN_URL],
    ["a pod behind a context path", { podUrl: `${ORIGIN}/corp/pod` }, `${ORIGIN}/corp/login/pubkey/authenticate`],
    [
      "a separate session-auth host, over podUrl",
      { podUrl: BASE_URL, authUrl: "https://acme-auth.pod.test/" },
      "https://acme-auth.pod.test/login/pubkey/authenticate",
    ],
    [
      "a session-auth host with a path, kept as is",
      { authUrl: "https://gw.pod.test/pod" },
      "https://gw.pod.test/pod/login/pubkey/authenticate",
    ],
  ])("logs in at the right URL for %s", async (_, urls, expected) => {
    const seen = loginEndpoint(expected);
    await rsaAuthentication({ username: USERNAME, privateKey: rsa.privateKey, ...urls })();
    expect(seen.map((s) => s.url)).toEqual([expected]);
  });

  it("sends through the given fetch", async () => {
    const seen = loginEndpoint();
    const urls: string[] = [];
    const token = await provider({
      fetch: (input, init) => {
        urls.push(input);
        return fetch(input, init);
      },
    })();
    expect(token).toBe("session-1");
    expect(urls).toEqual([LOGIN_URL]);
    expect(seen).toHaveLength(1);
  });
});

describe("rsaAuthentication: one login per need", () => {
  it("concurrent calls share one in-flight login", async () => {
    const seen = loginEndpoint(LOGIN_URL, 30);
    const getToken = provider();
    const tokens = await Promise.all(Array.from({ length: 50 }, () => getToken()));
    expect(seen).toHaveLength(1);
    expect(new Set(tokens)).toEqual(new Set(["session-1"]));
  });

  it("a call after the login settled logs in afresh (the client calls only when it needs a new token)", async () => {
    const seen = loginEndpoint();
    const getToken = provider();
    expect(await getToken()).toBe("session-1");
    expect(await getToken()).toBe("session-2");
    expect(seen).toHaveLength(2);
  });

  it("a failed login is not shared with later calls", async () => {
    let logins = 0;
    server.use(
      http.post(LOGIN_URL, () => {
        logins++;
        return logins === 1
          ? HttpResponse.json({ code: 401, message: "Invalid JWT" }, { status: 401 })
          : HttpResponse.json({ name: "sessionToken", token: "session-2" });
      }),
    );
    const getToken = provider();
    await expect(getToken()).rejects.toBeInstanceOf(AuthenticationError);
    await expect(getToken()).resolves.toBe("session-2");
  });

  it("two clients sharing the provider start with one login", async () => {
    const seen = loginEndpoint(LOGIN_URL, 30);
    const sessionToken = provider();
    const tokensSeen: (string | null)[] = [];
    server.use(
      http.get(`${BASE_URL}/v1/admin/user/${UID}/features`, ({ request }) => {
        tokensSeen.push(request.headers.get("sessionToken"));
        return HttpResponse.json([]);
      }),
    );
    const a = testClient({ sessionToken });
    const b = testClient({ sessionToken });
    await Promise.all([a.users.listFeatures(UID), b.users.listFeatures(UID)]);
    expect(seen).toHaveLength(1);
    expect(tokensSeen).toEqual(["session-1", "session-1"]);
  });
});

describe("rsaAuthentication with createPodClient", () => {
  it("a 401 in the middle of 300 concurrent calls causes exactly one new login, and every call completes", async () => {
    const seen = loginEndpoint(LOGIN_URL, 20);
    const expired = new Set<string>();
    let served = 0;
    let refused = 0;
    server.use(
      http.post(`${BASE_URL}/v1/admin/user/:uid/features/update`, async ({ request }) => {
        const token = request.headers.get("sessionToken") ?? "";
        await delay(5);
        if (!token.startsWith("session-") || expired.has(token)) {
          refused++;
          return HttpResponse.json({ code: 401, message: "Invalid session" }, { status: 401 });
        }
        // The first session expires after 100 answers, while ~200 calls using it are still in flight.
        if (++served === 100) expired.add("session-1");
        return HttpResponse.json({ format: "TEXT", message: "OK" });
      }),
    );
    const pod = testClient({ sessionToken: provider() });
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        pod.users.updateFeatures(7215545057281n + BigInt(i), [{ entitlement: "canCreatePublicRoom", enabled: true }]),
      ),
    );
    expect(results).toHaveLength(300);
    expect(refused).toBeGreaterThan(0); // the 401s did happen mid-batch
    expect(seen).toHaveLength(2); // the first login, and one renewal
    expect(served).toBe(300);
  });

  it("a refused login fails the pod call with AuthenticationError, not a pod 401", async () => {
    server.use(http.post(LOGIN_URL, () => HttpResponse.json({ code: 401, message: "Invalid JWT" }, { status: 401 })));
    const pod = testClient({ sessionToken: provider() });
    const error = await pod.users.listFeatures(UID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).not.toBeInstanceOf(PodUnauthorizedError);
  });
});

describe("AuthenticationError", () => {
  it("names the username, the URL, the status and the pod's message, and no secret", async () => {
    const seen: string[] = [];
    server.use(
      http.post(LOGIN_URL, async ({ request }) => {
        seen.push(((await request.json()) as { token: string }).token);
        return HttpResponse.json({ code: 401, message: "Invalid JWT" }, { status: 401 });
      }),
    );
    const error = await provider()().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toBeInstanceOf(PodError);
    expect(error).toMatchObject({
      name: "AuthenticationError",
      username: USERNAME,
      url: LOGIN_URL,
      status: 401,
      code: 401,
      podMessage: "Invalid JWT",
      attempts: 1,
    });
    const { message } = error as AuthenticationError;
    expect(message).toContain(USERNAME);
    expect(message).toContain(LOGIN_URL);
    expect(message).toContain("401");
    expect(message).toContain("Invalid JWT");
    const jwt = seen[0] ?? "";
    expect(jwt.length).toBeGreaterThan(100);
    expect(KEY_FRAGMENT.length).toBeGreaterThan(40);
    for (const text of serializations(error)) {
      expect(text).not.toContain(jwt);
      expect(text).not.toContain(jwt.split(".")[2]); // the signature alone
      expect(text).not.toContain(KEY_FRAGMENT);
      expect(text).not.toContain("PRIVATE KEY");
    }
    expect(JSON.parse(JSON.stringify(error))).toMatchObject({ username: USERNAME, url: LOGIN_URL, status: 401 });
  });

  it("redacts a JWT the server echoes back, even in a non-JSON body cut short", async () => {
    let jwt = "";
    server.use(
      http.post(LOGIN_URL, async ({ request }) => {
        jwt = ((await request.json()) as { token: string }).token;
        return new HttpResponse(`bad token ${jwt.slice(0, 150)}`, { status: 400 });
      }),
    );
    const error = (await provider()().catch((e: unknown) => e)) as AuthenticationError;
    expect(error.status).toBe(400);
    expect(error.podMessage).toBe("bad token [redacted]");
    for (const text of serializations(error)) expect(text).not.toContain(jwt.slice(0, 40));
  });

  it("403 and 400 are final: no retry", async () => {
    let logins = 0;
    server.use(
      http.post(LOGIN_URL, () => {
        logins++;
        return HttpResponse.json({ code: 403, message: "User is deactivated" }, { status: 403 });
      }),
    );
    await expect(provider()()).rejects.toMatchObject({ status: 403, podMessage: "User is deactivated" });
    expect(logins).toBe(1);
  });

  it("a 503 is retried with a freshly signed JWT", async () => {
    const jwts: string[] = [];
    server.use(
      http.post(LOGIN_URL, async ({ request }) => {
        jwts.push(((await request.json()) as { token: string }).token);
        return jwts.length === 1
          ? HttpResponse.json({ message: "busy" }, { status: 503 })
          : HttpResponse.json({ name: "sessionToken", token: "session-after-retry" });
      }),
    );
    await expect(provider()()).resolves.toBe("session-after-retry");
    expect(jwts).toHaveLength(2);
  });

  it("no answer after every retry is an AuthenticationError with the transport error as cause", async () => {
    let logins = 0;
    server.use(
      http.post(LOGIN_URL, () => {
        logins++;
        return HttpResponse.error();
      }),
    );
    const error = (await provider({ retry: { maxAttempts: 3, initialDelayMs: 1 } })().catch(
      (e: unknown) => e,
    )) as AuthenticationError;
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ username: USERNAME, url: LOGIN_URL, status: undefined, attempts: 3 });
    expect(error.cause).toBeInstanceOf(Error);
    expect(error.message).toContain("could not reach");
    expect(logins).toBe(3);
    for (const text of serializations(error)) expect(text).not.toContain(KEY_FRAGMENT);
  });

  it("a timed-out login says so", async () => {
    server.use(
      http.post(LOGIN_URL, async () => {
        await delay(500);
        return HttpResponse.json({ name: "sessionToken", token: "too-late" });
      }),
    );
    const error = await provider({ timeoutMs: 20, retry: { maxAttempts: 1 } })().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: "AuthenticationError", timedOut: true, status: undefined });
  });

  it("a 200 without a token is an AuthenticationError", async () => {
    server.use(http.post(LOGIN_URL, () => HttpResponse.json({ name: "sessionToken" })));
    await expect(provider()()).rejects.toMatchObject({
      status: 200,
      podMessage: "the answer carried no session token",
    });
  });
});

describe("rsaAuthentication: a wrong key or option fails at construction, before any request", () => {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  const small = generateKeyPairSync("rsa", { modulusLength: 1024 });
  const EC_PEM = ec.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const cases: [string, string | KeyObject, RegExp][] = [
    ["an EC private key (PEM)", EC_PEM, /ec private key; an RSA private key is needed/],
    ["an EC private key (KeyObject)", ec.privateKey, /ec private key/],
    ["an Ed25519 private key", ed.privateKey, /ed25519 private key/],
    [
      "an RSA public key (PEM)",
      rsa.publicKey.export({ type: "spki", format: "pem" }).toString(),
      /public key; pass the private key/,
    ],
    [
      "an RSA public key (PKCS#1 PEM)",
      rsa.publicKey.export({ type: "pkcs1", format: "pem" }).toString(),
      /public key; pass the private key/,
    ],
    ["an RSA public key (KeyObject)", rsa.publicKey, /public key; an RSA private key is needed/],
    ["a 1024-bit RSA key", small.privateKey, /1024-bit RSA key/],
    ["a garbage string", "not a key at all", /not a readable private key/],
    ["an empty string", "", /not a readable private key/],
    [
      "an encrypted PEM",
      rsa.privateKey
        .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw-123456" })
        .toString(),
      /encrypted/,
    ],
  ];

  it.each(cases)("%s", (_, privateKey, why) => {
    // msw has no handler: a request would fail the test.
    let thrown: unknown;
    try {
      rsaAuthentication({ podUrl: BASE_URL, username: USERNAME, privateKey });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TypeError);
    expect((thrown as Error).message).toMatch(why);
    const material = typeof privateKey === "string" ? privateKey.split("\n")[1] : undefined;
    for (const text of serializations(thrown)) {
      if (material) expect(text).not.toContain(material);
      expect(text).not.toContain(EC_PEM.split("\n")[1]);
    }
  });

  it.each([
    ["no URL", { podUrl: undefined }, /needs podUrl/],
    ["a podUrl that is not a URL", { podUrl: "acme.symphony.com" }, /podUrl is not a valid URL/],
    ["an authUrl that is not http(s)", { authUrl: "ftp://acme.symphony.com" }, /authUrl must be an http/],
    ["no username", { username: "" }, /username is required/],
    ["a zero timeout", { timeoutMs: 0 }, /timeoutMs/],
    ["a bad retry policy", { retry: { maxAttempts: 0 } }, /retry.maxAttempts/],
    ["a non-function fetch", { fetch: "fetch" as never }, /fetch must be a function/],
  ] as const)("%s", (_, overrides, why) => {
    expect(() =>
      rsaAuthentication({ podUrl: BASE_URL, username: USERNAME, privateKey: rsa.privateKey, ...overrides }),
    ).toThrow(why);
  });
});

describe("readPrivateKeyFile", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pod-admin-auth-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("reads a PKCS#1 or PKCS#8 PEM file into a key the provider signs with", async () => {
    for (const [name, pem] of [
      ["pkcs1.pem", PKCS1],
      ["pkcs8.pem", PKCS8],
    ] as const) {
      const path = join(dir, name);
      await writeFile(path, pem);
      const key = await readPrivateKeyFile(path);
      expect(key.type).toBe("private");
      const seen = loginEndpoint();
      await provider({ privateKey: key })();
      await expect(jwtVerify(seen[0]?.jwt ?? "", rsa.publicKey)).resolves.toBeDefined();
    }
  });

  it("names the file, never its content, when it holds no RSA private key", async () => {
    const path = join(dir, "ec.pem");
    const pem = generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString();
    await writeFile(path, pem);
    const error = await readPrivateKeyFile(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain(path);
    for (const text of serializations(error)) expect(text).not.toContain(pem.split("\n")[1]);
  });

  it("passes a missing file's fs error through", async () => {
    await expect(readPrivateKeyFile(join(dir, "missing.pem"))).rejects.toMatchObject({ code: "ENOENT" });
  });
});

describe("URL credentials never reach a message, however the password is spelled", () => {
  const passwords = ["hunter2", "hunter2-p/ss", "a?b#c", "p@ss"];
  it.each(passwords)("rsaAuthentication: a podUrl with password %j that does not parse", (password) => {
    const podUrl = `https://alice:${password}@acme.symphony.com:99999/pod`;
    const error = (() => {
      try {
        rsaAuthentication({
          podUrl,
          username: "bot",
          privateKey: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey,
        });
      } catch (e) {
        return e as Error;
      }
      throw new Error("expected a TypeError");
    })();
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toContain("podUrl is not a valid URL");
    expect(error.message).not.toContain(password);
    expect(error.message).not.toContain("alice");
  });

  it.each(passwords)("withoutCredentials cuts the password %j", (password) => {
    expect(withoutCredentials(`http://admin:${password}@host:99999/pod`)).toBe("http://host:99999/pod");
    expect(withoutCredentials(` \thttp://admin:${password}@ho st/pod`)).toBe(" \thttp://ho st/pod");
  });

  it("createPodClient: a baseUrl with blanks before it or inside it never quotes its password", () => {
    for (const baseUrl of [
      " http://admin:hunter2@host/pod",
      "\thttp://admin:hunter2@ho st/pod",
      "http://admin:pa/ss@host/pod",
    ]) {
      expect(() => testClient({ baseUrl })).toThrow(TypeError);
      try {
        testClient({ baseUrl });
      } catch (error) {
        expect((error as Error).message).not.toMatch(/hunter2|pa\/ss|admin/);
      }
    }
  });
});
