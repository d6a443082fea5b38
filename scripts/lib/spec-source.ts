/**
 * Loading a Pod API document from a file or URL and bringing it to OpenAPI 3.1, whatever it was published as
 * (Swagger 2.0, OpenAPI 3.0 or 3.1; YAML or JSON).
 */
import { readFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import swagger2openapi from "swagger2openapi";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";

/** An OpenAPI document as plain data; the scripts only read the parts they need. */
export type OpenApiDoc = Record<string, unknown> & {
  openapi?: string;
  swagger?: string;
  info?: { version?: string; title?: string };
  paths?: Record<string, Record<string, unknown>>;
  components?: { schemas?: Record<string, unknown>; [section: string]: unknown };
};

export type SourceFormat = "swagger-2.0" | "openapi-3.0" | "openapi-3.1";

export interface LoadedSpec {
  /** The document as OpenAPI 3.1. */
  doc: OpenApiDoc;
  /** The text to store as spec/pod-api.yaml: the original when it was 3.1 YAML already (keeps its comments). */
  text: string;
  format: SourceFormat;
}

export async function readSource(source: string): Promise<string> {
  if (/^https?:\/\//i.test(source)) {
    const response = await fetch(source);
    if (!response.ok) throw new Error(`could not fetch ${source}: HTTP ${response.status}`);
    return response.text();
  }
  return readFile(source, "utf8");
}

export function parseDocument(text: string): OpenApiDoc {
  // JSON is YAML; one parser reads both. Big Swagger files repeat anchors, hence the raised alias limit.
  const doc = parseYaml(text, { maxAliasCount: -1 }) as unknown;
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error("the spec is not a YAML or JSON object");
  // A YAML alias parses to a shared object; swagger2openapi refuses those, and later edits must not leak across.
  return JSON.parse(JSON.stringify(doc)) as OpenApiDoc;
}

export function formatOf(doc: OpenApiDoc): SourceFormat {
  if (typeof doc.swagger === "string" && doc.swagger.startsWith("2.")) return "swagger-2.0";
  if (typeof doc.openapi === "string" && doc.openapi.startsWith("3.0")) return "openapi-3.0";
  if (typeof doc.openapi === "string" && doc.openapi.startsWith("3.1")) return "openapi-3.1";
  throw new Error(`unsupported document: expected swagger: "2.0" or openapi: 3.0.x/3.1.x`);
}

/** Any supported document → OpenAPI 3.1. Does not modify `input`. */
export async function normalizeSpec(input: OpenApiDoc): Promise<{ doc: OpenApiDoc; format: SourceFormat }> {
  const format = formatOf(input);
  let doc = structuredClone(input);
  if (format === "swagger-2.0") {
    // patch: fix the small errors real Swagger files carry instead of refusing them.
    const converted = await swagger2openapi.convertObj(doc as never, { patch: true, warnOnly: true } as never);
    doc = converted.openapi as unknown as OpenApiDoc;
  }
  if (format !== "openapi-3.1") {
    forEachDocumentSchema(doc, schema30To31);
    doc.openapi = "3.1.0";
  }
  return { doc, format };
}

/** Reads, parses and normalises; `text` is what spec/pod-api.yaml should hold afterwards. */
export async function loadSpec(source: string): Promise<LoadedSpec> {
  const original = await readSource(source);
  const parsed = parseDocument(original);
  const { doc, format } = await normalizeSpec(parsed);
  const isYaml = !original.trimStart().startsWith("{");
  if (format === "openapi-3.1" && isYaml && isDeepStrictEqual(doc, parsed)) return { doc, text: original, format };
  const header = `# ${doc.info?.title ?? "Pod API"} ${doc.info?.version ?? ""}: written by \`npm run generate -- --spec\` from a ${FORMAT_NAMES[format]} document.\n`;
  // No aliases: converters share objects, and anchors would make the stored spec hard to read and diff.
  return { doc, text: header + stringifyYaml(doc, { lineWidth: 0, aliasDuplicateObjects: false }), format };
}

const FORMAT_NAMES: Record<SourceFormat, string> = {
  "swagger-2.0": "Swagger 2.0",
  "openapi-3.0": "OpenAPI 3.0",
  "openapi-3.1": "OpenAPI 3.1",
};

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/** Calls `fn` on every Schema Object of a schema (itself first), following its structure, not its $refs. */
export function forEachSubschema(schema: unknown, fn: (schema: Json) => void): void {
  if (!isObject(schema)) return;
  fn(schema);
  for (const key of ["items", "not", "additionalProperties", "contains", "if", "then", "else", "propertyNames"]) {
    forEachSubschema(schema[key], fn);
  }
  for (const key of ["allOf", "anyOf", "oneOf", "prefixItems"]) {
    const list = schema[key];
    if (Array.isArray(list)) for (const sub of list) forEachSubschema(sub, fn);
  }
  for (const key of ["properties", "patternProperties", "$defs", "definitions", "dependentSchemas"]) {
    const map = schema[key];
    if (isObject(map)) for (const sub of Object.values(map)) forEachSubschema(sub, fn);
  }
}

/** Calls `fn` on every Schema Object in a document: components, parameters, bodies, responses, headers. */
export function forEachDocumentSchema(doc: OpenApiDoc, fn: (schema: Json) => void): void {
  for (const schema of Object.values(doc.components?.schemas ?? {})) forEachSubschema(schema, fn);
  const visit = (node: unknown, key?: string): void => {
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    if (!isObject(node)) return;
    for (const [k, v] of Object.entries(node)) {
      if (k === "schema") forEachSubschema(v, fn);
      // Examples are data, and component schemas were done above.
      else if (k !== "example" && k !== "examples" && !(key === "components" && k === "schemas")) visit(v, k);
    }
  };
  visit(doc.paths);
  visit(doc.components, "components");
}

/** OpenAPI 3.0's schema dialect → 3.1's (JSON Schema 2020-12): nullable and boolean exclusive bounds. */
function schema30To31(schema: Json): void {
  if ("nullable" in schema) {
    if (schema.nullable === true) {
      if (typeof schema.type === "string") schema.type = [schema.type, "null"];
      else if (Array.isArray(schema.type) && !schema.type.includes("null")) schema.type = [...schema.type, "null"];
      else if (schema.type === undefined && Array.isArray(schema.enum)) schema.enum = [...schema.enum, null];
    }
    delete schema.nullable;
  }
  for (const [flag, bound] of [
    ["exclusiveMinimum", "minimum"],
    ["exclusiveMaximum", "maximum"],
  ] as const) {
    if (typeof schema[flag] !== "boolean") continue;
    if (schema[flag] === true && typeof schema[bound] === "number") {
      schema[flag] = schema[bound];
      delete schema[bound];
    } else delete schema[flag];
  }
}
