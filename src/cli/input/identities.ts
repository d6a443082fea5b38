/**
 * Users named by email or username: the plan pass resolves them to uids through `pod.users.lookup` (batched by the
 * library, at most 100 values a call, through the client's flow control), a chunk of the input at a time so that
 * memory does not grow with the file. Items go on with the resolved uid; an item whose user (or delegate) the pod
 * does not know goes on with a placeholder uid, to be validated like any other, and is marked: the plan lists it and
 * the report keeps it as read, and it is never sent.
 */
import { createReadStream } from "node:fs";
import type { PodClient } from "../../api/client.js";
import type { SessionTokenProvider } from "../../core/auth.js";
import { printable, quote } from "../../core/text.js";
import { type ApplyArgs, UsageError } from "../args.js";
import { resolveSessionToken } from "../session.js";
import { OverlongLine, readLines } from "./lines.js";
import { MAX_ROW_BYTES, REPORT_KEY, type ReportMeta, type SourceRecord, USER_FIELDS } from "./readers.js";
import type { InputFile } from "./source.js";

/**
 * Values looked up per chunk: the records holding them are kept in memory until their lookups answer (1,000 values:
 * 10 full lookup calls). Larger chunks cost memory, not calls: a 1,000,000-email dry run peaked at about 180 MB RSS
 * with 1,000 and 280 MB with 10,000 (the lookups' answers are garbage the heap grows for), in 10,000 calls either way.
 *
 * @example
 * ```ts
 * console.log(`users are resolved ${RESOLVE_CHUNK} at a time`);
 * ```
 */
export const RESOLVE_CHUNK = 1_000;

/** Values the pod matched (or did not) that are remembered across chunks; beyond it, the memory is dropped. */
const MAX_REMEMBERED = 20_000;
/** The pod's limit of values per lookup call (the library batches by it). */
const LOOKUP_BATCH = 100;
/** Uids standing in for unknown users while the item is validated; never sent. */
const PLACEHOLDER_UID = "9223372036854775807";
const PLACEHOLDER_DELEGATE = "9223372036854775806";

/**
 * A user (or delegate) the pod does not know: the field that named it and its value.
 *
 * @example
 * ```ts
 * const unknown: UnknownUser = { column: "email", value: "nobody@acme.com" };
 * ```
 */
export interface UnknownUser {
  column: string;
  value: string;
}

/**
 * A record after resolution. An item named by email or username carries `source`: the item as read, and the users
 * the pod does not know (when there are any, `item` holds placeholder uids and must not be sent).
 *
 * @example
 * ```ts
 * const record: ResolvedRecord<object> = {
 *   line: 2,
 *   item: { uid: "7215545057281", features: [] },
 *   source: { item: { email: "ada@acme.com", features: [] }, unknown: [] },
 * };
 * ```
 */
export type ResolvedRecord<Item> =
  | Exclude<SourceRecord<Item>, { item: Item }>
  | {
      item: Item;
      line: number;
      meta?: ReportMeta;
      source?: { item: Record<string, unknown>; unknown: UnknownUser[] };
    };

/**
 * What the resolution did: distinct values looked up, found, unknown, and the lookup calls made.
 *
 * @example
 * ```ts
 * const stats: ResolutionStats = { emails: 1000, usernames: 0, found: 997, unknown: 3, calls: 10 };
 * ```
 */
export interface ResolutionStats {
  emails: number;
  usernames: number;
  found: number;
  unknown: number;
  calls: number;
}

/**
 * Thrown when a lookup fails (the pod refused it, or did not answer): nothing was sent.
 *
 * @example
 * ```ts
 * try {
 *   // … the plan pass
 * } catch (error) {
 *   if (error instanceof LookupError) console.error(error.message); // "looking up users by email failed: …"
 * }
 * ```
 */
export class LookupError extends Error {
  override name = "LookupError";
}

/** A value to look up: the cache's key, the value as written, and the field it came from. */
interface Need {
  key: string;
  value: string;
  column: string;
  kind: "emails" | "usernames";
}

