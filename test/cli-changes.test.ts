/**
 * changes.ts: whether an item differs from a user's current state, per operation, the `- old` / `+ new` lines,
 * the state recorded before a write, and the item that undoes it.
 */
import { describe, expect, it } from "vitest";
import { beforeEntry, differences, UNDO_OPERATION, undoItem } from "../src/cli/changes.js";
import type { AppEntitlement } from "../src/index.js";

const F = "canCreatePublicRoom";
const G = "sendFilesEnabled";

describe("features", () => {
  it("compares only the features the item names", () => {
    const current = [
      { entitlement: F, enabled: true },
      { entitlement: G, enabled: false },
    ];
    expect(differences("features", { uid: "1", features: [{ entitlement: F, enabled: true }] }, current)).toEqual([]);
    expect(differences("features", { uid: "1", features: [{ entitlement: G, enabled: true }] }, current)).toEqual([
      `- ${G}: false`,
      `+ ${G}: true`,
    ]);
  });

  it("shows a feature with no value as not set", () => {
    expect(differences("features", { uid: "1", features: [{ entitlement: F, enabled: false }] }, [])).toEqual([
      `- ${F}: (not set)`,
      `+ ${F}: false`,
    ]);
  });

  it("records the named features' values and undoes to them; a feature with no value cannot be undone", () => {
    const item = {
      uid: 7n,
      features: [
        { entitlement: F, enabled: true },
        { entitlement: G, enabled: true },
      ],
    };
    const before = beforeEntry("features", item, [
      { entitlement: F, enabled: false },
      { entitlement: "other", enabled: true },
    ]);
    expect(before).toEqual({ uid: "7", features: [{ entitlement: F, enabled: false }], unset: [G] });
    expect(undoItem("features", before)).toEqual({ uid: "7", features: [{ entitlement: F, enabled: false }] });
    expect(undoItem("features", { uid: "7", features: [], unset: [G] })).toBeUndefined();
  });
});

describe("delegates", () => {
  const big = 9223372036854775807n;
  it("ADD of a held delegate and REMOVE of an absent one are no-ops", () => {
    expect(differences("delegates", { uid: "1", userId: big.toString(), action: "ADD" }, [big])).toEqual([]);
    expect(differences("delegates", { uid: "1", userId: "5", action: "REMOVE" }, [big])).toEqual([]);
    expect(differences("delegates", { uid: "1", userId: "5", action: "ADD" }, [big])).toEqual(["+ delegate 5"]);
    expect(differences("delegates", { uid: "1", userId: big, action: "REMOVE" }, [big])).toEqual([`- delegate ${big}`]);
  });

  it("undoes only the changes that changed something, in reverse", () => {
    const added = beforeEntry("delegates", { uid: "1", userId: 5, action: "ADD" }, [big]);
    expect(added).toEqual({ uid: "1", userId: "5", action: "ADD", held: false });
    expect(undoItem("delegates", added)).toEqual({ uid: "1", userId: "5", action: "REMOVE" });
    const removed = beforeEntry("delegates", { uid: "1", userId: big, action: "REMOVE" }, [big]);
    expect(undoItem("delegates", removed)).toEqual({ uid: "1", userId: big.toString(), action: "ADD" });
    expect(undoItem("delegates", { uid: "1", userId: "5", action: "ADD", held: true })).toBeUndefined();
    expect(undoItem("delegates", { uid: "1", userId: "5", action: "REMOVE", held: false })).toBeUndefined();
  });
});

