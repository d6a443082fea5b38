/**
 * The API change report between two OpenAPI 3.x documents: operations added and removed, and for the operations in
 * both, what changed in their parameters, request body and responses, each change judged from a client's side.
 *
 * A client sends requests and reads responses, so the same change cuts both ways: a tighter constraint on a request
 * field can reject what a client sends (breaking), on a response field it only narrows what a client reads (not).
 * Pure functions over plain data; no I/O.
 */

export interface Change {
  /** "parameter", "request body" or "response <status>". */
  section: string;
  /** Where inside it: "query.limit" for a parameter; "[].products[].sku" inside a body; "" for the whole thing. */
  field: string;
  message: string;
  breaking: boolean;
}

export interface OperationRef {
  method: string;
  path: string;
  operationId?: string;
}

export interface ChangedOperation extends OperationRef {
  changes: Change[];
}

export interface ApiReport {
  title?: string;
  fromVersion?: string;
  toVersion?: string;
  added: OperationRef[];
  /** Every removed operation is a breaking change. */
  removed: OperationRef[];
  changed: ChangedOperation[];
}

type Json = Record<string, unknown>;
type Doc = Json & { info?: { version?: string; title?: string }; paths?: Record<string, unknown> };
type Direction = "request" | "response";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;
const isObject = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

/** Compares two documents (both OpenAPI 3.x; see normalizeSpec). Deterministic: everything comes out sorted. */
export function diffSpecs(oldDoc: Doc, newDoc: Doc): ApiReport {
  const before = operations(oldDoc);
  const after = operations(newDoc);
  const report: ApiReport = {
    title: newDoc.info?.title ?? oldDoc.info?.title,
    fromVersion: oldDoc.info?.version,
    toVersion: newDoc.info?.version,
    added: [],
    removed: [],
    changed: [],
  };
  for (const [key, op] of after) if (!before.has(key)) report.added.push(op.ref);
  for (const [key, op] of before) if (!after.has(key)) report.removed.push(op.ref);
  for (const [key, newOp] of after) {
    const oldOp = before.get(key);
    if (!oldOp) continue;
    const changes = diffOperation(new Differ(oldDoc, newDoc), oldOp, newOp);
    if (changes.length > 0) report.changed.push({ ...newOp.ref, changes: sortChanges(changes) });
  }
  report.added.sort(compareOps);
  report.removed.sort(compareOps);
  report.changed.sort(compareOps);
  return report;
}

interface Operation {
  ref: OperationRef;
  op: Json;
  pathItem: Json;
}

/** Keyed by method and path with parameter names blanked, so renaming `{uid}` to `{userId}` is a change, not a swap. */
function operations(doc: Doc): Map<string, Operation> {
  const out = new Map<string, Operation>();
  for (const [path, rawItem] of Object.entries(doc.paths ?? {})) {
    const pathItem = resolve(doc, rawItem);
    for (const method of METHODS) {
      const op = pathItem[method];
      if (!isObject(op)) continue;
      const ref: OperationRef = { method: method.toUpperCase(), path };
      if (typeof op.operationId === "string") ref.operationId = op.operationId;
      out.set(`${method} ${path.replace(/\{[^}]*\}/g, "{}")}`, { ref, op, pathItem });
    }
  }
  return out;
}

function compareOps(a: OperationRef, b: OperationRef): number {
  if (a.path !== b.path) return a.path < b.path ? -1 : 1;
  return METHODS.indexOf(a.method.toLowerCase() as never) - METHODS.indexOf(b.method.toLowerCase() as never);
}