/** The fields resolved (the users named by email or username), and the field of the uid that replaces each. */
const RESOLVED_FIELDS = Object.fromEntries(
  Object.entries(USER_FIELDS).flatMap(([field, { kind, to }]) => (kind === "uid" ? [] : [[field, { kind, to }]])),
) as Record<string, { kind: "emails" | "usernames"; to: string }>;

function needsOf(item: unknown): Need[] {
  if (item === null || typeof item !== "object") return [];
  const needs: Need[] = [];
  for (const [column, { kind }] of Object.entries(RESOLVED_FIELDS)) {
    const value = (item as Record<string, unknown>)[column];
    if (typeof value !== "string") continue;
    // The pod matches emails whatever their case; usernames exactly.
    const key = kind === "emails" ? `e:${value.toLowerCase()}` : `u:${value}`;
    needs.push({ key, value, column, kind });
  }
  return needs;
}

/**
 * Options of a {@link UserResolver}.
 *
 * @example
 * ```ts
 * const options: ResolverOptions = { label: "users.csv", concurrency: 100 };
 * ```
 */
export interface ResolverOptions {
  /** The input's name, for messages. */
  label: string;
  /** Lookup calls at once, 1–100. Default 10. */
  concurrency?: number | undefined;
  /** Aborted (Ctrl-C): no further lookups; the records end there. */
  signal?: AbortSignal | undefined;
  /** Distinct values looked up per chunk. Default {@link RESOLVE_CHUNK}. */
  chunk?: number | undefined;
  /** Values remembered across chunks before the memory is dropped. Default 20,000. */
  remember?: number | undefined;
}

/**
 * Resolves the users of an input's items, a chunk at a time. One resolver per run: it remembers what the pod matched
 * (up to 20,000 values), so a user named again soon after (a delegate of many users) costs no second lookup.
 *
 * @example
 * ```ts
 * import { createPodClient } from "symphony-pod-admin";
 *
 * const pod = createPodClient({ baseUrl: "https://acme.symphony.com/pod", sessionToken: "…" });
 * const resolver = new UserResolver(pod, { label: "users.csv" });
 * async function* rows() {
 *   yield { line: 2, item: { email: "ada@acme.com", features: [] } };
 * }
 * for await (const record of resolver.resolve(rows())) {
 *   if ("item" in record && record.source?.unknown.length) console.log("unknown:", record.source.unknown);
 * }
 * console.log(resolver.stats); // { emails: 1, usernames: 0, found: 1, unknown: 0, calls: 1 }
 * ```
 */
export class UserResolver {
  /** What was looked up so far. */
  readonly stats: ResolutionStats = { emails: 0, usernames: 0, found: 0, unknown: 0, calls: 0 };
  readonly #pod: PodClient | undefined;
  readonly #options: ResolverOptions;
  /** Cache key → the uid (decimal), or null when the pod knows no such user. */
  readonly #known = new Map<string, string | null>();

  /**
   * @param pod The client to look up with; undefined in a dry run without a session (a file that needs a lookup is
   *   then refused with a {@link UsageError} saying what to give).
   */
  constructor(pod: PodClient | undefined, options: ResolverOptions) {
    this.#pod = pod;
    this.#options = options;
  }

