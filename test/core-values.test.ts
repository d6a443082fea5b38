/**
 * The core's value rules, each pinned by its exact result or its exact error: lossless JSON (src/json.ts), user ids
 * (src/ids.ts), URLs given by the user (src/urls.ts) and the retry policy's arithmetic (src/retry.ts). Found missing
 * by mutation testing (docs/mutation-testing.md): each case here fails when the rule it names is broken.
 */
import { describe, expect, it, vi } from "vitest";
import { canonicalUserId, userIdToDecimal } from "../src/core/ids.js";
import {
  JsonTooDeepError,
  MAX_JSON_DEPTH,
  mayHoldUnsafeInteger,
  nestedDeeperThan,
  parseJsonLossless,
  parseJsonNumbersAsText,
} from "../src/core/json.js";
import {
  backoffDelay,
  checkTimeoutMs,
  isRetryableStatus,
  parseRetryAfter,
  resolveRetry,
  sleep,
} from "../src/core/retry.js";
import { checkHttpUrl, hasCredentials, withoutCredentials } from "../src/core/urls.js";
import { createPodClient, DEFAULT_RETRY, ValidationError } from "../src/index.js";

describe("parseJsonLossless: only integers beyond 2^53 become bigint", () => {
  it("keeps safe integers, decimals, exponents and other values as JSON.parse gives them", () => {
    const text = '{"big":9007199254740993,"small":5,"half":1.5,"exp":1e3,"neg":-9223372036854775808,"s":"x","n":null}';
    const parsed = parseJsonLossless(text) as Record<string, unknown>;
    expect(parsed).toStrictEqual({
      big: 9007199254740993n,
      small: 5,
      half: 1.5,
      exp: 1000,
      neg: -9223372036854775808n,
      s: "x",
      n: null,
    });
    expect(typeof parsed.small).toBe("number");
  });

  it("an integer of 16+ digits that is still safe stays a number", () => {
    expect(parseJsonLossless("[1000000000000000, 9007199254740991, 9007199254740992]")).toStrictEqual([
      1000000000000000,
      9007199254740991,
      9007199254740992n,
    ]);
  });

  it("mayHoldUnsafeInteger is true from a run of 16 digits anywhere, false below", () => {
    expect(mayHoldUnsafeInteger('{"userId":9007199254740993}')).toBe(true);
    expect(mayHoldUnsafeInteger("[1234567890123456]")).toBe(true);
    expect(mayHoldUnsafeInteger("[123456789012345, 1]")).toBe(false);
    expect(mayHoldUnsafeInteger("")).toBe(false);
  });
});