function sortChanges(changes: Change[]): Change[] {
  const key = (c: Change) => [c.section, c.field, c.message].join("\u0000");
  return changes.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** Follows local $refs (`#/a/b`) until a non-reference object. */
function resolve(doc: Doc, node: unknown): Json {
  return resolveWithRef(doc, node).node;
}

function resolveWithRef(doc: Doc, node: unknown): { node: Json; ref?: string } {
  let current = node;
  let ref: string | undefined;
  for (let hops = 0; isObject(current) && typeof current.$ref === "string"; hops++) {
    if (hops > 50) throw new Error(`$ref cycle at ${current.$ref}`);
    ref = current.$ref;
    current = pointer(doc, current.$ref);
  }
  return { node: isObject(current) ? current : {}, ...(ref ? { ref } : {}) };
}

function pointer(doc: Doc, ref: string): unknown {
  if (!ref.startsWith("#/")) throw new Error(`only local $refs are supported, got ${ref}`);
  let node: unknown = doc;
  for (const raw of ref.slice(2).split("/")) {
    const segment = decodeURIComponent(raw).replaceAll("~1", "/").replaceAll("~0", "~");
    node = isObject(node) ? node[segment] : undefined;
  }
  if (node === undefined) throw new Error(`unresolvable $ref ${ref}`);
  return node;
}

class Differ {
  readonly changes: Change[] = [];
  constructor(
    readonly oldDoc: Doc,
    readonly newDoc: Doc,
  ) {}

  add(section: string, field: string, message: string, breaking: boolean): void {
    this.changes.push({ section, field, message, breaking });
  }

  /** A verdict from the client's side: a tighter request or a looser response can break it. */
  judged(section: string, field: string, message: string, kind: "tightened" | "loosened" | "changed", dir: Direction) {
    const breaking = kind === "changed" || (dir === "request" ? kind === "tightened" : kind === "loosened");
    this.add(section, field, kind === "changed" ? message : `${message} (${kind})`, breaking);
  }

  schema(section: string, field: string, oldRaw: unknown, newRaw: unknown, dir: Direction, seen: Set<string>): void {
    const a = resolveWithRef(this.oldDoc, oldRaw);
    const b = resolveWithRef(this.newDoc, newRaw);
    // Recursive schemas: compare each pair of named schemas once per branch.
    const pair = `${a.ref ?? ""}|${b.ref ?? ""}`;
    if (a.ref && b.ref) {
      if (seen.has(pair)) return;
      seen = new Set(seen).add(pair);
    }
    const o = flatten(this.oldDoc, a.node);
    const n = flatten(this.newDoc, b.node);

    this.types(section, field, o, n, dir);
    this.constraints(section, field, o, n, dir);
    if (n.deprecated === true && o.deprecated !== true) this.add(section, field, "deprecated", false);

    if (o.items !== undefined && n.items !== undefined) {
      this.schema(section, `${field}[]`, o.items, n.items, dir, seen);
    }
    if (isObject(o.additionalProperties) && isObject(n.additionalProperties)) {
      this.schema(section, `${field}{}`, o.additionalProperties, n.additionalProperties, dir, seen);
    }
    this.properties(section, field, o, n, dir, seen);
    for (const combinator of ["oneOf", "anyOf"] as const) {
      const ol = Array.isArray(o[combinator]) ? (o[combinator] as unknown[]) : [];
      const nl = Array.isArray(n[combinator]) ? (n[combinator] as unknown[]) : [];
      if (ol.length === 0 && nl.length === 0) continue;
      if (ol.length !== nl.length) {
        this.add(section, field, `${combinator}: ${ol.length} → ${nl.length} alternatives`, true);
        continue;
      }
      ol.forEach((sub, i) => {
        this.schema(section, `${field}<${combinator} ${i}>`, sub, nl[i], dir, seen);
      });
    }
  }

  private types(section: string, field: string, o: Json, n: Json, dir: Direction): void {
    const ot = typeSet(o);
    const nt = typeSet(n);
    const oNull = ot.delete("null");
    const nNull = nt.delete("null");
    const os = [...ot].sort().join(" | ");
    const ns = [...nt].sort().join(" | ");
    if (os !== ns) {
      if (os === "") this.judged(section, field, `type: any → ${ns}`, "tightened", dir);
      else if (ns === "") this.judged(section, field, `type: ${os} → any`, "loosened", dir);
      else this.judged(section, field, `type: ${os} → ${ns}`, "changed", dir);
    }
    if (oNull !== nNull)
      this.judged(section, field, nNull ? "now nullable" : "no longer nullable", nNull ? "loosened" : "tightened", dir);
  }

  private constraints(section: string, field: string, o: Json, n: Json, dir: Direction): void {
    for (const [key, tighterWhenLarger] of BOUNDS) {
      const ov = o[key];
      const nv = n[key];
      if (ov === nv) continue;
      if (typeof ov === "number" && typeof nv === "number") {
        const tightened = nv > ov === tighterWhenLarger;
        this.judged(section, field, `${key}: ${ov} → ${nv}`, tightened ? "tightened" : "loosened", dir);
      } else if (typeof nv === "number") this.judged(section, field, `${key}: added ${nv}`, "tightened", dir);
      else if (typeof ov === "number") this.judged(section, field, `${key}: removed ${ov}`, "loosened", dir);
    }
    for (const key of EXACT) {
      const ov = o[key];
      const nv = n[key];
      if (ov === undefined && nv === undefined) continue;
      if (JSON.stringify(ov) === JSON.stringify(nv)) continue;
      const show = (v: unknown) => (key === "format" ? String(v) : JSON.stringify(v));
      if (ov === undefined) this.judged(section, field, `${key}: added ${show(nv)}`, "tightened", dir);
      else if (nv === undefined) this.judged(section, field, `${key}: removed ${show(ov)}`, "loosened", dir);
      else this.judged(section, field, `${key}: ${show(ov)} → ${show(nv)}`, "changed", dir);
    }
    if (o.uniqueItems !== n.uniqueItems && (o.uniqueItems === true || n.uniqueItems === true)) {
      const now = n.uniqueItems === true;
      this.judged(
        section,
        field,
        now ? "uniqueItems: added" : "uniqueItems: removed",
        now ? "tightened" : "loosened",
        dir,
      );
    }
    const oe = Array.isArray(o.enum) ? o.enum : undefined;
    const ne = Array.isArray(n.enum) ? n.enum : undefined;
    if (oe && ne) {
      const show = (vs: unknown[]) => vs.map((v) => JSON.stringify(v)).join(", ");
      const removed = oe.filter((v) => !ne.some((w) => JSON.stringify(w) === JSON.stringify(v)));
      const added = ne.filter((v) => !oe.some((w) => JSON.stringify(w) === JSON.stringify(v)));
      if (removed.length > 0) this.judged(section, field, `enum: removed ${show(removed)}`, "tightened", dir);
      if (added.length > 0) this.judged(section, field, `enum: added ${show(added)}`, "loosened", dir);
    } else if (ne) this.judged(section, field, "enum: added", "tightened", dir);
    else if (oe) this.judged(section, field, "enum: removed", "loosened", dir);
    if (o.default !== undefined && n.default !== undefined && JSON.stringify(o.default) !== JSON.stringify(n.default)) {
      this.add(section, field, `default: ${JSON.stringify(o.default)} → ${JSON.stringify(n.default)}`, false);
    }
  }

  private properties(section: string, field: string, o: Json, n: Json, dir: Direction, seen: Set<string>): void {
    const op = isObject(o.properties) ? o.properties : {};
    const np = isObject(n.properties) ? n.properties : {};
    const oReq = new Set(Array.isArray(o.required) ? (o.required as string[]) : []);
    const nReq = new Set(Array.isArray(n.required) ? (n.required as string[]) : []);
    const at = (name: string) => (field === "" ? name : `${field}.${name}`);
    const removed = Object.keys(op).filter((name) => !(name in np));
    const added = Object.keys(np).filter((name) => !(name in op));
    for (const name of removed) {
      // A field that left while one with the same schema arrived was most likely renamed: say so.
      const twins = added.filter((other) => this.sameSchema(op[name], np[other]));
      const hint =
        twins.length === 1 && removed.filter((r) => this.sameSchema(op[r], np[twins[0] as string])).length === 1;
      this.add(section, at(name), hint ? `removed (renamed to ${twins[0]}?)` : "removed", true);
    }
    for (const name of added) {
      const required = nReq.has(name);
      if (dir === "request") this.add(section, at(name), required ? "added (required)" : "added (optional)", required);
      else this.add(section, at(name), required ? "added" : "added (optional)", false);
    }
    for (const name of Object.keys(np)) {
      if (!(name in op)) continue;
      const was = oReq.has(name);
      const is = nReq.has(name);
      if (was !== is)
        this.judged(section, at(name), is ? "now required" : "now optional", is ? "tightened" : "loosened", dir);
      this.schema(section, at(name), op[name], np[name], dir, seen);
    }
  }

  private sameSchema(a: unknown, b: unknown): boolean {
    return stableJson(this.oldDoc, a, 0) === stableJson(this.newDoc, b, 0);
  }
}

/** Numeric bounds, and whether a larger value is the tighter one. */
const BOUNDS: ReadonlyArray<readonly [string, boolean]> = [
  ["minLength", true],
  ["maxLength", false],
  ["minimum", true],
  ["maximum", false],
  ["exclusiveMinimum", true],
  ["exclusiveMaximum", false],
  ["minItems", true],
  ["maxItems", false],
  ["minProperties", true],
  ["maxProperties", false],
];
/** Constraints that are only ever added, removed or swapped for another. */
const EXACT = ["format", "pattern", "multipleOf", "const"] as const;

function typeSet(schema: Json): Set<string> {
  const t = schema.type;
  if (typeof t === "string") return new Set([t]);
  if (Array.isArray(t)) return new Set(t.map(String));
  if (isObject(schema.properties)) return new Set(["object"]);
  if (schema.items !== undefined) return new Set(["array"]);
  return new Set();
}

/** One object view of an allOf composition (Swagger's inheritance), refs resolved at the top level only. */
function flatten(doc: Doc, schema: Json): Json {
  if (!Array.isArray(schema.allOf)) return schema;
  const merged: Json = { ...schema };
  delete merged.allOf;
  const properties: Json = {};
  const required = new Set<string>();
  for (const part of [...(schema.allOf as unknown[]).map((p) => flatten(doc, resolve(doc, p))), schema]) {
    if (isObject(part.properties)) Object.assign(properties, part.properties);
    if (Array.isArray(part.required)) for (const r of part.required) required.add(String(r));
    if (merged.type === undefined && part.type !== undefined) merged.type = part.type;
  }
  if (Object.keys(properties).length > 0) merged.properties = properties;
  if (required.size > 0) merged.required = [...required].sort();
  return merged;
}

/** A schema's text with $refs inlined (to a small depth), for "is this the same schema" questions. */
function stableJson(doc: Doc, node: unknown, depth: number): string {
  if (Array.isArray(node)) return `[${node.map((v) => stableJson(doc, v, depth)).join(",")}]`;
  if (!isObject(node)) return JSON.stringify(node) ?? "null";
  if (typeof node.$ref === "string") return depth > 4 ? node.$ref : stableJson(doc, resolve(doc, node), depth + 1);
  const keys = Object.keys(node)
    .filter((k) => k !== "description" && k !== "example" && k !== "examples" && k !== "title")
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(doc, node[k], depth)}`).join(",")}}`;
}

