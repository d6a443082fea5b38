/**
 * `npm run generate -- --spec`: the API change report (a pure function over two documents) and the regeneration
 * around it, run against temporary project directories so the real spec/ and generated/ are never touched.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { regenerate } from "../scripts/generate.js";
import { type ApiReport, diffSpecs, formatReport } from "../scripts/lib/api-diff.js";
import { loadSpec } from "../scripts/lib/spec-source.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");
const cases = join(fixtures, "regenerate");
const BASE = join(cases, "base.yaml");
const REAL_POD_API = join(fixtures, "pod-api-public-20.17.1.yaml");

/** Each case: base.yaml → <case>/new.yaml, with the exact report in <case>/expected.txt and expected.md. */
const CASES = [
  "added-operation",
  "removed-operation",
  "renamed-field",
  "tightened-constraint",
  "openapi-3.0",
  "swagger-2.0",
] as const;

const expected = (name: string, ext: "txt" | "md") => readFile(join(cases, name, `expected.${ext}`), "utf8");

async function reportFor(newSpec: string): Promise<ApiReport> {
  const [before, after] = await Promise.all([loadSpec(BASE), loadSpec(newSpec)]);
  return diffSpecs(before.doc, after.doc);
}

describe("API change report, fixture pairs", () => {
  for (const name of CASES) {
    it(`${name}: prints exactly the expected report, as text and as Markdown`, async () => {
      const report = await reportFor(join(cases, name, "new.yaml"));
      expect(formatReport(report, "text")).toBe(await expected(name, "txt"));
      expect(formatReport(report, "markdown")).toBe(await expected(name, "md"));
    });
  }

  it("finds no change between a document and itself", async () => {
    expect(formatReport(await reportFor(BASE), "text")).toBe(
      "API changes: Pod API 20.17.1 → 20.17.1\nNo API changes.\n",
    );
  });
});