describe("apps replace", () => {
  const p1 = { name: "basic", type: "default", subscribed: true };
  const p2 = { name: "pro", type: "premium", subscribed: false, sku: "S-1" };
  const current: AppEntitlement[] = [
    { appId: "a", appName: "A", listed: true, install: false, products: [p1, p2] },
    { appId: "b", listed: false, install: true },
  ];

  it("is order-insensitive, compares products by value, and [] products is no products", () => {
    const same: AppEntitlement[] = [
      { appId: "b", listed: false, install: true, products: [] },
      {
        install: false,
        listed: true,
        appId: "a",
        appName: "A",
        products: [{ ...p2 }, { subscribed: true, type: "default", name: "basic" }],
      },
    ];
    expect(differences("appsReplace", { uid: "1", apps: same }, current)).toEqual([]);
  });

  it("shows a changed app as - and +, a dropped app as -, a new app as +", () => {
    const apps: AppEntitlement[] = [
      { appId: "a", appName: "A", listed: true, install: true, products: [p1, p2] },
      { appId: "c", listed: true, install: true },
    ];
    expect(differences("appsReplace", { uid: "1", apps }, current)).toEqual([
      '- app "a" listed=true install=false appName="A" products=[{name="basic" type="default" subscribed=true}, {name="pro" type="premium" subscribed=false sku="S-1"}]',
      '- app "b" listed=false install=true',
      '+ app "a" listed=true install=true appName="A" products=[{name="basic" type="default" subscribed=true}, {name="pro" type="premium" subscribed=false sku="S-1"}]',
      '+ app "c" listed=true install=true',
    ]);
  });

  it("a product field or the app name differing is a change", () => {
    const apps = structuredClone(current);
    (apps[0]?.products?.[1] as { sku?: string }).sku = "S-2";
    expect(differences("appsReplace", { uid: "1", apps }, current)).toHaveLength(2);
    const renamed = structuredClone(current);
    (renamed[0] as AppEntitlement).appName = "B";
    expect(differences("appsReplace", { uid: "1", apps: renamed }, current)).toHaveLength(2);
  });

  it("an optional field the file leaves out (appName, a product's sku or appId) is the pod's: no change", () => {
    // A pod that fills in appName, sku and appId from its catalogue answers them on every read.
    const filled: AppEntitlement[] = [
      {
        appId: "sf",
        appName: "Salesforce",
        listed: true,
        install: true,
        products: [{ name: "pro", type: "premium", subscribed: true, sku: "S-9", appId: "sf" }],
      },
    ];
    const bare: AppEntitlement[] = [
      { appId: "sf", listed: true, install: true, products: [{ name: "pro", type: "premium", subscribed: true }] },
    ];
    expect(differences("appsReplace", { uid: "1", apps: bare }, filled)).toEqual([]);
    // Given, they are compared; and what the file leaves out is left out of the lines too.
    const named = structuredClone(bare);
    (named[0] as AppEntitlement).appName = "SF";
    expect(differences("appsReplace", { uid: "1", apps: named }, filled)).toEqual([
      '- app "sf" listed=true install=true appName="Salesforce" products=[{name="pro" type="premium" subscribed=true}]',
      '+ app "sf" listed=true install=true appName="SF" products=[{name="pro" type="premium" subscribed=true}]',
    ]);
    const skus = structuredClone(bare);
    (skus[0]?.products?.[0] as { sku?: string }).sku = "S-1";
    expect(differences("appsReplace", { uid: "1", apps: skus }, filled)).toHaveLength(2);
    // A patch's product likewise.
    const product = { name: "pro", type: "premium", subscribed: true };
    expect(differences("appsPatch", { uid: "1", patches: [{ appId: "sf", product }] }, filled)).toEqual([]);
    expect(
      differences("appsPatch", { uid: "1", patches: [{ appId: "sf", product: { ...product, sku: "S-1" } }] }, filled),
    ).toEqual([
      '- app "sf" product "pro": {name="pro" type="premium" subscribed=true sku="S-9"}',
      '+ app "sf" product "pro": {name="pro" type="premium" subscribed=true sku="S-1"}',
    ]);
  });

  it("records the whole list and undoes with a replace of it; a patch is undone by a replace too", () => {
    const before = beforeEntry("appsPatch", { uid: 3, patches: [{ appId: "a", install: "TRUE" }] }, current);
    expect(before).toEqual({ uid: "3", apps: current });
    expect(undoItem("appsPatch", before)).toEqual({ uid: "3", apps: current });
    expect(UNDO_OPERATION.appsPatch).toBe("appsReplace");
  });
});

describe("apps patch", () => {
  const current: AppEntitlement[] = [
    { appId: "a", listed: true, install: false, products: [{ name: "basic", type: "default", subscribed: true }] },
  ];
  const patch = (patches: Parameters<typeof differences<"appsPatch">>[1]["patches"]) =>
    differences("appsPatch", { uid: "1", patches }, current);

  it("KEEP and absent settings never differ; TRUE/FALSE differ when the value differs", () => {
    expect(patch([{ appId: "a", listed: "KEEP" }])).toEqual([]);
    expect(patch([{ appId: "a" }])).toEqual([]);
    expect(patch([{ appId: "a", listed: "TRUE", install: false }])).toEqual([]);
    expect(patch([{ appId: "a", install: "TRUE" }])).toEqual(['- app "a" install: false', '+ app "a" install: true']);
    expect(patch([{ appId: "a", listed: false }])).toEqual(['- app "a" listed: true', '+ app "a" listed: false']);
  });

  it("REMOVE counts as a change (the list cannot tell the user's own setting from the pod's)", () => {
    expect(patch([{ appId: "a", install: "REMOVE" }])).toEqual([
      '- app "a" install: false',
      '+ app "a" install: REMOVE (the pod\'s setting)',
    ]);
  });

  it("a product equal by value is no change; another value or a new name is", () => {
    expect(patch([{ appId: "a", product: { subscribed: true, type: "default", name: "basic" } }])).toEqual([]);
    expect(patch([{ appId: "a", product: { name: "basic", type: "default", subscribed: false } }])).toEqual([
      '- app "a" product "basic": {name="basic" type="default" subscribed=true}',
      '+ app "a" product "basic": {name="basic" type="default" subscribed=false}',
    ]);
    expect(patch([{ appId: "a", product: { name: "pro", type: "premium", subscribed: true } }])).toHaveLength(2);
  });

  it("an app the user does not have is added by any patch", () => {
    expect(patch([{ appId: "z", listed: "KEEP" }])).toEqual(['- app "z": (none)', '+ app "z": listed=KEEP']);
  });
});