  /** The records, in input order, with items named by email or username resolved (see {@link ResolvedRecord}). */
  async *resolve<Item>(records: AsyncIterable<SourceRecord<Item>>): AsyncGenerator<ResolvedRecord<Item>> {
    let buffer: SourceRecord<Item>[] = [];
    const wanted: Record<Need["kind"], Map<string, Need>> = { emails: new Map(), usernames: new Map() };
    const chunk = this.#options.chunk ?? RESOLVE_CHUNK;
    const remember = this.#options.remember ?? MAX_REMEMBERED;
    const flush = async () => {
      await this.#lookUp(wanted, buffer);
      const resolved = buffer.map((held) => this.#resolved(held));
      buffer = [];
      wanted.emails.clear();
      wanted.usernames.clear();
      // Forgotten only once a chunk's records are resolved: they find every value they need.
      if (this.#known.size > remember) this.#known.clear();
      return resolved;
    };
    for await (const record of records) {
      if (this.#options.signal?.aborted) return; // Ctrl-C: no more lookups
      const needs = "item" in record ? needsOf(record.item) : [];
      let missing = false;
      for (const need of needs) {
        if (this.#known.has(need.key)) continue;
        missing = true;
        if (!wanted[need.kind].has(need.key)) wanted[need.kind].set(need.key, need);
      }
      if (buffer.length === 0 && !missing) {
        yield this.#resolved(record);
        continue;
      }
      buffer.push(record);
      // Records are held until their chunk is looked up: at most two chunks' worth (repeated values, invalid rows).
      if (wanted.emails.size + wanted.usernames.size >= chunk || buffer.length >= 2 * chunk) {
        yield* await flush();
      }
    }
    if (buffer.length > 0 && !this.#options.signal?.aborted) yield* await flush();
  }

  async #lookUp(wanted: Record<Need["kind"], Map<string, Need>>, buffer: SourceRecord<unknown>[]) {
    for (const kind of ["emails", "usernames"] as const) {
      const needs = [...wanted[kind].values()];
      if (needs.length === 0) continue;
      const pod = this.#pod;
      if (pod === undefined) {
        const first = needs[0] as Need;
        const line = buffer.find((record) => "item" in record && needsOf(record.item).some((n) => n.key === first.key));
        throw new UsageError(
          `${this.#options.label}:${line?.line ?? 1}: names users by ${first.column}, which the pod resolves to uids ` +
            "(lookups are reads, so a dry run does them too): give --pod (or POD_URL) and a session token " +
            "(POD_SESSION_TOKEN, or --username and --private-key)",
        );
      }
      const values = needs.map((need) => need.value);
      this.stats[kind] += values.length;
      this.stats.calls += Math.ceil(values.length / LOOKUP_BATCH);
      let answer: Awaited<ReturnType<PodClient["users"]["lookup"]>>;
      try {
        // No signal per call (one listener per call in flight on one signal): Ctrl-C lets a chunk's lookups finish.
        answer = await pod.users.lookup(kind === "emails" ? { emails: values } : { usernames: values }, {
          concurrency: Math.min(100, this.#options.concurrency ?? 10),
        });
      } catch (error) {
        const what = kind === "emails" ? "email" : "username";
        throw new LookupError(`looking up users by ${what} failed: ${printable((error as Error).message, 300)}`);
      }
      const found = new Set<string>();
      for (const user of answer.users) {
        const field = kind === "emails" ? user.emailAddress?.toLowerCase() : user.username;
        if (field === undefined) continue;
        const key = `${kind === "emails" ? "e" : "u"}:${field}`;
        if (!wanted[kind].has(key)) continue;
        this.#known.set(key, user.id.toString());
        found.add(key);
      }
      this.stats.found += found.size;
      for (const need of needs) {
        if (found.has(need.key)) continue;
        this.#known.set(need.key, null);
        this.stats.unknown++;
      }
    }
  }

  #resolved<Item>(record: SourceRecord<Item>): ResolvedRecord<Item> {
    if (!("item" in record)) return record;
    const needs = needsOf(record.item);
    if (needs.length === 0) return record;
    const source = record.item as Record<string, unknown>;
    const unknown: UnknownUser[] = [];
    // The uid fields first, where the columns that named the users were: items read as the uid files' are.
    const item: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(source)) {
      const resolved = RESOLVED_FIELDS[field];
      const need = resolved && needs.find((n) => n.column === field);
      if (!resolved || !need) {
        item[field] = value;
        continue;
      }
      const uid = this.#known.get(need.key);
      if (typeof uid === "string") item[resolved.to] = uid;
      else {
        unknown.push({ column: field, value: need.value });
        item[resolved.to] = resolved.to === "uid" ? PLACEHOLDER_UID : PLACEHOLDER_DELEGATE;
      }
    }
    return { ...record, item: item as Item, source: { item: source, unknown } };
  }
}

/**
 * The message of an item whose user (or delegate) the pod does not know, for the plan and the report.
 *
 * @example
 * ```ts
 * unknownUserMessage([{ column: "email", value: "nobody@acme.com" }]);
 * // 'no user of the pod has the email "nobody@acme.com": not sent'
 * ```
 */
export function unknownUserMessage(unknown: readonly UnknownUser[]): string {
  const names = unknown.map(({ column, value }) => {
    const noun = USER_FIELDS[column]?.noun ?? "user";
    const what = noun === "user" ? column : `${noun} email`;
    return `no ${noun} of the pod has the ${what} ${quote(value)}`;
  });
  return `${names.join(", and ")}: not sent`;
}

/**
 * Whether the input names users by email or username somewhere a dry run would have to look them up: the CSV
 * header, or a JSON Lines file's first item (or, in a report or journal, any line the pod did not resolve). A dry run
 * then needs the pod and a session. Files it misses are refused by the resolver, with the same advice.
 *
 * @example
 * ```ts
 * const input = { path: "users.csv", label: "users.csv" } as Parameters<typeof namesUsersToResolve>[0]; // openInput
 * if (await namesUsersToResolve(input, "csv")) console.log("the dry run looks users up on the pod");
 * ```
 */
export async function namesUsersToResolve(input: InputFile, format: "csv" | "jsonl"): Promise<boolean> {
  const stream = createReadStream(input.path);
  const lines = readLines(stream, MAX_ROW_BYTES);
  try {
    let first = true;
    let report = false;
    for await (const raw of lines) {
      if (raw instanceof OverlongLine) return false; // the plan refuses the line, saying why
      const line = first ? raw.replace(/^\uFEFF/, "") : raw;
      if (line.trim() === "") continue;
      if (format === "csv") {
        const columns = line.split(",").map((c) => c.trim().replace(/^"(.*)"$/, "$1"));
        return columns.some((c) => c in RESOLVED_FIELDS);
      }
      if (first) {
        first = false;
        report = line.includes(`"${REPORT_KEY}":`);
        if (!report) {
          try {
            return needsOf(JSON.parse(line)).length > 0;
          } catch {
            return false; // the plan says what is wrong with it
          }
        }
      }
      // A report: only the lines whose user the pod did not know name users by email or username.
      if (line.includes(`"${REPORT_KEY}":{"status":"unknownUser"`)) return true;
    }
    return false;
  } finally {
    stream.destroy();
  }
}

/**
 * The session of a dry run: none (`"dry-run"`) unless the input names users by email or username and a pod is given,
 * since the plan then looks them up (reads only). Without a pod, the plan refuses such a file, saying what to give.
 *
 * @example
 * ```ts
 * const input = { path: "users.csv", label: "users.csv" } as Parameters<typeof dryRunSession>[2]; // openInput
 * const args = { podUrl: "https://acme.symphony.com/pod", username: undefined, privateKey: undefined, maxAttempts: undefined };
 * const session = await dryRunSession(args, process.env, input, "csv");
 * ```
 * @throws UsageError when the input needs lookups and no session token can be had.
 */
export async function dryRunSession(
  args: Pick<ApplyArgs, "username" | "privateKey" | "podUrl" | "maxAttempts">,
  env: Record<string, string | undefined>,
  input: InputFile,
  format: "csv" | "jsonl",
  log?: Parameters<typeof resolveSessionToken>[3],
): Promise<string | SessionTokenProvider> {
  if (args.podUrl === undefined || !(await namesUsersToResolve(input, format))) return "dry-run";
  try {
    return await resolveSessionToken(args, env, undefined, log);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new UsageError(
      `${input.label} names users by email or username, which the dry run looks up on the pod (reads only): ${error.message}`,
    );
  }
}
