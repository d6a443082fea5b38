/**
 * Runs one operation of the table: maps the input to the wire, calls the typed openapi-fetch client with the
 * entry's spec method and path, reads the answer as the entry declares. The facade's methods and the bulk runs all
 * come through here.
 */
import type { Client } from "openapi-fetch";
import { type CallDefaults, type CallOptions, settingsFor } from "../core/call-options.js";
import { CALL_CONTEXT, type CallContext } from "../core/fetch-adapter.js";
import type { AnswerDecoder, PodHttp } from "../core/http.js";
import { type UserId, userIdToDecimal } from "../core/ids.js";
import type { PodPaths } from "../core/paths.js";
import type { TableEntry } from "../operations/define.js";
import { answerDecoder, type InputOf, OPERATIONS, type OperationName, type ResultOf } from "../operations/index.js";

/** The table's runner over one client's pipeline; a dry-run one builds every request and sends none. @internal */
export class OperationCaller {
  readonly #client: Client<PodPaths>;
  readonly #http: PodHttp;
  readonly #defaults: CallDefaults;
  readonly #dryRun: boolean;

  constructor(client: Client<PodPaths>, http: PodHttp, defaults: CallDefaults, dryRun = false) {
    this.#client = client;
    this.#http = http;
    this.#defaults = defaults;
    this.#dryRun = dryRun;
  }

  /** Runs the operation `name` for `uid` (undefined for an operation without one) with its facade input. */
  async invoke<K extends OperationName>(
    name: K,
    uid: UserId | undefined,
    input: InputOf<K>,
    options: CallOptions | undefined,
  ): Promise<ResultOf<K>> {
    const entry: TableEntry = OPERATIONS[name];
    const userId = entry.path.includes("{uid}") ? userIdToDecimal(uid, "uid") : undefined;
    const wire = entry.request?.(input as never);
    if (this.#dryRun && entry.dryRun) return entry.dryRun() as ResultOf<K>;
    const { context, init } = this.#init(userId, wire, options);
    const result = await this.#client.request(entry.method, entry.path as never, init as never);
    const answer = this.#read(context, entry.method, result, answerDecoder(name));
    return (entry.result ? entry.result(answer as never) : answer) as ResultOf<K>;
  }

  /**
   * The init every call hands openapi-fetch: the uid as its path parameter, the query and body the table built, the
   * answer read as text (so int64 ids are parsed exactly and the spec's schema checks it), the signal, and the
   * per-call settings for the pipeline.
   */
  #init(
    uid: string | undefined,
    wire: { body?: unknown; query?: object } | undefined,
    options: CallOptions | undefined,
  ) {
    const settings = this.#settings(options);
    const context: CallContext = { uid, retry: settings.retry, timeoutMs: settings.timeoutMs };
    // int64: openapi-typescript types uids as `number`; the facade keeps them as decimal strings, every digit intact.
    const params = uid === undefined ? { query: wire?.query } : { path: { uid }, query: wire?.query };
    return {
      context,
      init: {
        params,
        body: wire?.body,
        parseAs: "text" as const,
        signal: "signal" in settings ? settings.signal : undefined,
        [CALL_CONTEXT]: context,
      },
    };
  }

  /** openapi-fetch's result, as the pipeline's errors and the operation's decoder read it. */
  #read<T>(
    context: CallContext,
    method: string,
    result: { data?: unknown; error?: unknown; response: Response },
    decode: AnswerDecoder<T>,
  ): T {
    const { response } = result;
    const body = response.ok
      ? ((result.data as string | undefined) ?? "")
      : typeof result.error === "string"
        ? result.error
        : JSON.stringify(result.error ?? "");
    const answer = { status: response.status, header: (name: string) => response.headers.get(name) ?? undefined, body };
    const requestId = context.requestId ?? answer.header("x-trace-id");
    const meta = {
      method: method.toUpperCase(),
      path: context.path ?? "",
      uid: context.uid,
      attempts: context.attempts ?? 1,
      requestId,
    };
    return this.#http.readAnswer(meta, answer, decode);
  }

  #settings(options: CallOptions | undefined) {
    return settingsFor(this.#defaults, options);
  }
}
