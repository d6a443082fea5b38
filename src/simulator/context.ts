/**
 * What an operation's handler is given: the pod's store and the server's ways of answering. The server
 * (server.ts) implements it; handlers see only this, so neither imports the other.
 */
import type { ServerResponse } from "node:http";
import type { components } from "../../generated/pod-api.js";
import type { PodStore } from "./store.js";

/**
 * The server as a handler sees it.
 *
 * @example
 * ```ts
 * const listDelegates: Handler = (pod, res, key) => pod.send(res, 200, "[]");
 * ```
 * @internal
 */
export interface PodContext {
  readonly store: PodStore;
  /** The answer of `GET /v1/admin/system/features/list`, as JSON text. */
  readonly availableFeatures: string;
  /** The feature names `features/update` accepts with `strictFeatures`; undefined: any name. */
  readonly knownFeatures: ReadonlySet<string> | undefined;
  /**
   * The body `text` holds, parsed and checked by the spec's compiled `validator`; undefined after answering 400 (not
   * JSON, or the message of the first schema error).
   */
  parse(res: ServerResponse, text: string, validator: unknown): unknown;
  /** A 200 answer of a write: counted in the stats' `writes`. */
  wrote(res: ServerResponse, body: string): void;
  /** An Error body (`{ code, message }`) with this status. */
  error(res: ServerResponse, status: number, message: string): void;
  /** A JSON answer. */
  send(res: ServerResponse, status: number, body: string): void;
  /** 204, no body. */
  noContent(res: ServerResponse): void;
}

/**
 * An operation of the simulated pod: `key` is the path's uid as a canonical decimal, already checked to be a user
 * (empty for operations without a uid), `body` the request's text (empty for reads), `query` the text after `?`.
 *
 * @internal
 */
export type Handler = (pod: PodContext, res: ServerResponse, key: string, body: string, query: string) => void;

/** The Pod API's plain success answer. @internal */
export const SUCCESS = JSON.stringify({
  format: "TEXT",
  message: "OK",
} satisfies components["schemas"]["SuccessResponse"]);
