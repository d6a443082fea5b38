/**
 * The guards' pure parts: the nearest feature name, the `--max-changes` arithmetic (N, N%, the default cap of
 * destructive runs, `--yes`, undo without the default) and the reading of the guard options.
 */
import { describe, expect, it } from "vitest";
import { type GuardOptions, guardOptions } from "../src/cli/guard-options.js";
import { checkMaxChanges, nearestName } from "../src/cli/passes/guards.js";
import { DEFAULT_AVAILABLE_FEATURES } from "../src/simulator/index.js";

const none: GuardOptions = { maxChanges: undefined, yes: false, skipDisabled: false, exact: false, defaultCap: true };

describe("nearestName", () => {
  it("finds the listed name a slip away, whatever the case; none when every name is far", () => {
    expect(nearestName("canCreatePublicRooms", DEFAULT_AVAILABLE_FEATURES)).toBe("canCreatePublicRoom");
    expect(nearestName("cancreatepublicroom", DEFAULT_AVAILABLE_FEATURES)).toBe("canCreatePublicRoom");
    expect(nearestName("sendFileEnabled", DEFAULT_AVAILABLE_FEATURES)).toBe("sendFilesEnabled");
    expect(nearestName("isExternalIMEnabeld", DEFAULT_AVAILABLE_FEATURES)).toBe("isExternalIMEnabled");
    expect(nearestName("somethingElseEntirely", DEFAULT_AVAILABLE_FEATURES)).toBeUndefined();
    expect(nearestName("ab", ["xy"])).toBeUndefined();
  });
});

describe("checkMaxChanges", () => {
  it("N: refuses above N, not at N; --yes goes past", () => {
    const guards = guardOptions({ "max-changes": "10" }, {}, "features");
    expect(checkMaxChanges(10, 100, { guards }, false)).toBeUndefined();
    expect(checkMaxChanges(11, 100, { guards, onlyChanges: true }, false)).toBe(
      "this run changes 11 users that differ from what the pod holds, more than --max-changes 10 allows; give --yes to go past the cap",
    );
    expect(checkMaxChanges(11, 100, { guards: { ...guards, yes: true } }, false)).toBeUndefined();
  });

  it("N% is of the file's users, rounded down; POD_MAX_CHANGES when no flag", () => {
    const guards = guardOptions({}, { POD_MAX_CHANGES: "25%" }, "delegates");
    expect(checkMaxChanges(10, 41, { guards }, false)).toBeUndefined(); // 25 % of 41 = 10.25: 10 allowed
    expect(checkMaxChanges(11, 41, { guards }, false)).toContain("more than POD_MAX_CHANGES 25% of 41 (10) allows");
  });

  it("a destructive run without a cap stops above 500; not an undo, not a run that takes nothing away", () => {
    expect(checkMaxChanges(501, 501, { guards: none }, true)).toContain("more than the cap of destructive runs, 500");
    expect(checkMaxChanges(500, 500, { guards: none }, true)).toBeUndefined();
    expect(checkMaxChanges(501, 501, { guards: { ...none, defaultCap: false } }, true)).toBeUndefined();
    expect(checkMaxChanges(100_000, 100_000, { guards: none }, false)).toBeUndefined();
    // A cap given replaces the default, larger or smaller.
    const given = guardOptions({ "max-changes": "1000" }, {}, "appsReplace");
    expect(checkMaxChanges(900, 900, { guards: given }, true)).toBeUndefined();
  });
});

describe("guardOptions", () => {
  it("refuses a malformed cap, --exact where it means nothing, --skip-disabled for status", () => {
    expect(() => guardOptions({ "max-changes": "-1" }, {}, "features")).toThrow(/--max-changes must be a number/);
    expect(() => guardOptions({}, { POD_MAX_CHANGES: "ten" }, "features")).toThrow(/POD_MAX_CHANGES must be a number/);
    expect(() => guardOptions({ "max-changes": "101%" }, {}, "features")).toThrow(/got "101%"/);
    expect(() => guardOptions({ exact: true }, {}, "appsPatch")).toThrow(
      /--exact is for features apply and delegates apply/,
    );
    expect(() => guardOptions({ "skip-disabled": true }, {}, "status")).toThrow(/--skip-disabled does not apply/);
    expect(guardOptions({ "max-changes": " 5% " }, {}, "features").maxChanges).toEqual({
      count: 5,
      percent: true,
      text: "5%",
      from: "--max-changes",
    });
  });
});
