import { HttpResponse, http } from "msw";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../src/index.js";
import { BASE_URL, testClient, useMsw } from "./helpers.js";

const server = useMsw();
let sent = 0;
server.events.on("request:start", () => {
  sent++;
});
// Any request reaching the network is a failure of these tests: answer (with a body the spec allows), but count it.
const anyRoute = http.all(`${BASE_URL}/*`, ({ request }) =>
  HttpResponse.json(request.url.endsWith("/update") ? { message: "OK" } : []),
);

const pod = () => {
  server.use(anyRoute);
  return testClient().users;
};

/** Runs `call`, expects a ValidationError with `field` and `rule`, and no request sent. */
async function rejects(call: () => Promise<unknown>, field: string, rule: string, message?: string) {
  sent = 0;
  const error = await call().catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationError);
  expect(error).toMatchObject({ field, rule });
  if (message) expect((error as Error).message).toBe(message);
  expect(sent).toBe(0);
}

const APP = { appId: "djApp", listed: true, install: false };
const PRODUCT = { name: "Premium", type: "premium", subscribed: true };

describe("user ids", () => {
  it.each([
    [0, "positive int64"],
    [-5, "positive int64"],
    [1.5, "safe integer"],
    [2 ** 53, "safe integer"],
    [9223372036854775808n, "positive int64"],
    ["12a", "decimal"],
    ["-1", "decimal"],
    ["", "decimal"],
    [null, "required"],
    [undefined, "required"],
  ])("uid %s breaks %s", async (uid, rule) => {
    await rejects(() => pod().listFeatures(uid as never), "uid", rule);
  });

  it("names a bad delegate id by its field", async () => {
    await rejects(() => pod().addDelegate(1, 2 ** 60), "update.userId", "safe integer");
    await rejects(() => pod().updateDelegates(1, { userId: "x", action: "ADD" }), "update.userId", "decimal");
  });

  it("explains how to pass an unsafe number", async () => {
    await rejects(
      () => pod().listApps(2 ** 53 + 2),
      "uid",
      "safe integer",
      "uid: 9007199254740994 is not a safe integer; pass a bigint or a decimal string so no digit of the int64 is lost",
    );
  });
});

describe("features", () => {
  it("requires entitlement and enabled", async () => {
    await rejects(() => pod().updateFeatures(1, [{ enabled: true } as never]), "features[0].entitlement", "required");
    await rejects(() => pod().updateFeatures(1, [{ entitlement: "a" } as never]), "features[0].enabled", "required");
  });

  it("checks types from the spec's schema", async () => {
    await rejects(
      () => pod().updateFeatures(1, [{ entitlement: "a", enabled: "yes" as never }]),
      "features[0].enabled",
      "type boolean",
      'features[0].enabled: must be a boolean, got "yes"',
    );
    await rejects(
      () => pod().updateFeatures(1, [{ entitlement: 5 as never, enabled: true }]),
      "features[0].entitlement",
      "type string",
    );
  });

  it("rejects the wire spelling `entitlment` and other unknown fields", async () => {
    await rejects(
      () => pod().updateFeatures(1, [{ entitlment: "a", enabled: true } as never]),
      "features[0].entitlment",
      "known field",
      'features[0].entitlment: unknown field (the facade spells it "entitlement"); expected one of: entitlement, enabled',
    );
    await rejects(
      () => pod().updateFeatures(1, [{ entitlement: "a", enabled: true, on: 1 } as never]),
      "features[0].on",
      "known field",
    );
  });

  it("rejects non-arrays and non-objects", async () => {
    await rejects(() => pod().updateFeatures(1, "x" as never), "features", "type array");
    await rejects(() => pod().updateFeatures(1, [null as never]), "features[0]", "type object");
  });
});

describe("delegates", () => {
  it("checks the action enum", async () => {
    await rejects(
      () => pod().updateDelegates(1, { userId: 2, action: "DELETE" as never }),
      "update.action",
      "enum ADD|REMOVE",
      'update.action: must be one of ADD|REMOVE, got "DELETE"',
    );
    await rejects(() => pod().updateDelegates(1, { userId: 2 } as never), "update.action", "required");
  });
});

describe("apps (replace)", () => {
  it.each([
    [[{ ...APP, appId: "" }], "apps[0].appId", "minLength 1"],
    [[{ ...APP, appId: "a".repeat(257) }], "apps[0].appId", "maxLength 256"],
    [[{ ...APP, appName: "n".repeat(51) }], "apps[0].appName", "maxLength 50"],
    [[{ ...APP, appName: "" }], "apps[0].appName", "minLength 1"],
    [[{ appId: "x", install: true }], "apps[0].listed", "required"],
    [[{ appId: "x", listed: true }], "apps[0].install", "required"],
    [[{ ...APP, listed: "true" }], "apps[0].listed", "type boolean"],
    [[APP, { ...APP, products: [{ ...PRODUCT, name: "" }] }], "apps[1].products[0].name", "minLength 1"],
    [[{ ...APP, products: [{ ...PRODUCT, name: "p".repeat(51) }] }], "apps[0].products[0].name", "maxLength 50"],
    [[{ ...APP, products: [{ ...PRODUCT, sku: "s".repeat(101) }] }], "apps[0].products[0].sku", "maxLength 100"],
    [[{ ...APP, products: [{ ...PRODUCT, sku: "" }] }], "apps[0].products[0].sku", "minLength 1"],
    [[{ ...APP, products: [{ name: "p", subscribed: true }] }], "apps[0].products[0].type", "required"],
    [[{ ...APP, products: [{ ...PRODUCT, subscribed: 1 }] }], "apps[0].products[0].subscribed", "type boolean"],
    [[{ ...APP, products: [{ ...PRODUCT, price: 1 }] }], "apps[0].products[0].price", "known field"],
  ])("%j → %s breaks %s", async (apps, field, rule) => {
    await rejects(() => pod().replaceApps(1, apps as never), field, rule);
  });

  it("counts characters, not UTF-16 units: 50 emoji are a valid appName", async () => {
    server.use(anyRoute);
    sent = 0;
    await testClient().users.replaceApps(1, [{ ...APP, appName: "🚀".repeat(50) }]);
    expect(sent).toBe(1);
  });
});

describe("apps (patch)", () => {
  it.each([
    [[{ appId: "a", listed: "yes" }], "patches[0].listed", "enum TRUE|FALSE|KEEP|REMOVE"],
    [[{ appId: "a", install: "true" }], "patches[0].install", "enum TRUE|FALSE|KEEP|REMOVE"],
    [[{ listed: "KEEP" }], "patches[0].appId", "required"],
    [[{ appId: "a", product: null }], "patches[0].product", "not null"],
    [[{ appId: "a", product: { name: "p", type: "t" } }], "patches[0].product.subscribed", "required"],
    [[{ appId: "a", product: { ...PRODUCT, name: "" } }], "patches[0].product.name", "minLength 1"],
    [[{ appId: "a", products: [] }], "patches[0].products", "known field"],
  ])("%j → %s breaks %s", async (patches, field, rule) => {
    await rejects(() => pod().patchApps(1, patches as never), field, rule);
  });
});

describe("what is checked is what is sent", () => {
  it("a feature whose fields are getters on a prototype is refused, not sent as {}", async () => {
    class Feature {
      get entitlement() {
        return "canCreatePublicRoom";
      }
      get enabled() {
        return true;
      }
    }
    await rejects(() => pod().updateFeatures(1, [new Feature()]), "features[0].entitlement", "required");
  });
});