describe("diffSpecs", () => {
  type Schema = Record<string, unknown>;
  /** A one-operation document: POST /things with `body` as request and `response` as the 200 body. */
  const doc = (schemas: Record<string, Schema>, body: Schema, response: Schema = body) => ({
    openapi: "3.1.0",
    info: { title: "T", version: "1" },
    paths: {
      "/things": {
        post: {
          operationId: "postThings",
          requestBody: { required: true, content: { "application/json": { schema: body } } },
          responses: { "200": { description: "ok", content: { "application/json": { schema: response } } } },
        },
      },
    },
    components: { schemas },
  });
  const changes = (a: ReturnType<typeof doc>, b: ReturnType<typeof doc>) =>
    diffSpecs(a, b).changed.flatMap((op) =>
      op.changes.map((c) => `${c.breaking ? "B" : "-"} ${c.section} ${c.field}: ${c.message}`),
    );
  const list = (ref: string) => ({ type: "array", items: { type: "array", items: { $ref: ref } } });

  it("follows $refs through nested arrays, judging the request and the response side separately", () => {
    const item = (values: string[]) => ({
      Item: { type: "object", properties: { kind: { type: "string", enum: values } } },
    });
    const before = doc(item(["A", "B"]), list("#/components/schemas/Item"));
    const after = doc(item(["A", "C"]), list("#/components/schemas/Item"));
    expect(changes(before, after)).toEqual([
      '- request body [][].kind: enum: added "C" (loosened)',
      'B request body [][].kind: enum: removed "B" (tightened)',
      'B response 200 [][].kind: enum: added "C" (loosened)',
      '- response 200 [][].kind: enum: removed "B" (tightened)',
    ]);
  });

  it("terminates on recursive schemas and still reports changes inside them", () => {
    const tree = (nameType: string) => ({
      Node: {
        type: "object",
        properties: {
          name: { type: nameType },
          children: { type: "array", items: { $ref: "#/components/schemas/Node" } },
        },
      },
    });
    const ref = { $ref: "#/components/schemas/Node" };
    expect(changes(doc(tree("string"), ref), doc(tree("integer"), ref))).toEqual([
      "B request body name: type: string → integer",
      "B response 200 name: type: string → integer",
    ]);
  });

  it("reads allOf compositions as one object (Swagger-style inheritance)", () => {
    const schemas = (required: string[]) => ({
      Base: { type: "object", properties: { id: { type: "integer" } } },
      User: {
        allOf: [{ $ref: "#/components/schemas/Base" }, { type: "object", required, properties: { email: {} } }],
      },
    });
    const ref = { $ref: "#/components/schemas/User" };
    expect(changes(doc(schemas([]), ref), doc(schemas(["id"]), ref))).toEqual([
      "B request body id: now required (tightened)",
      "- response 200 id: now required (tightened)",
    ]);
  });

  it("calls loosening a request constraint safe and loosening a response one breaking", () => {
    const s = (max: number) => ({ type: "string", maxLength: max });
    expect(changes(doc({}, s(10)), doc({}, s(20)))).toEqual([
      "- request body : maxLength: 10 → 20 (loosened)",
      "B response 200 : maxLength: 10 → 20 (loosened)",
    ]);
  });

  it("sorts operations and reports parameters, bodies and statuses", () => {
    const api = (extra: Record<string, unknown>, required: boolean) => ({
      openapi: "3.1.0",
      info: { title: "T", version: "1" },
      paths: {
        "/b": { get: { responses: { "200": { description: "ok" } } } },
        "/a/{id}": {
          parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }],
          delete: { responses: { "204": { description: "gone" }, ...extra } },
          get: {
            parameters: [{ name: "q", in: "query", required, schema: { type: "string" } }],
            responses: { "200": { description: "ok" } },
          },
        },
      },
    });
    const report = diffSpecs(api({}, false), api({ "404": { description: "missing" } }, true));
    expect(report.changed.map((op) => `${op.method} ${op.path}`)).toEqual(["GET /a/{id}", "DELETE /a/{id}"]);
    expect(formatReport(report, "text")).toContain("BREAKING      parameter query.q: now required (tightened)");
    expect(formatReport(report, "text")).toContain("non-breaking  response 404: added");
  });
});