function diffOperation(d: Differ, before: Operation, after: Operation): Change[] {
  const { op: o } = before;
  const { op: n } = after;
  if (o.operationId !== n.operationId && n.operationId !== undefined) {
    d.add("operation", "", `operationId: ${String(o.operationId)} → ${String(n.operationId)}`, false);
  }
  if (n.deprecated === true && o.deprecated !== true) d.add("operation", "", "deprecated", false);
  diffParameters(d, before, after);
  diffRequestBody(d, o, n);
  diffResponses(d, o, n);
  return d.changes;
}

function parameters(doc: Doc, { op, pathItem }: Operation): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const list of [pathItem.parameters, op.parameters]) {
    if (!Array.isArray(list)) continue;
    // Operation-level parameters override path-level ones of the same name and location.
    for (const raw of list) {
      const p = resolve(doc, raw);
      out.set(`${String(p.in)}.${String(p.name)}`, p);
    }
  }
  return out;
}

function diffParameters(d: Differ, before: Operation, after: Operation): void {
  const o = parameters(d.oldDoc, before);
  const n = parameters(d.newDoc, after);
  for (const [key, p] of n) {
    const old = o.get(key);
    if (!old) {
      d.add("parameter", key, p.required === true ? "added (required)" : "added (optional)", p.required === true);
      continue;
    }
    if (old.required !== true && p.required === true) d.add("parameter", key, "now required (tightened)", true);
    if (old.required === true && p.required !== true) d.add("parameter", key, "now optional (loosened)", false);
    d.schema(
      "parameter",
      key,
      old.schema ?? mediaSchema(d.oldDoc, old.content),
      p.schema ?? mediaSchema(d.newDoc, p.content),
      "request",
      new Set(),
    );
  }
  for (const key of o.keys()) if (!n.has(key)) d.add("parameter", key, "removed", true);
}

