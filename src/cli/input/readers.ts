/**
 * Streaming readers for the CLI's input files: CSV (a documented column layout per command, csv.ts) and JSON Lines
 * (one bulk item per line, the format of `--report` files and journals, jsonl.ts). Neither reads a file whole.
 */
import type { Readable } from "node:stream";
import { readCsv } from "./csv.js";
import { readJsonLines } from "./jsonl.js";
import type { ItemOf, Operation, ReadOptions, SourceRecord } from "./records.js";

export * from "./records.js";

/**
 * Reads items for `operation` from `input`, one record per item, in input order.
 *
 * @example
 * ```ts
 * import { createReadStream } from "node:fs";
 *
 * for await (const record of readItems("features", createReadStream("users.csv"), "users.csv", "csv")) {
 *   if ("item" in record) console.log(record.line, record.item.uid);
 * }
 * ```
 */
export function readItems<Op extends Operation>(
  operation: Op,
  input: Readable,
  file: string,
  format: "csv" | "jsonl",
  options: ReadOptions = {},
): AsyncGenerator<SourceRecord<ItemOf[Op]>> {
  return (
    format === "jsonl" ? readJsonLines(operation, input, file) : readCsv(operation, input, file, options)
  ) as AsyncGenerator<SourceRecord<ItemOf[Op]>>;
}
