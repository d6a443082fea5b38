/**
 * The simulated pod's routes, built once from the operation table (src/operations/index.ts): each entry's `method` and
 * `path`, served by its handler (handlers/index.ts). Requests are routed by two map lookups, no regular expression:
 * a path under `/pod/v1/admin/user/{uid}/` by the text after the uid, any other by the whole path.
 */
import { OPERATIONS, type OperationName } from "../operations/index.js";
import type { Handler } from "./context.js";
import { HANDLERS } from "./handlers/index.js";

/** The HTTP methods the Pod API uses, in the order an `Allow` header lists them. @internal */
export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
/** @internal */
export type Method = (typeof METHODS)[number];

/**
 * An operation of the spec as the server runs it.
 *
 * @internal
 */
export interface Operation {
  /** `"<METHOD> <spec path>"`, the key of `SimulatorStats.byOperation`. */
  readonly name: string;
  /** Its slot in the server's per-operation counters: its place in the table. */
  readonly index: number;
  readonly handler: Handler;
  /** Whether it reads a request body (every method but GET). */
  readonly write: boolean;
}

/** The operations of one path, by method, and the `Allow` header of a 405 there. @internal */
export type Route = { allow: string } & Partial<Record<Method, Operation>>;

/** The base path of the Pod API on the simulated server. @internal */
export const POD = "/pod";
/** Where the per-user operations start; the uid follows, then the route's tail. @internal */
export const USER_PREFIX = `${POD}/v1/admin/user/`;
const USER_PATH = "/v1/admin/user/{uid}/";

/** Every operation, in table order: `OPERATIONS[i].index === i`. @internal */
export const OPERATION_LIST: Operation[] = [];
/** The part of the path after `/pod/v1/admin/user/{uid}/` → its operations. @internal */
export const USER_ROUTES = new Map<string, Route>();
/** The operations without a uid in the path: the whole path (with `/pod`) → its operations. @internal */
export const POD_ROUTES = new Map<string, Route>();

for (const name of Object.keys(OPERATIONS) as OperationName[]) {
  const { method, path } = OPERATIONS[name];
  const verb = method.toUpperCase() as Method;
  const operation: Operation = {
    name: `${verb} ${path}`,
    index: OPERATION_LIST.length,
    handler: HANDLERS[name],
    write: verb !== "GET",
  };
  OPERATION_LIST.push(operation);
  let routes: Map<string, Route>;
  let key: string;
  if (path.startsWith(USER_PATH) && !path.includes("{", USER_PATH.length)) {
    routes = USER_ROUTES;
    key = path.slice(USER_PATH.length);
  } else if (!path.includes("{")) {
    routes = POD_ROUTES;
    key = POD + path;
  } else throw new Error(`the simulator routes no path parameter but {uid} after ${USER_PATH}: ${name} ${path}`);
  let route = routes.get(key);
  if (route === undefined) {
    route = { allow: "" };
    routes.set(key, route);
  }
  if (route[verb] !== undefined) throw new Error(`two operations are ${operation.name}`);
  route[verb] = operation;
  route.allow = METHODS.filter((each) => route[each] !== undefined).join(", ");
}
