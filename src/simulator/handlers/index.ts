/**
 * Every operation's handler, one per entry of the operation table (src/operations/index.ts). Typed
 * `Record<OperationName, Handler>`: an operation added to the table without a handler here fails the typecheck, and
 * routes.ts serves each at its table's method and path.
 */
import type { OperationName } from "../../operations/index.js";
import type { Handler } from "../context.js";
import { listApps, patchApps, replaceApps } from "./apps.js";
import { listDelegates, updateDelegates } from "./delegates.js";
import { listAvailableFeatures, listFeatures, updateFeatures } from "./features.js";
import { getStatus, updateStatus } from "./status.js";
import { findUsers, listUsers } from "./users.js";

/** The handler of each operation of the table. @internal */
export const HANDLERS: Record<OperationName, Handler> = {
  updateFeatures,
  listFeatures,
  updateDelegates,
  listDelegates,
  replaceApps,
  patchApps,
  listApps,
  updateStatus,
  getStatus,
  listAvailableFeatures,
  findUsers,
  listUsers,
};
