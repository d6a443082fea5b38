/**
 * A passphrase asked on the terminal, never echoed: the only way besides an environment variable to give one
 * (never a flag, which `ps` and shell history would show).
 */
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import type { AskSecret } from "./session.js";

/**
 * An {@link AskSecret} reading from `stdin` when both it and `stderr` are a terminal; undefined otherwise (a
 * pipe, CI), where the passphrase must come from its variable.
 *
 * @example
 * ```ts
 * const ask = terminalSecret(process.stdin, process.stderr);
 * const passphrase = ask ? await ask("Passphrase: ") : process.env.POD_PRIVATE_KEY_PASSPHRASE;
 * ```
 */
export function terminalSecret(
  stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown },
  stderr: Writable & { isTTY?: boolean },
): AskSecret | undefined {
  if (!stdin.isTTY || !stderr.isTTY) return undefined;
  return (question) =>
    new Promise((resolve) => {
      stderr.write(question);
      // Output goes to a sink: what is typed is not echoed.
      const rl = createInterface({ input: stdin, output: undefined, terminal: false });
      rl.once("line", (line) => {
        rl.close();
        stderr.write("\n");
        resolve(line);
      });
    });
}
