/**
 * Bad usage or input found before anything was sent: a command line prints the message and exits 2. One class for
 * both commands, `pod-admin` (src/cli) and the simulated pod's `simulate` (src/simulator/cli.ts).
 *
 * @example
 * ```ts
 * throw new UsageError("--concurrency must be an integer from 1 to 1000, got 0");
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}
