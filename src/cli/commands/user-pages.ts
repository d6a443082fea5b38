/**
 * `export --all` reads the pod's user list page by page (`skip`, `limit`). A pod that ignores `skip` answers the
 * same page for ever, and the export would never end (70,000 "users" in 8 s, then the disk): every uid is checked
 * to come once, and a page that starts like an earlier one names that cause.
 */
import type { PodUser } from "../../operations/users.js";

/**
 * The user list repeated a page or a user: the export stops (exit 1), its message says which and where.
 *
 * @example
 * ```ts
 * const error = new RepeatedUserError("user 12 is listed twice");
 * console.error(`The export stopped: ${error.message}.`);
 * ```
 */
export class RepeatedUserError extends Error {
  override name = "RepeatedUserError";
}

/**
 * Each user's uid (as a decimal string) from `users`, a list read in pages of `pageSize`; throws a
 * {@link RepeatedUserError} when a page starts with the same user as an earlier page, or when a user comes again.
 *
 * @example
 * ```ts
 * for await (const uid of uidsOnce(pod.users.list({ pageSize: 1000 }), 1000)) console.log(uid);
 * ```
 */
export async function* uidsOnce(users: AsyncIterable<PodUser>, pageSize: number): AsyncGenerator<string> {
  // Numbers where they fit (less memory than strings for a big pod), strings beyond 2^53.
  const seen = new Set<number | string>();
  const pageStartingWith = new Map<number | string, number>();
  let index = 0;
  for await (const user of users) {
    const key = user.id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(user.id) : user.id.toString();
    const page = Math.floor(index / pageSize) + 1;
    if (index % pageSize === 0) {
      const earlier = pageStartingWith.get(key);
      if (earlier !== undefined) {
        throw new RepeatedUserError(
          `the pod answered page ${page} of its user list (skip=${index}) with the users of page ${earlier}: it ` +
            `repeats pages (does it ignore skip?), so the list would never end; ${index} users were read`,
        );
      }
      pageStartingWith.set(key, page);
    }
    if (seen.has(key)) {
      throw new RepeatedUserError(
        `the pod listed user ${user.id} twice (again on page ${page}, skip=${index - (index % pageSize)}): its ` +
          `user list changed while it was read, or it pages wrongly; ${index} users were read, run the export again`,
      );
    }
    seen.add(key);
    index++;
    yield user.id.toString();
  }
}
