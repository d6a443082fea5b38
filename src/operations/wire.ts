/**
 * Between the facade's names and the wire's: the one place where the Pod API's spellings are translated,
 * and where input is checked against the spec (unknown fields, then the spec's own compiled validators).
 */

import type { paths } from "../../generated/pod-api.js";
import { requestValidators, responseValidators, schemaShapes } from "../../generated/schemas.js";
import { ValidationError } from "../core/errors.js";
import { type AnswerDecoder, UnreadableAnswer } from "../core/http.js";
import { canonicalUserId } from "../core/ids.js";
import { JsonTooDeepError, mayHoldUnsafeInteger, parseJsonLossless, parseJsonNumbersAsText } from "../core/json.js";

/** Facade name → wire name, for every field the Pod API spells differently. The only such table. */
export const RENAMED_FIELDS: Readonly<Record<string, string>> = Object.freeze({
  entitlement: "entitlment",
});

const WIRE_TO_FACADE: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(Object.entries(RENAMED_FIELDS).map(([facade, wire]) => [wire, facade])),
);

type SchemaName = keyof typeof schemaShapes;
type Shape = Record<string, { object?: string; listOf?: string }>;

/**
 * Copies facade input into its wire form for `schema`: renames fields, rejects fields the schema does not have.
 * Values are not checked here; the compiled validator does that next, on the wire form.
 */
export function toWire(value: unknown, schema: SchemaName, field: string): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const shape: Shape = schemaShapes[schema];
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const wireKey = RENAMED_FIELDS[key] ?? key;
    const known = Object.hasOwn(shape, wireKey) && !Object.hasOwn(WIRE_TO_FACADE, key);
    if (!known) {
      const expected = Object.keys(shape).map(facadeName).join(", ");
      const hint = WIRE_TO_FACADE[key] ? ` (the facade spells it "${WIRE_TO_FACADE[key]}")` : "";
      throw new ValidationError(`${field}.${key}`, "known field", `unknown field${hint}; expected one of: ${expected}`);
    }
    const fieldValue = (value as Record<string, unknown>)[key];
    if (fieldValue === undefined) continue;
    const nested = shape[wireKey];
    if (nested?.object) out[wireKey] = toWire(fieldValue, nested.object as SchemaName, `${field}.${key}`);
    else if (nested?.listOf && Array.isArray(fieldValue)) {
      out[wireKey] = fieldValue.map((item, i) => toWire(item, nested.listOf as SchemaName, `${field}.${key}[${i}]`));
    } else out[wireKey] = fieldValue;
  }
  return out;
}

/** The facade's reading of a wire object: renamed fields get their facade names back. */
export function fromWire<T>(value: unknown): T {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value as T;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[WIRE_TO_FACADE[key] ?? key] = v;
  return out as T;
}

function facadeName(wireKey: string): string {
  return WIRE_TO_FACADE[wireKey] ?? wireKey;
}

/** Throws {@link ValidationError} naming `field` when a required facade field is missing. */
export function requireFields(value: unknown, fields: readonly string[], field: string): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const name of fields) {
    if ((value as Record<string, unknown>)[name] === undefined) {
      throw new ValidationError(`${field}.${name}`, "required", "is required");
    }
  }
}

/**
 * Throws {@link ValidationError} naming `field` when a name (an entitlement) holds a control character: a NUL or a
 * line break in a feature name is never a real name, and would be written into reports and logs as it is.
 *
 * @example
 * ```ts
 * checkNoControlCharacters("canCreatePublicRoom\n", "features[0].entitlement"); // throws: holds a control character (U+000A)
 * ```
 */
export function checkNoControlCharacters(value: unknown, field: string): void {
  if (typeof value !== "string") return;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0x20 && (code < 0x7f || code > 0x9f)) continue; // C0, DEL and C1 are control characters
    const hex = code.toString(16).toUpperCase().padStart(4, "0");
    throw new ValidationError(
      field,
      "no control characters",
      `holds a control character (U+${hex}) at position ${i}; a name is printable text`,
    );
  }
}

/** One error of a validator compiled by Ajv (standalone, `verbose`, so `data` holds the value at fault). */
export interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
}
/** A validator of `generated/schemas.ts`: true, or false with its `errors`. */
export type CompiledValidator = ((data: unknown) => boolean) & { errors?: AjvError[] | null };