/** The JSON schema of a content map: application/json first, then any other JSON type, then the only one there is. */
function jsonMediaType(content: unknown): string | undefined {
  if (!isObject(content)) return undefined;
  const types = Object.keys(content);
  return types.find((t) => t === "application/json") ?? types.find((t) => /[/+]json\b/.test(t)) ?? types[0];
}

function mediaSchema(doc: Doc, content: unknown): unknown {
  const type = jsonMediaType(content);
  return type && isObject(content) ? resolve(doc, content[type]).schema : undefined;
}

function diffContent(d: Differ, section: string, oldContent: unknown, newContent: unknown, dir: Direction): void {
  const ot = jsonMediaType(oldContent);
  const nt = jsonMediaType(newContent);
  if (ot !== nt) {
    if (ot && nt) d.add(section, "", `media type: ${ot} → ${nt}`, true);
    else if (nt) d.add(section, "", `body added (${nt})`, dir === "request");
    else d.add(section, "", `body removed (was ${ot})`, dir === "response");
    if (!ot || !nt) return;
  }
  const os = mediaSchema(d.oldDoc, oldContent);
  const ns = mediaSchema(d.newDoc, newContent);
  if (os !== undefined || ns !== undefined) d.schema(section, "", os ?? {}, ns ?? {}, dir, new Set());
}