describe("npm run generate -- --spec (in a temporary project)", () => {
  const roots: string[] = [];
  afterEach(async () => {
    for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
  });
  /** A project directory whose spec/pod-api.yaml is the base fixture. */
  async function project(): Promise<string> {
    const root = await mkdtemp(join(tmpdir(), "pod-admin-regenerate-"));
    roots.push(root);
    await mkdir(join(root, "spec"));
    await cp(BASE, join(root, "spec", "pod-api.yaml"));
    return root;
  }
  const quiet = () => {
    const lines: string[] = [];
    return { lines, log: (line: string) => lines.push(line) };
  };

  it("adopts a Swagger 2.0 document: stores it as OpenAPI 3.1, regenerates, prints and writes the report", async () => {
    const root = await project();
    const out = quiet();
    const reportFile = join(root, "CHANGES.md");
    const spec = join(cases, "swagger-2.0", "new.yaml");
    const result = await regenerate({ root, spec, report: reportFile, log: out.log });

    expect(result.changed).toEqual(["spec/pod-api.yaml", "generated/pod-api.ts", "generated/schemas.ts"]);
    expect(out.lines[0]).toBe((await expected("swagger-2.0", "txt")).trimEnd());
    expect(await readFile(reportFile, "utf8")).toBe(await expected("swagger-2.0", "md"));

    const stored = parseYaml(await readFile(join(root, "spec", "pod-api.yaml"), "utf8"));
    expect(stored).toMatchObject({ openapi: "3.1.0", info: { version: "20.18.0" } });
    const types = await readFile(join(root, "generated", "pod-api.ts"), "utf8");
    expect(types).toContain("includeInactive?: boolean;");
    expect(types).toContain('"/v1/admin/user/{uid}/features/update": {');

    // The stored spec is the new baseline: adopting the same document again changes nothing.
    const again = await regenerate({ root, spec, log: quiet().log });
    expect(again.changed).toEqual([]);
    expect(again.reportText).toBe("API changes: Pod API 20.18.0 → 20.18.0\nNo API changes.\n");
  });

  it("--dry-run prints the report and writes nothing", async () => {
    const root = await project();
    const result = await regenerate({
      root,
      spec: join(cases, "renamed-field", "new.yaml"),
      dryRun: true,
      log: quiet().log,
    });
    expect(result.reportText).toBe(await expected("renamed-field", "txt"));
    expect(result.changed).toContain("spec/pod-api.yaml");
    expect(await readFile(join(root, "spec", "pod-api.yaml"), "utf8")).toBe(await readFile(BASE, "utf8"));
    await expect(readFile(join(root, "generated", "schemas.ts"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("validates every operation's body by its method and path, so a renamed body schema needs no list updated", async () => {
    const root = await project();
    const renamed = (await readFile(BASE, "utf8")).replaceAll("DelegateAction", "DelegateUpdateRequest");
    const spec = join(root, "next.yaml");
    await writeFile(spec, renamed);
    await regenerate({ root, spec, log: quiet().log });
    const schemas = await import(pathToFileURL(join(root, "generated", "schemas.ts")).href);
    const validate = schemas.requestValidators["post /v1/admin/user/{uid}/delegates/update"];
    expect(validate({ userId: 7215545078461, action: "ADD" })).toBe(true);
    expect(validate({ userId: 7215545078461, action: "MOVE" })).toBe(false);
    expect(Object.keys(schemas.requestValidators)).toEqual([
      "post /v1/admin/user/{uid}/features/update",
      "post /v1/admin/user/{uid}/delegates/update",
      "post /v1/admin/user/{uid}/app/entitlement/list",
      "patch /v1/admin/user/{uid}/app/entitlement/list",
    ]);
  });

  it("regenerates from the real Symphony Pod API 20.17.1 (Swagger 2.0, 113 operations)", async () => {
    const root = await project();
    const result = await regenerate({ root, spec: REAL_POD_API, log: quiet().log });
    expect(result.reportText).toBe(await readFile(join(cases, "real-pod-api", "expected.txt"), "utf8"));

    const types = await readFile(join(root, "generated", "pod-api.ts"), "utf8");
    for (const path of [
      "/v1/admin/user/{uid}/features/update",
      "/v1/admin/user/{uid}/features",
      "/v1/admin/user/{uid}/delegates/update",
      "/v1/admin/user/{uid}/delegates",
      "/v1/admin/user/{uid}/app/entitlement/list",
      "/v1/admin/system/features/list",
      "/v2/admin/user/create",
    ]) {
      expect(types).toContain(`"${path}": {`);
    }
    expect(types).toContain("UserAppEntitlementPatch: {");

    // The validators compiled from the real spec behave like the ones src/wire.ts relies on.
    const schemas = await import(pathToFileURL(join(root, "generated", "schemas.ts")).href);
    expect(schemas.specVersion).toBe("20.17.1");
    const body = (key: string) => schemas.requestValidators[key];
    expect(
      body("post /v1/admin/user/{uid}/features/update")([{ entitlment: "canCreatePublicRoom", enabled: true }]),
    ).toBe(true);
    expect(body("post /v1/admin/user/{uid}/delegates/update")({ userId: 7215545078461, action: "MOVE" })).toBe(false);
    const apps = body("post /v1/admin/user/{uid}/app/entitlement/list");
    expect(apps([{ appId: "", listed: true, install: false }])).toBe(false);
    const patch = body("patch /v1/admin/user/{uid}/app/entitlement/list");
    expect(patch([{ appId: "selerity", listed: "REMOVE" }])).toBe(true);
    expect(body("post /v1/admin/user/{uid}/status/update")({ status: "SUSPENDED" })).toBe(false);
    expect(schemas.schemaShapes.UserAppEntitlement.products).toEqual({ listOf: "Product" });
  });
});
