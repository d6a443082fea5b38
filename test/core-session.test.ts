/**
 * The session token holder and its breaker (src/auth.ts `SessionTokens`) with a token provider, driven directly with
 * a fake clock: one ask shared by concurrent callers, renewal after a refusal, the tokens kept for redaction, and the
 * breaker that stops asking after 3 refusals or failed asks in a row and lets one ask through after 60 s.
 * Through a client, the same rules are pinned in test/retry.test.ts and test/core-pipeline.test.ts.
 */
import { describe, expect, it } from "vitest";
import { SESSION_BREAKER_COOLDOWN_MS, SESSION_REFUSALS_TO_TRIP, SessionTokens } from "../src/core/auth.js";
import { createPodClient, PodError } from "../src/index.js";

/** A provider handing out token-1, token-2, …, counting its asks and what it was given. */
function counting() {
  const provider = Object.assign(
    (context?: unknown) => {
      provider.contexts.push(context);
      return `token-${++provider.asks}`;
    },
    { asks: 0, contexts: [] as unknown[] },
  );
  return provider;
}

/** A clock the test moves. */
function clock(start = 1_000_000) {
  const time = { now: start };
  return { time, now: () => time.now };
}

/** What a promise rejected with. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("SessionTokens: what it takes", () => {
  it("a non-empty string or a function; anything else is a TypeError, also from createPodClient", () => {
    expect(() => new SessionTokens("")).toThrow(new TypeError("sessionToken must not be empty"));
    expect(() => new SessionTokens(42 as never)).toThrow(
      new TypeError("sessionToken must be a string or a function returning one"),
    );
    expect(() => createPodClient({ baseUrl: "https://acme.symphony.com/pod", sessionToken: "" })).toThrow(TypeError);
    expect(() => createPodClient({ baseUrl: "https://acme.symphony.com/pod", sessionToken: null as never })).toThrow(
      new TypeError("sessionToken must be a string or a function returning one"),
    );
  });

  it("a string is current at once, synchronously, kept for redaction, and not renewable", () => {
    const tokens = new SessionTokens("plain-token");
    expect(tokens.current()).toBe("plain-token");
    expect(tokens.recent).toStrictEqual(["plain-token"]);
    expect(tokens.renewable).toBe(false);
    expect(tokens.blocked()).toBeUndefined();
  });

  const PRINTABLE = "; a session token is printable ASCII without spaces";
  const TRIM = ": was it read from a file with Windows line endings, or with a final newline? Trim it";
  it.each([
    ["tok\t42", `holds a tab${PRINTABLE}`],
    ["tok 42", `holds a space${PRINTABLE}`],
    ["tok\r\n42", `holds a carriage return (\\r)${PRINTABLE}`],
    ["tok\u001b42", `holds a control character (U+001B)${PRINTABLE}`],
    ["tok\u007f42", `holds a control character (U+007F)${PRINTABLE}`],
    ["tok42\u000b", `ends with a control character (U+000B)${TRIM}`], // a vertical tab: trim() takes it
    ["tok42\u0000", `holds a control character (U+0000)${PRINTABLE}`], // trim() does not take a NUL
    ["tok\u00e942", `holds a character outside printable ASCII${PRINTABLE}`],
    ["tok\u202e42", `holds a character outside printable ASCII${PRINTABLE}`],
    ["tok42\n", `ends with a line feed (\\n)${TRIM}`],
    ["tok42 ", `ends with a space${TRIM}`],
    ["tok42\r\n \t", `ends with a carriage return (\\r)${TRIM}`],
  ])("a token a header cannot carry, %j, is refused: sessionToken %s", (token, problem) => {
    expect(() => new SessionTokens(token)).toThrow(new TypeError(`sessionToken ${problem}`));
  });

  it("every printable ASCII character but the space is taken", () => {
    let all = "";
    for (let code = 0x21; code <= 0x7e; code++) all += String.fromCharCode(code);
    expect(new SessionTokens(all).current()).toBe(all);
    expect(new SessionTokens("!").current()).toBe("!");
    expect(new SessionTokens("~").current()).toBe("~");
  });

  it("a provider's token is checked by the same rule, its error a PodError saying the provider returned it", async () => {
    const tokens = new SessionTokens(() => "tok\u007f42");
    const error = await rejection(tokens.current() as Promise<string>);
    expect(error).toBeInstanceOf(PodError);
    expect((error as Error).message).toBe(
      `the token the sessionToken provider returned holds a control character (U+007F)${PRINTABLE}`,
    );
  });

  it("the breaker's constants: 3 refusals, 60 s", () => {
    expect(SESSION_REFUSALS_TO_TRIP).toBe(3);
    expect(SESSION_BREAKER_COOLDOWN_MS).toBe(60_000);
  });
});

describe("SessionTokens with a plain token: one call at a time after a refusal", () => {
  it("a call made after the refusal probes; one already under way when it came fails fast", async () => {
    const tokens = new SessionTokens("plain-token");
    expect(tokens.refusals).toBe(0);
    const early = tokens.refusals; // a call started before the pod refused the token (waiting for its turn)
    expect(tokens.admit(early)).toBeUndefined(); // not tripped yet: it may go
    const refused = await tokens.renew("plain-token").catch((e: unknown) => e);
    expect(refused).toMatchObject({ note: expect.stringContaining("no provider to renew it") });
    expect(tokens.refusals).toBe(1);
    // Started before the refusal: fails fast, with the reason, even though no probe is out.
    expect(tokens.admit(early)).toBe(refused);
    // Started after it: the one probe.
    const late = tokens.refusals;
    expect(tokens.admit(late)).toBe("probe");
    expect(tokens.admit(late)).toBe(refused); // one at a time
    tokens.released(); // the probe got no answer: the next call made after the refusal may probe
    expect(tokens.admit(late)).toBe("probe");
    await tokens.renew("plain-token").catch(() => undefined); // refused again
    expect(tokens.admit(late)).toBe(refused); // started before that second refusal
    expect(tokens.admit(tokens.refusals)).toBe("probe");
    tokens.accepted("plain-token"); // the pod took it again: closed for every call
    expect(tokens.admit(early)).toBeUndefined();
  });
});

describe("SessionTokens with a provider", () => {
  it("asks once for concurrent callers, passes the client's context, then answers synchronously", async () => {
    const provider = counting();
    const context = { send: async () => ({ status: 200, body: "", requestId: "r", attempts: 1 }) };
    const tokens = new SessionTokens(provider, Date.now, context);
    expect(tokens.renewable).toBe(true);
    expect(tokens.recent).toStrictEqual([]);
    const first = tokens.current();
    const second = tokens.current();
    expect(first).toBeInstanceOf(Promise);
    expect(second).toBe(first);
    // The provider is called on a later tick, never synchronously inside current().
    expect(provider.asks).toBe(0);
    expect(await first).toBe("token-1");
    expect(provider.asks).toBe(1);
    expect(provider.contexts).toStrictEqual([context]);
    expect(tokens.current()).toBe("token-1");
    expect(tokens.recent).toStrictEqual(["token-1"]);
  });

  it("renew(refused) asks again; the current and the previous token are kept for redaction", async () => {
    const provider = counting();
    const tokens = new SessionTokens(provider);
    await tokens.current();
    expect(await tokens.renew("token-1")).toBe("token-2");
    expect(tokens.current()).toBe("token-2");
    expect(tokens.recent).toStrictEqual(["token-2", "token-1"]);
    tokens.accepted("token-2");
    expect(await tokens.renew("token-2")).toBe("token-3");
    expect(tokens.recent).toStrictEqual(["token-3", "token-2"]);
    expect(provider.asks).toBe(3);
  });

  it("concurrent renewals of one refused token share one ask; a renewal for a token already replaced asks nothing", async () => {
    const provider = counting();
    const tokens = new SessionTokens(provider);
    await tokens.current();
    const a = tokens.renew("token-1");
    const b = tokens.renew("token-1");
    expect(b).toBe(a);
    expect(await a).toBe("token-2");
    // A call that was sent with token-1 and refused after the renewal gets token-2 without a new ask.
    expect(await tokens.renew("token-1")).toBe("token-2");
    expect(provider.asks).toBe(2);
  });

  it("3 tokens refused in a row without a success trip the breaker, and it says why", async () => {
    const provider = counting();
    const { now } = clock();
    const tokens = new SessionTokens(provider, now);
    await tokens.current();
    expect(await tokens.renew("token-1")).toBe("token-2");
    expect(await tokens.renew("token-2")).toBe("token-3");
    const blocked = await rejection(tokens.renew("token-3"));
    expect(blocked).toStrictEqual({
      note:
        "The pod refused 3 session tokens in a row, each new from the provider, so it is not asked again for 60 s: " +
        "check that the service account is enabled, holds its roles, and that its key is the one registered on the pod",
      cause: undefined,
    });
    expect(provider.asks).toBe(3);
    expect(tokens.blocked()).toBe(blocked);
    // Further renewals fail with the same reason, asking nothing.
    expect(await rejection(tokens.renew("token-3"))).toBe(blocked);
    expect(provider.asks).toBe(3);
  });

  it("a token the pod accepted counts as a success: its later refusal starts a new count", async () => {
    const provider = counting();
    const tokens = new SessionTokens(provider, clock().now);
    await tokens.current();
    await tokens.renew("token-1"); // 1 refusal
    await tokens.renew("token-2"); // 2 refusals
    tokens.accepted("token-3"); // worked: the count starts again
    expect(await tokens.renew("token-3")).toBe("token-4"); // 1
    expect(await tokens.renew("token-4")).toBe("token-5"); // 2
    await expect(tokens.renew("token-5")).rejects.toMatchObject({ note: expect.stringContaining("refused 3") });
    expect(provider.asks).toBe(5);
  });

  it("accepted() for a token that is not the current one, or a second time, changes nothing", async () => {
    const provider = counting();
    const tokens = new SessionTokens(provider, clock().now);
    await tokens.current();
    tokens.accepted("token-1");
    await tokens.renew("token-1"); // accepted before: count 1
    tokens.accepted("token-1"); // an old token: no reset
    await tokens.renew("token-2"); // 2
    await expect(tokens.renew("token-3")).rejects.toMatchObject({ note: expect.stringContaining("refused 3") });
    expect(provider.asks).toBe(3);
  });

  it("a call refused with the old token after a failed renewal asks again, without counting that token twice", async () => {
    let asks = 0;
    const tokens = new SessionTokens(() => {
      asks++;
      if (asks === 2) throw new Error("vault hiccup");
      return `token-${asks}`;
    }, clock().now);
    await tokens.current();
    await expect(tokens.renew("token-1")).rejects.toThrow("vault hiccup"); // token-1 refused (1), the ask failed (2)
    // Another call sent with token-1 is refused now: no new refusal to count, so the provider is asked again.
    expect(await tokens.renew("token-1")).toBe("token-3");
    expect(tokens.blocked()).toBeUndefined();
    expect(asks).toBe(3);
  });

  it("a provider returning no string fails the ask with a PodError", async () => {
    for (const value of [undefined, 42, null]) {
      const tokens = new SessionTokens(() => value as never);
      const error = await rejection(tokens.current() as Promise<string>);
      expect(error).toBeInstanceOf(PodError);
      expect((error as Error).message).toBe(
        "the sessionToken provider returned no token (expected a non-empty string)",
      );
      expect(tokens.recent).toStrictEqual([]);
    }
  });

  it("a provider that throws: its error is passed on; the third failure in a row trips the breaker, quoting it", async () => {
    let asks = 0;
    const cause = new Error("login refused (403)");
    const { now } = clock();
    const tokens = new SessionTokens(() => {
      asks++;
      throw cause;
    }, now);
    expect(await rejection(tokens.current() as Promise<string>)).toBe(cause);
    expect(tokens.blocked()).toBeUndefined();
    expect(await rejection(tokens.current() as Promise<string>)).toBe(cause);
    expect(tokens.blocked()).toBeUndefined();
    expect(await rejection(tokens.current() as Promise<string>)).toBe(cause);
    expect(tokens.blocked()).toStrictEqual({
      note: "Getting a session token failed 3 times in a row, so the provider is not asked again for 60 s (last: login refused (403))",
      cause,
    });
    expect(asks).toBe(3);
  });

  it("a provider rejecting with a value that is not an Error is quoted as text", async () => {
    const tokens = new SessionTokens(() => Promise.reject("vault sealed"), clock().now);
    for (let i = 0; i < 3; i++) expect(await rejection(tokens.current() as Promise<string>)).toBe("vault sealed");
    expect(tokens.blocked()?.note).toBe(
      "Getting a session token failed 3 times in a row, so the provider is not asked again for 60 s (last: vault sealed)",
    );
  });

  it("a failed ask is not kept: the next caller asks afresh", async () => {
    let asks = 0;
    const tokens = new SessionTokens(() => {
      asks++;
      if (asks === 1) throw new Error("flaky vault");
      return "token-2";
    });
    await expect(tokens.current()).rejects.toThrow("flaky vault");
    expect(await tokens.current()).toBe("token-2");
    expect(asks).toBe(2);
  });

  it("after 60 s one ask is let through (half-open); one more refusal trips it again at once", async () => {
    const provider = counting();
    const { time, now } = clock();
    const tokens = new SessionTokens(provider, now);
    await tokens.current();
    await tokens.renew("token-1");
    await tokens.renew("token-2");
    await expect(tokens.renew("token-3")).rejects.toHaveProperty("note");
    time.now += SESSION_BREAKER_COOLDOWN_MS - 1;
    expect(tokens.blocked()).toBeDefined();
    time.now += 1;
    expect(tokens.blocked()).toBeUndefined();
    // The ask the half-open breaker lets through.
    expect(await tokens.current()).toBe("token-4");
    expect(provider.asks).toBe(4);
    // token-4 refused: the breaker opens again, without a fifth ask.
    await expect(tokens.renew("token-4")).rejects.toMatchObject({ note: expect.stringContaining("refused 3") });
    expect(provider.asks).toBe(4);
    expect(tokens.blocked()).toBeDefined();
    // And rests another 60 s from then.
    time.now += SESSION_BREAKER_COOLDOWN_MS - 1;
    expect(tokens.blocked()).toBeDefined();
  });

  it("after 60 s a token that works closes the breaker for good", async () => {
    const provider = counting();
    const { time, now } = clock();
    const tokens = new SessionTokens(provider, now);
    await tokens.current();
    await tokens.renew("token-1");
    await tokens.renew("token-2");
    await expect(tokens.renew("token-3")).rejects.toHaveProperty("note");
    time.now += SESSION_BREAKER_COOLDOWN_MS;
    expect(tokens.blocked()).toBeUndefined();
    expect(await tokens.current()).toBe("token-4");
    tokens.accepted("token-4");
    expect(await tokens.renew("token-4")).toBe("token-5");
    expect(await tokens.renew("token-5")).toBe("token-6");
    expect(tokens.blocked()).toBeUndefined();
  });
});
