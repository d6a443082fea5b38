/**
 * Request bodies: read as JSON, checked by the spec's compiled validator (generated/schemas.ts), and a refusal worded
 * for the Error body. The words are the simulator's own, in the wire's field names (`body[0].entitlment`); the
 * client words its own checks (src/wire.ts) the same way, and a test compares the two, so each checks the other.
 */

/** The part of an Ajv error the wording reads. @internal */
export interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string | undefined;
  data?: unknown;
}

/** A compiled validator of generated/schemas.ts, as the simulator calls it. @internal */
export type BodyValidator = ((data: unknown) => boolean) & { errors?: readonly SchemaError[] | null };

/**
 * The body JSON text holds, when it is JSON and the validator accepts it; otherwise the 400 message.
 *
 * @example
 * ```ts
 * const checked = checkBody('{"action":"MOVE"}', validator);
 * if ("refusal" in checked) console.log(checked.refusal); // body.action must be one of ADD|REMOVE, got "MOVE"
 * ```
 * @internal
 */
export function checkBody(text: string, validator: unknown): { body: unknown } | { refusal: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { refusal: "request body is not valid JSON" };
  }
  const validate = validator as BodyValidator;
  if (validate(body)) return { body };
  const error = validate.errors?.[0];
  return { refusal: error === undefined ? "request body does not match the schema" : schemaErrorMessage(error) };
}

/**
 * An Ajv error as the Error body's message: the field from `body`, in the wire's names, then what is wrong with it.
 *
 * @example
 * ```ts
 * schemaErrorMessage({ instancePath: "/0/enabled", keyword: "type", params: { type: "boolean" }, data: "yes" });
 * // 'body[0].enabled must be a boolean, got "yes"'
 * ```
 * @internal
 */
export function schemaErrorMessage(error: SchemaError): string {
  const field = fieldOf(error.instancePath);
  const { keyword, params } = error;
  const got = `, got ${shown(error.data)}`;
  if (keyword === "required") return `${field}.${String(params.missingProperty)} is required`;
  if (keyword === "type") return `${field} must be ${article(String(params.type))}${got}`;
  if (keyword === "enum") return `${field} must be one of ${(params.allowedValues as unknown[]).join("|")}${got}`;
  if (keyword === "minLength") return `${field} must be at least ${params.limit} characters long${got}`;
  if (keyword === "maxLength") return `${field} must be at most ${params.limit} characters long${got}`;
  return `${field} ${error.message ?? `breaks ${keyword}`}${got}`;
}

/** A JSON Pointer (`/0/product/name`) as a field of `body` (`body[0].product.name`). */
function fieldOf(pointer: string): string {
  if (pointer === "") return "body";
  const parts = ["body"];
  for (const segment of pointer.slice(1).split("/")) {
    const name = segment.replace(/~1/g, "/").replace(/~0/g, "~");
    parts.push(/^[0-9]+$/.test(name) ? `[${name}]` : `.${name}`);
  }
  return parts.join("");
}

function article(type: string): string {
  return "aeiou".includes(type.charAt(0)) ? `an ${type}` : `a ${type}`;
}

/** The value that broke the rule, shortly: long strings by their length, objects and arrays by their kind. */
function shown(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return value.length <= 40 ? JSON.stringify(value) : `a string of ${value.length} characters`;
    case "object":
      return "an object";
    default:
      return `${typeof value} ${String(value)}`;
  }
}