/** An operation of the spec that takes a JSON body, as its generated body validator is keyed. */
export type BodyOperationKey = keyof typeof requestValidators;

/** The spec's JSON body type of `"<method> <path>"`. */
type BodyOf<K> = K extends `${infer M} ${infer P}`
  ? P extends keyof paths
    ? M extends keyof paths[P]
      ? paths[P][M] extends { requestBody: { content: { "application/json": infer B } } }
        ? B
        : never
      : never
    : never
  : never;

/**
 * Runs the validator the generator compiled from the operation's body schema over a wire body; the first problem
 * becomes a {@link ValidationError} in facade terms.
 */
export function checkBody<K extends BodyOperationKey>(
  body: unknown,
  operation: K,
  root: string,
): asserts body is BodyOf<K> {
  const validate = requestValidators[operation] as CompiledValidator;
  if (validate(body)) return;
  const error = validate.errors?.[0];
  if (!error) throw new ValidationError(root, "schema", `does not match the body schema of ${operation}`);
  throw describeAjvError(error, root);
}

function describeAjvError(error: AjvError, root: string): ValidationError {
  const { field, rule, message } = describeSchemaError(error, root, facadeName);
  return new ValidationError(field, rule, message);
}

/**
 * An Ajv error in words, as {@link ValidationError} puts it: the field (`root[0].name`), the rule it breaks and what
 * is wrong. `name` shows a wire field name: the facade's names for the client's errors; the simulated pod, which
 * speaks the wire's, keeps them as they are.
 *
 * @example
 * ```ts
 * describeSchemaError(validate.errors[0], "body", (name) => name);
 * // { field: "body[0].install", rule: "type boolean", message: "must be a boolean, got string \"yes\"" }
 * ```
 * @internal
 */
export function describeSchemaError(
  error: AjvError,
  root: string,
  name: (wireName: string) => string,
): { field: string; rule: string; message: string } {
  let field = root;
  for (const segment of error.instancePath.split("/").slice(1)) {
    const unescaped = segment.replaceAll("~1", "/").replaceAll("~0", "~");
    field += /^\d+$/.test(unescaped) ? `[${unescaped}]` : `.${name(unescaped)}`;
  }
  const { keyword, params } = error;
  const got = `, got ${describeValue(error.data)}`;
  switch (keyword) {
    case "required":
      return { field: `${field}.${name(String(params.missingProperty))}`, rule: "required", message: "is required" };
    case "type":
      return { field, rule: `type ${params.type}`, message: `must be ${withArticle(String(params.type))}${got}` };
    case "enum": {
      const allowed = (params.allowedValues as unknown[]).map(String).join("|");
      return { field, rule: `enum ${allowed}`, message: `must be one of ${allowed}${got}` };
    }
    case "minLength":
    case "maxLength":
      return {
        field,
        rule: `${keyword} ${params.limit}`,
        message: `must be ${keyword === "minLength" ? "at least" : "at most"} ${params.limit} characters long${got}`,
      };
    default:
      return { field, rule: keyword, message: `${error.message ?? `breaks ${keyword}`}${got}` };
  }
}

function withArticle(type: string): string {
  return `${/^[aeiou]/.test(type) ? "an" : "a"} ${type}`;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "string")
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/** An operation of the spec, as openapi-fetch names routes: `"<method> <path>"`. */
export type OperationKey = keyof typeof responseValidators;

/**
 * Reads a 2xx answer of `operation` as JSON and checks it against the operation's response schema from the spec.
 * A body that is empty, not JSON or not the schema's shape throws {@link UnreadableAnswer} saying which, without
 * quoting the body (V8's JSON errors do quote it, so they are never passed on).
 */
export function jsonAnswer<T>(operation: OperationKey): AnswerDecoder<T> {
  let decoder = decoders.get(operation);
  if (!decoder) {
    decoder = makeJsonAnswer(operation);
    decoders.set(operation, decoder);
  }
  return decoder as AnswerDecoder<T>;
}

const decoders = new Map<OperationKey, AnswerDecoder<unknown>>();

function makeJsonAnswer(operation: OperationKey): AnswerDecoder<unknown> {
  const validate = responseValidators[operation] as CompiledValidator;
  return (text) => {
    const value = parseAnswer(text);
    if (!validate(value)) {
      const error = validate.errors?.[0];
      const where = error?.instancePath ? ` at ${error.instancePath}` : "";
      throw new UnreadableAnswer(
        `does not match the spec's response schema${where}${error?.message ? ` (${error.message})` : ""}`,
      );
    }
    return value;
  };
}

