import { describe, expectTypeOf, it } from "vitest";
import {
  type AppEntitlement,
  type AppEntitlementPatch,
  createPodClient,
  type FeatureEntitlement,
  type UserId,
} from "../src/index.js";
import { delegateWrite } from "../src/operations/delegates.js";
import { featureWrite } from "../src/operations/features.js";
import { WRITES, type WritesDeclared } from "../src/operations/index.js";
import { statusWrite } from "../src/operations/status.js";

const pod = createPodClient({ baseUrl: "https://acme.symphony.com/pod", sessionToken: "t" });

describe("facade types", () => {
  it("spells the feature field `entitlement`, never the wire's `entitlment`", () => {
    expectTypeOf<FeatureEntitlement>().toHaveProperty("entitlement");
    expectTypeOf<FeatureEntitlement>().not.toHaveProperty("entitlment");
    // @ts-expect-error the wire spelling is not accepted by the facade
    void pod.users.updateFeatures(1, [{ entitlment: "canCreatePublicRoom", enabled: true }]);
    expectTypeOf(pod.users.listFeatures).returns.resolves.toEqualTypeOf<FeatureEntitlement[]>();
  });

  it("accepts number, bigint and decimal strings as user ids, nothing else", () => {
    expectTypeOf<UserId>().toEqualTypeOf<number | bigint | string>();
    void pod.users.addDelegate(1, 2n);
    void pod.users.addDelegate("1", 2);
    // @ts-expect-error an object is not a user id
    void pod.users.addDelegate({ id: 1 }, 2);
    expectTypeOf(pod.users.listDelegates).returns.resolves.toEqualTypeOf<bigint[]>();
  });

  it("rejects wrong shapes", () => {
    // @ts-expect-error enabled must be a boolean
    void pod.users.updateFeatures(1, [{ entitlement: "a", enabled: "yes" }]);
    // @ts-expect-error action is ADD or REMOVE
    void pod.users.updateDelegates(1, { userId: 2, action: "DELETE" });
    // @ts-expect-error listed and install are required when replacing
    void pod.users.replaceApps(1, [{ appId: "djApp" }]);
    // @ts-expect-error a patch setting is TRUE|FALSE|KEEP|REMOVE or a boolean
    void pod.users.patchApps(1, [{ appId: "djApp", install: "yes" }]);
    // @ts-expect-error product cannot be null
    void pod.users.patchApps(1, [{ appId: "djApp", product: null }]);
    expectTypeOf<AppEntitlementPatch["listed"]>().toEqualTypeOf<
      "TRUE" | "FALSE" | "KEEP" | "REMOVE" | boolean | undefined
    >();
    expectTypeOf(pod.users.replaceApps).returns.resolves.toEqualTypeOf<AppEntitlement[]>();
  });

  it("takes an options bag with a signal on every method", () => {
    const signal = AbortSignal.timeout(1000);
    void pod.users.listApps(1, { signal });
    void pod.users.listAvailableFeatures({ signal, retry: { maxAttempts: 1 }, timeoutMs: 100 });
    // @ts-expect-error unknown option
    void pod.users.listApps(1, { signl: signal });
  });
});

describe("raw client types", () => {
  it("types paths, bodies and answers from the generated spec, without the sessionToken header", () => {
    void pod.raw.POST("/v1/admin/user/{uid}/features/update", {
      params: { path: { uid: 1 } },
      body: [{ entitlment: "canCreatePublicRoom", enabled: true }],
    });
    void pod.raw.POST("/v1/admin/user/{uid}/features/update", {
      params: { path: { uid: 1 } },
      // @ts-expect-error the raw body is the wire's: entitlment is a string
      body: [{ entitlment: 5 }],
    });
    // @ts-expect-error unknown route
    void pod.raw.GET("/v1/admin/user/{uid}/nothing", { params: { path: { uid: 1 } } });
  });
});

describe("one operation, one declaration: the compiler refuses a half-declared write", () => {
  it("refuses a table of rules that misses a write", () => {
    const { updateStatus: _status, ...withoutStatus } = WRITES;
    // @ts-expect-error updateStatus is a write of the table (it has `bulk`), so its rules are required
    withoutStatus satisfies WritesDeclared;
    WRITES satisfies WritesDeclared;
  });

  it("refuses a write's rules that miss a rule or take another write's item", () => {
    const { undo: _undo, ...noUndo } = featureWrite;
    // @ts-expect-error `undo` is required: every write says how it is undone
    ({ ...WRITES, updateFeatures: noUndo }) satisfies WritesDeclared;
    const { export: _export, ...noExport } = statusWrite;
    // @ts-expect-error `export` is required (undefined when another layout exports the state)
    ({ ...WRITES, updateStatus: noExport }) satisfies WritesDeclared;
    // @ts-expect-error the delegates rules read delegate items, not feature items
    ({ ...WRITES, updateFeatures: delegateWrite }) satisfies WritesDeclared;
  });
});