describe("nesting depth: counted over arrays and objects, never inside strings", () => {
  it("counts the deepest level, not the number of brackets", () => {
    expect(nestedDeeperThan("[[[]]]", 3)).toBe(false);
    expect(nestedDeeperThan("[[[]]]", 2)).toBe(true);
    expect(nestedDeeperThan('{"a":{"b":{}}}', 2)).toBe(true);
    // Siblings close before the next opens: ] and } both close a level.
    expect(nestedDeeperThan("[[],[],[],[]]", 2)).toBe(false);
    expect(nestedDeeperThan('[{},{},{"a":{}},{}]', 3)).toBe(false);
    expect(nestedDeeperThan('{"a":[],"b":[],"c":[[]]}', 2)).toBe(true);
  });

  it("skips strings, escaped quotes included, up to the quote that ends them", () => {
    expect(nestedDeeperThan('["[[[[", "{{{{"]', 1)).toBe(false);
    expect(nestedDeeperThan('["]]]]", [[1]]]', 2)).toBe(true);
    expect(nestedDeeperThan('["\\"[[[[", 1]', 1)).toBe(false); // a quote escaped by one backslash
    expect(nestedDeeperThan('["\\\\\\"[[[[", 1]', 1)).toBe(false); // by three
    expect(nestedDeeperThan('["\\\\", [[1]]]', 2)).toBe(true); // two backslashes: the quote ends the string
    expect(nestedDeeperThan('["a\\\\", [[1]]]', 2)).toBe(true);
    // The text at the example in the docs: three levels after a string full of brackets.
    expect(nestedDeeperThan('[[["]]]]]]"]]]', 2)).toBe(true);
  });

  it("a string that never ends holds everything after its quote", () => {
    expect(nestedDeeperThan('["[[[[', 1)).toBe(false);
    expect(nestedDeeperThan('[[["', 2)).toBe(true);
  });

  it("both lossless parsers refuse text deeper than 100 levels with JsonTooDeepError, and read 100", () => {
    const deep = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
    for (const parse of [parseJsonLossless, parseJsonNumbersAsText]) {
      expect(() => parse(deep(MAX_JSON_DEPTH))).not.toThrow();
      const error = (() => {
        try {
          parse(deep(20_000));
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(JsonTooDeepError);
      expect(String(error)).toBe("JsonTooDeepError: nested deeper than 100 levels of arrays and objects");
    }
  });

  it("parseJsonNumbersAsText gives every number as it is written", () => {
    expect(parseJsonNumbersAsText('{"a":[1e3, 3.0, -5, 7],"b":"1e3"}')).toStrictEqual({
      a: ["1e3", "3.0", "-5", "7"],
      b: "1e3",
    });
  });
});

describe("canonicalUserId: a positive int64 as canonical decimal, or undefined", () => {
  it.each([
    ["7", "7"],
    ["007", "7"],
    ["012345678901234", "12345678901234"],
    ["123456789012345", "123456789012345"],
    ["1234567890123456", "1234567890123456"],
    ["0000000000000000001", "1"],
    ["9223372036854775807", "9223372036854775807"],
  ])("the string %j is %j", (input, expected) => {
    expect(canonicalUserId(input)).toBe(expected);
  });

  it.each([
    "",
    "0",
    "000",
    "-1",
    "+1",
    " 1",
    "1 ",
    "1.0",
    "1e3",
    "12a",
    "a12",
    "9223372036854775808",
    "99999999999999999999",
  ])("the string %j is not a user id", (input) => {
    expect(canonicalUserId(input)).toBeUndefined();
  });

  it("bigints from 1 to 2^63 - 1", () => {
    expect(canonicalUserId(1n)).toBe("1");
    expect(canonicalUserId(9223372036854775807n)).toBe("9223372036854775807");
    expect(canonicalUserId(0n)).toBeUndefined();
    expect(canonicalUserId(-5n)).toBeUndefined();
    expect(canonicalUserId(9223372036854775808n)).toBeUndefined();
  });

  it("safe positive integer numbers only", () => {
    expect(canonicalUserId(1)).toBe("1");
    expect(canonicalUserId(7215545057281)).toBe("7215545057281");
    expect(canonicalUserId(Number.MAX_SAFE_INTEGER)).toBe("9007199254740991");
    for (const value of [0, -3, 1.5, 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(canonicalUserId(value)).toBeUndefined();
    }
  });

  it("anything else is undefined", () => {
    for (const value of [null, undefined, true, {}, [1], Symbol("1")]) expect(canonicalUserId(value)).toBeUndefined();
  });
});

describe("userIdToDecimal: says why a value is not a user id", () => {
  function refusal(value: unknown) {
    try {
      userIdToDecimal(value, "items[3].uid");
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const { field, rule, message } = error as ValidationError;
      return { field, rule, message };
    }
    throw new Error("expected a ValidationError");
  }

  it("returns the canonical form of a valid id", () => {
    expect(userIdToDecimal("0042", "uid")).toBe("42");
    expect(userIdToDecimal(42n, "uid")).toBe("42");
    expect(userIdToDecimal(42, "uid")).toBe("42");
  });

  it("a number that is not a safe integer asks for a bigint or a string", () => {
    expect(refusal(2 ** 53)).toStrictEqual({
      field: "items[3].uid",
      rule: "safe integer",
      message:
        "items[3].uid: 9007199254740992 is not a safe integer; pass a bigint or a decimal string so no digit of the int64 is lost",
    });
    expect(refusal(1.5).rule).toBe("safe integer");
  });

  it("a safe integer number that is not positive", () => {
    expect(refusal(0)).toStrictEqual({
      field: "items[3].uid",
      rule: "positive int64",
      message: "items[3].uid: 0 is not a positive user id",
    });
    expect(refusal(-7).message).toBe("items[3].uid: -7 is not a positive user id");
  });

  it("a string that is not decimal is quoted, cut to 40 characters", () => {
    expect(refusal("12a")).toStrictEqual({
      field: "items[3].uid",
      rule: "decimal",
      message: 'items[3].uid: "12a" is not a decimal user id',
    });
    expect(refusal("x".repeat(50)).message).toBe(`items[3].uid: "${"x".repeat(40)}" is not a decimal user id`);
  });

  it("a decimal string or a bigint out of range", () => {
    expect(refusal("9223372036854775808")).toStrictEqual({
      field: "items[3].uid",
      rule: "positive int64",
      message: "items[3].uid: 9223372036854775808 is not a positive int64 user id",
    });
    expect(refusal("000")).toStrictEqual({
      field: "items[3].uid",
      rule: "positive int64",
      message: "items[3].uid: 0 is not a positive int64 user id",
    });
    expect(refusal(-1n).message).toBe("items[3].uid: -1 is not a positive int64 user id");
  });

  it("any other type names what it got", () => {
    expect(refusal(null)).toStrictEqual({
      field: "items[3].uid",
      rule: "required",
      message: "items[3].uid: expected a user id (number, bigint or decimal string), got null",
    });
    expect(refusal(undefined).message).toBe(
      "items[3].uid: expected a user id (number, bigint or decimal string), got undefined",
    );
    expect(refusal({}).message).toBe("items[3].uid: expected a user id (number, bigint or decimal string), got object");
  });
});

describe("URLs given by the user", () => {
  it("withoutCredentials takes out user:password@ up to the last @, whatever the scheme", () => {
    expect(withoutCredentials("https://admin:pw@acme.symphony.com/pod")).toBe("https://acme.symphony.com/pod");
    expect(withoutCredentials("HTTPS://a:b@c@host/")).toBe("HTTPS://host/");
    expect(withoutCredentials("ftp://u@host")).toBe("ftp://host");
    expect(withoutCredentials("https://acme.symphony.com/pod")).toBe("https://acme.symphony.com/pod");
    expect(withoutCredentials("mailto:someone@acme.com")).toBe("mailto:acme.com");
    expect(withoutCredentials("someone@acme.com")).toBe("someone@acme.com");
    expect(withoutCredentials("https://u:p\n@host/")).toBe("https://host/");
  });

  it("hasCredentials", () => {
    expect(hasCredentials("https://admin:pw@acme.symphony.com/pod")).toBe(true);
    expect(hasCredentials("https://acme.symphony.com/pod")).toBe(false);
  });

  it("checkHttpUrl returns the parsed URL, or a TypeError naming the field by default", () => {
    expect(checkHttpUrl("https://acme.symphony.com/pod", "baseUrl").href).toBe("https://acme.symphony.com/pod");
    expect(checkHttpUrl("http://127.0.0.1:8080/", "baseUrl").port).toBe("8080");
    const cases: [string, string][] = [
      ["not a url", 'baseUrl is not a valid URL: "not a url"'],
      ["ftp://acme.symphony.com/", 'baseUrl must be an http(s) URL, got "ftp://acme.symphony.com/"'],
      [
        "https://admin:pw@acme.symphony.com/",
        'baseUrl must not hold a user name or password ("https://acme.symphony.com/"): the pod authenticates with the session token',
      ],
      [
        "https://admin@acme.symphony.com/",
        'baseUrl must not hold a user name or password ("https://acme.symphony.com/"): the pod authenticates with the session token',
      ],
      [
        "https://@acme.symphony.com/",
        'baseUrl must not hold a user name or password ("https://acme.symphony.com/"): the pod authenticates with the session token',
      ],
      [
        "https://acme.symphony.com/pod?x=1",
        'baseUrl must not have a query or a fragment: "https://acme.symphony.com/pod?x=1"',
      ],
      [
        "https://acme.symphony.com/pod#top",
        'baseUrl must not have a query or a fragment: "https://acme.symphony.com/pod#top"',
      ],
    ];
    for (const [value, message] of cases) {
      expect(() => checkHttpUrl(value, "baseUrl")).toThrow(new TypeError(message));
      try {
        checkHttpUrl(value, "baseUrl");
      } catch (error) {
        expect(error).toBeInstanceOf(TypeError);
      }
    }
  });

  it("checkHttpUrl builds its error with makeError and shows the URL with show", () => {
    class Usage extends Error {}
    const thrown = (() => {
      try {
        checkHttpUrl(
          "https://u:pw@host/",
          "--pod",
          (message) => new Usage(message),
          (safe) => `<${safe}>`,
        );
      } catch (error) {
        return error;
      }
    })();
    expect(thrown).toBeInstanceOf(Usage);
    expect((thrown as Error).message).toBe(
      "--pod must not hold a user name or password (<https://host/>): the pod authenticates with the session token",
    );
  });

  it("createPodClient refuses a bad baseUrl with the same words", () => {
    expect(() => createPodClient({ baseUrl: "https://acme.symphony.com/pod?x", sessionToken: "t" })).toThrow(
      new TypeError('baseUrl must not have a query or a fragment: "https://acme.symphony.com/pod?x"'),
    );
  });
});

describe("retry policy arithmetic", () => {
  it("DEFAULT_RETRY is 5 attempts, 500 ms doubling to 8 s, Retry-After up to 60 s, and frozen", () => {
    expect(DEFAULT_RETRY).toStrictEqual({
      maxAttempts: 5,
      initialDelayMs: 500,
      maxDelayMs: 8_000,
      maxRetryAfterMs: 60_000,
    });
    expect(Object.isFrozen(DEFAULT_RETRY)).toBe(true);
  });

  it("429 and 5xx but 501 are retried; 1xx-4xx, 501 and above 599 are not", () => {
    for (const status of [429, 500, 502, 503, 504]) expect(isRetryableStatus(status), String(status)).toBe(true);
    for (const status of [100, 200, 204, 301, 400, 401, 403, 404, 409, 428, 430, 499, 501, 600, 700]) {
      expect(isRetryableStatus(status), String(status)).toBe(false);
    }
  });

  it("backoffDelay doubles from initialDelayMs, halves are fixed and random, capped by maxDelayMs", () => {
    const policy = { ...DEFAULT_RETRY, initialDelayMs: 100, maxDelayMs: 1_000 };
    expect(backoffDelay(1, policy, () => 0)).toBe(50);
    expect(backoffDelay(1, policy, () => 1)).toBe(100);
    expect(backoffDelay(2, policy, () => 0.5)).toBe(150);
    expect(backoffDelay(3, policy, () => 0)).toBe(200);
    expect(backoffDelay(4, policy, () => 1)).toBe(800);
    expect(backoffDelay(5, policy, () => 0)).toBe(500);
    expect(backoffDelay(12, policy, () => 1)).toBe(1_000);
  });

  it("parseRetryAfter: delta-seconds, blanks trimmed, or an HTTP date from now; nothing otherwise", () => {
    const now = Date.parse("Sat, 05 Dec 2026 19:00:00 GMT");
    expect(parseRetryAfter("3", now)).toBe(3_000);
    expect(parseRetryAfter(" 2 ", now)).toBe(2_000);
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Sat, 05 Dec 2026 19:00:07 GMT", now)).toBe(7_000);
    expect(parseRetryAfter("Sat, 05 Dec 2026 18:59:00 GMT", now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("5s", now)).toBeUndefined();
    expect(parseRetryAfter("x5", now)).toBeUndefined();
  });

  it("parseRetryAfter reads a date against the clock by default", () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const ms = parseRetryAfter(inTenSeconds) as number;
    expect(ms).toBeGreaterThan(8_000);
    expect(ms).toBeLessThanOrEqual(10_000);
  });

  it("resolveRetry merges over the base, ignores undefined values, and returns the base itself when nothing is given", () => {
    const base = { ...DEFAULT_RETRY };
    expect(resolveRetry(base, undefined, "retry")).toBe(base);
    expect(resolveRetry(base, { maxAttempts: 2, initialDelayMs: undefined }, "retry")).toStrictEqual({
      ...DEFAULT_RETRY,
      maxAttempts: 2,
    });
    expect(
      resolveRetry(base, { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 }, "r"),
    ).toStrictEqual({ maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 });
  });

  it("resolveRetry refuses what is not an object, unknown keys and bad values, naming the field", () => {
    const base = { ...DEFAULT_RETRY };
    const cases: [unknown, ErrorConstructor, string][] = [
      [null, TypeError, "call.retry must be an object such as { maxAttempts: 3 }, got null"],
      [3, TypeError, "call.retry must be an object such as { maxAttempts: 3 }, got a number"],
      [
        { retries: 3 },
        TypeError,
        "call.retry.retries is not a retry option; expected one of: maxAttempts, initialDelayMs, maxDelayMs, maxRetryAfterMs",
      ],
      [{ maxAttempts: 0 }, RangeError, "call.retry.maxAttempts must be an integer ≥ 1, got 0"],
      [{ maxAttempts: "3" }, TypeError, 'call.retry.maxAttempts must be an integer ≥ 1, got the string "3"'],
      [{ maxDelayMs: -1 }, RangeError, "call.retry.maxDelayMs must be a number of ms from 0 to 2147483647, got -1"],
      [
        { initialDelayMs: Number.NaN },
        RangeError,
        "call.retry.initialDelayMs must be a number of ms from 0 to 2147483647, got NaN",
      ],
      [
        { maxRetryAfterMs: Number.POSITIVE_INFINITY },
        RangeError,
        "call.retry.maxRetryAfterMs must be a number of ms from 0 to 2147483647, got Infinity",
      ],
      [
        { initialDelayMs: null },
        TypeError,
        "call.retry.initialDelayMs must be a number of ms from 0 to 2147483647, got null",
      ],
      // Beyond a Node timer's range a wait would fire after 1 ms.
      [
        { maxRetryAfterMs: 2 ** 31 },
        RangeError,
        "call.retry.maxRetryAfterMs must be a number of ms from 0 to 2147483647, got 2147483648",
      ],
    ];
    for (const [override, type, message] of cases) {
      let thrown: unknown;
      try {
        resolveRetry(base, override as never, "call.retry");
      } catch (error) {
        thrown = error;
      }
      expect(thrown, message).toBeInstanceOf(type);
      expect((thrown as Error).message).toBe(message);
    }
  });

  it("checkTimeoutMs takes 1 ms up to the longest Node timer, and refuses anything else naming the field", () => {
    expect(checkTimeoutMs(1, "timeoutMs")).toBe(1);
    expect(checkTimeoutMs(0.5, "timeoutMs")).toBe(0.5);
    expect(checkTimeoutMs(2_147_483_647, "timeoutMs")).toBe(2_147_483_647);
    for (const value of [0, -1, 2_147_483_648, Number.NaN, "30", undefined]) {
      let thrown: unknown;
      try {
        checkTimeoutMs(value, "login.timeoutMs");
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(RangeError);
      expect((thrown as Error).message).toBe(
        `login.timeoutMs must be a number of milliseconds from 1 to 2147483647, got ${String(value)}`,
      );
    }
  });
});

describe("sleep", () => {
  it("resolves after the time asked, at once for 0 or less", async () => {
    const started = performance.now();
    await sleep(30);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    let settled = false;
    const zero = sleep(0).then(() => {
      settled = true;
    });
    await Promise.resolve();
    expect(settled).toBe(true);
    await zero;
    await sleep(-5);
  });

  it("rejects with the signal's reason: at once when already aborted (even for 0 ms), promptly when it aborts", async () => {
    const reason = new Error("stop");
    await expect(sleep(0, AbortSignal.abort(reason))).rejects.toBe(reason);
    await expect(sleep(10_000, AbortSignal.abort(reason))).rejects.toBe(reason);
    const controller = new AbortController();
    const started = performance.now();
    const waiting = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(reason), 10);
    await expect(waiting).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("a sleep that ended leaves no listener on the signal: a later abort does nothing", async () => {
    const controller = new AbortController();
    const signal = controller.signal;
    const add = vi.spyOn(signal, "addEventListener");
    const remove = vi.spyOn(signal, "removeEventListener");
    await sleep(5, signal);
    expect(add.mock.calls.map(([type]) => type)).toStrictEqual(["abort"]);
    expect(remove.mock.calls.map(([type]) => type)).toStrictEqual(["abort"]);
    expect(remove.mock.calls[0]?.[1]).toBe(add.mock.calls[0]?.[1]);
    controller.abort(new Error("late"));
  });
});