/**
 * {@link jsonAnswer} for answers of user ids: every id is read exactly, as a bigint, and must be a user id as the
 * client takes one (a positive int64 written in digits): `-5`, `9223372036854775808`, `1e29` or `3.0` are refused
 * as an unreadable answer, not read as some other user.
 */
export function int64ListAnswer(operation: OperationKey): AnswerDecoder<bigint[]> {
  const checked = jsonAnswer<number[]>(operation);
  return (text) => {
    checked(text);
    const written = losslessAnswer(() => parseJsonNumbersAsText(text)) as string[];
    return written.map((id, i) => {
      const canonical = canonicalUserId(id);
      if (canonical === undefined || canonical !== id) {
        throw new UnreadableAnswer(`holds an id at /${i} that is not a user id (a positive int64 written in digits)`);
      }
      return BigInt(canonical);
    });
  };
}

/** Runs a lossless parse of an answer; a text nested too deep for it is an {@link UnreadableAnswer}. */
function losslessAnswer(parse: () => unknown): unknown {
  try {
    return parse();
  } catch (error) {
    if (error instanceof JsonTooDeepError) throw new UnreadableAnswer(`is ${error.message}`);
    throw error;
  }
}

/** Where the user ids of an answer are: each id present, with its JSON pointer, for an error to name. */
export type IdsOf = (answer: unknown) => Iterable<[pointer: string, id: unknown]>;

/**
 * A number token written with a sign, a fraction or an exponent (`-5`, `3.0`, `1e3`): only then can an id that
 * reads as a positive integer have been written otherwise. Strings may match too; the exact check then finds
 * nothing.
 */
const LOOSE_NUMBER = /[:,[]\s*(?:-|\d+(?:\.|[eE]))/;

/**
 * {@link jsonAnswer} for answers holding int64 ids in objects: checked against the schema, then read again without
 * float rounding when the text holds a long digit run, so every id comes out exact (a number or a bigint, for the
 * operation's `result` to make a bigint). `empty`: what a bodiless 2xx (204) means, where the spec allows one.
 * `ids`: where the user ids are; each must be a user id written in digits (not `0`, `-5`, `3.0`, `1e3`, nor beyond
 * int64), or the answer is unreadable: it is not read as some other user.
 */
export function exactIdsAnswer<T>(operation: OperationKey, options: { empty?: T; ids?: IdsOf } = {}): AnswerDecoder<T> {
  const checked = jsonAnswer<T>(operation);
  const { empty, ids } = options;
  return (text) => {
    if (empty !== undefined && text.trim() === "") return empty;
    const parsed = checked(text);
    const exact = mayHoldUnsafeInteger(text) ? (losslessAnswer(() => parseJsonLossless(text)) as T) : parsed;
    if (ids !== undefined) {
      // The ids as written only when some number is not plain digits: the common answer costs no second parse.
      const written = LOOSE_NUMBER.test(text);
      for (const [pointer, id] of ids(written ? losslessAnswer(() => parseJsonNumbersAsText(text)) : exact)) {
        const canonical = canonicalUserId(id);
        if (canonical === undefined || (written && canonical !== id)) {
          throw new UnreadableAnswer(
            `holds an id at ${pointer} that is not a user id (a positive int64 written in digits)`,
          );
        }
      }
    }
    return exact;
  };
}

/**
 * Maps a facade list to its wire form, item by item, after checking it is a list of objects: the errors name the
 * item (`features[2]`), before the schema check would with less helpful words.
 */
export function mapList<T>(items: readonly T[], field: string, map: (item: T, field: string) => unknown): unknown[] {
  if (!Array.isArray(items)) throw new ValidationError(field, "type array", `must be an array, got ${typeof items}`);
  return items.map((item, i) => {
    const itemField = `${field}[${i}]`;
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw new ValidationError(
        itemField,
        "type object",
        `must be an object, got ${item === null ? "null" : Array.isArray(item) ? "an array" : typeof item}`,
      );
    }
    return map(item, itemField);
  });
}

function parseAnswer(text: string): unknown {
  if (text.trim() === "") throw new UnreadableAnswer("is empty, where the spec promises JSON");
  try {
    return JSON.parse(text);
  } catch {
    throw new UnreadableAnswer("is not JSON");
  }
}
