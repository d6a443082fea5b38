/**
 * The progress display: a bar on a terminal, a plain line every few seconds otherwise (logs, CI).
 */
import cliProgress from "cli-progress";
import type { BulkProgress } from "../api/bulk.js";

/**
 * Where progress goes: the CLI's stderr.
 *
 * @example
 * ```ts
 * const stream: ProgressStream = process.stderr;
 * ```
 */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/**
 * A progress display for `total` calls: `update` with the bulk run's progress, `stop` at the end. `extra` adds to
 * each line of the log (not the bar), e.g. the share of requests answered 429.
 *
 * @example
 * ```ts
 * const progress = progressRenderer(process.stderr, "features", 1000);
 * const p = {} as Parameters<typeof progress.update>[0]; // from the bulk run's onProgress
 * progress.update(p);
 * progress.stop();
 * ```
 */
export function progressRenderer(
  stderr: ProgressStream,
  label: string,
  total: number,
  extra: () => string = () => "",
): { update(p: BulkProgress): void; stop(): void } {
  if (stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: stderr as NodeJS.WritableStream,
        format: `${label} |{bar}| {value}/{total} calls · {failed} failed · {rate}/s{pace} · ETA {eta_formatted}`,
        hideCursor: true,
        etaBuffer: 500,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { failed: 0, rate: 0, pace: "" });
    return {
      update: (p: BulkProgress) =>
        bar.update(p.done, { failed: p.failed, rate: p.ratePerSecond.toFixed(0), pace: pace(p) }),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  let latest: BulkProgress | undefined;
  let printed: BulkProgress | undefined;
  const line = (p: BulkProgress) => {
    printed = p;
    const percent = total > 0 ? ((100 * p.done) / total).toFixed(1) : "100.0";
    stderr.write(
      `progress: ${p.done}/${total} calls (${percent}%) · ${p.failed} failed · ${p.ratePerSecond.toFixed(0)}/s${pace(p)}${extra()}\n`,
    );
  };
  return {
    update: (p: BulkProgress) => {
      latest = p;
      if (p.elapsedMs - last >= 2000) {
        last = p.elapsedMs;
        line(p);
      }
    },
    stop: () => {
      if (latest && latest.done !== printed?.done) line(latest);
    },
  };
}

/** The client's current pace, as its rate limiter learned it from the pod's 429s; nothing while unlimited. */
function pace(p: BulkProgress): string {
  const rate = p.sendRatePerSecond;
  if (rate === undefined) return "";
  return rate === 0 ? " · holding (the pod said 429)" : ` · paced at ${rate.toFixed(0)}/s`;
}

/**
 * Gives the terminal back after the bar (it hides the cursor and turns off line wrap); for a sudden exit.
 *
 * @example
 * ```ts
 * if (process.stderr.isTTY) process.stderr.write(RESTORE_TERMINAL);
 * ```
 */
export const RESTORE_TERMINAL = "\x1b[?25h\x1b[?7h\n";

/**
 * Progress of a run whose total is not known (an export of `--all` users): on a terminal only, a line redrawn in
 * place with the count, failures and rate; nothing elsewhere.
 *
 * @example
 * ```ts
 * const progress = counterRenderer(process.stderr, "exporting");
 * const p = {} as Parameters<typeof progress.update>[0]; // from the run's onProgress
 * progress.update(p);
 * progress.stop();
 * ```
 */
export function counterRenderer(
  stderr: ProgressStream,
  label: string,
): { update(p: BulkProgress): void; stop(): void } {
  if (!stderr.isTTY) return { update: () => {}, stop: () => {} };
  let drawn = false;
  return {
    update: (p: BulkProgress) => {
      drawn = true;
      stderr.write(
        `\r\x1b[K${label}: ${p.done} users read · ${p.failed} failed · ${p.ratePerSecond.toFixed(0)}/s${pace(p)}`,
      );
    },
    stop: () => {
      if (drawn) stderr.write("\r\x1b[K");
    },
  };
}