function diffRequestBody(d: Differ, o: Json, n: Json): void {
  const ob = o.requestBody === undefined ? undefined : resolve(d.oldDoc, o.requestBody);
  const nb = n.requestBody === undefined ? undefined : resolve(d.newDoc, n.requestBody);
  const section = "request body";
  if (!ob && !nb) return;
  if (!ob && nb) {
    d.add(section, "", nb.required === true ? "added (required)" : "added (optional)", nb.required === true);
    return;
  }
  if (ob && !nb) {
    d.add(section, "", "removed", true);
    return;
  }
  if (!ob || !nb) return;
  if (ob.required !== true && nb.required === true) d.add(section, "", "now required (tightened)", true);
  if (ob.required === true && nb.required !== true) d.add(section, "", "now optional (loosened)", false);
  diffContent(d, section, ob.content, nb.content, "request");
}

function diffResponses(d: Differ, o: Json, n: Json): void {
  const or = isObject(o.responses) ? o.responses : {};
  const nr = isObject(n.responses) ? n.responses : {};
  for (const status of new Set([...Object.keys(or), ...Object.keys(nr)])) {
    const section = `response ${status}`;
    const success = /^2/.test(status);
    if (!(status in nr)) d.add(section, "", "removed", success);
    else if (!(status in or)) d.add(section, "", "added", false);
    else
      diffContent(d, section, resolve(d.oldDoc, or[status]).content, resolve(d.newDoc, nr[status]).content, "response");
  }
}

/** Counts for the summary line: every removed operation and every breaking change counts once. */
export function countChanges(report: ApiReport): { breaking: number; nonBreaking: number } {
  let breaking = report.removed.length;
  let nonBreaking = report.added.length;
  for (const op of report.changed) for (const c of op.changes) c.breaking ? breaking++ : nonBreaking++;
  return { breaking, nonBreaking };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

export function formatReport(report: ApiReport, style: "text" | "markdown"): string {
  const title = `${report.title ?? "API"} ${report.fromVersion ?? "(none)"} → ${report.toVersion ?? "(unversioned)"}`;
  const { breaking, nonBreaking } = countChanges(report);
  const summary =
    `${plural(report.added.length, "operation")} added, ${report.removed.length} removed, ` +
    `${report.changed.length} changed; ${plural(breaking, "breaking change")}, ${nonBreaking} non-breaking.`;
  const empty = report.added.length + report.removed.length + report.changed.length === 0;
  const opName = (op: OperationRef, md: boolean) => {
    const name = `${op.method} ${op.path}`;
    const id = op.operationId ? (md ? ` (\`${op.operationId}\`)` : ` (${op.operationId})`) : "";
    return md ? `\`${name}\`${id}` : `${name}${id}`;
  };
  const where = (c: Change, md: boolean) => {
    const f = c.field === "" ? "" : md ? ` \`${c.field}\`` : ` ${c.field}`;
    return `${c.section}${f}`;
  };
  const lines: string[] = [];
  if (style === "text") {
    lines.push(`API changes: ${title}`, empty ? "No API changes." : summary);
    if (report.added.length > 0) {
      lines.push("", "Added operations:");
      for (const op of report.added) lines.push(`  + ${opName(op, false)}`);
    }
    if (report.removed.length > 0) {
      lines.push("", "Removed operations:");
      for (const op of report.removed) lines.push(`  - ${opName(op, false)}  BREAKING`);
    }
    if (report.changed.length > 0) {
      lines.push("", "Changed operations:");
      for (const op of report.changed) {
        lines.push(`  ~ ${opName(op, false)}`);
        for (const c of op.changes) {
          lines.push(`      ${c.breaking ? "BREAKING    " : "non-breaking"}  ${where(c, false)}: ${c.message}`);
        }
      }
    }
  } else {
    lines.push(
      `## API changes: ${title}`,
      "",
      empty ? "No API changes." : summary.replace(/(\d+ breaking changes?)/, "**$1**"),
    );
    if (report.added.length > 0) {
      lines.push("", "### Added operations", "");
      for (const op of report.added) lines.push(`- ${opName(op, true)}`);
    }
    if (report.removed.length > 0) {
      lines.push("", "### Removed operations", "");
      for (const op of report.removed) lines.push(`- **BREAKING** ${opName(op, true)}`);
    }
    if (report.changed.length > 0) {
      lines.push("", "### Changed operations");
      for (const op of report.changed) {
        lines.push("", `#### ${opName(op, true)}`, "");
        for (const c of op.changes) lines.push(`- ${c.breaking ? "**BREAKING** " : ""}${where(c, true)}: ${c.message}`);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}
