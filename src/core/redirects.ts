/**
 * The one place that decides what a redirect answer means, whatever sent the request (undici's pool, a dispatcher
 * of the caller's, a `fetch`): it is refused, never followed. A 3xx would carry the `sessionToken` header, or a
 * login's signed JWT, to whatever address it names, perhaps another host, perhaps plain http.
 */
import { PodApiError } from "./errors.js";

/** Whether an answer is a redirect: any 3xx, or a `fetch` that followed one although asked not to. @internal */
export function isRedirect(status: number, redirected: string | undefined): boolean {
  return (status >= 300 && status < 400) || redirected !== undefined;
}

/**
 * The error for a redirect answer: a {@link PodApiError} with the 3xx status (never retried), naming where it
 * pointed (origin and path only: no credentials, no query) and why it was not followed.
 * @internal
 */
export function redirectRefused(
  call: { method: string; path: string; uid?: string | undefined; url: string },
  status: number,
  location: string | undefined,
  followedTo: string | undefined,
  attempts: number,
  requestId: string,
): PodApiError {
  const target = shownTarget(followedTo ?? location, call.url);
  const what = followedTo
    ? `the fetch given to the client followed a redirect to ${target} although asked not to (redirect: "manual")`
    : `the server answered ${status}, a redirect to ${target}`;
  return new PodApiError({
    status,
    method: call.method,
    path: call.path,
    uid: call.uid,
    attempts,
    requestId,
    podMessage: `${what}; redirects are never followed, since they would carry the session token or the login's JWT to another address. Use the address the redirect names as the URL, if you trust it`,
  });
}

function shownTarget(location: string | undefined, base: string): string {
  if (location === undefined || location === "") return "an address it did not give";
  let url: URL;
  try {
    url = new URL(location, base);
  } catch {
    return "an unreadable address";
  }
  // Origin and path only: `url.host` never holds a user name or password, and the query may hold a token.
  const shown = `${url.protocol}//${url.host}${url.pathname}`;
  // Control characters of a hostile Location never reach a terminal.
  return JSON.stringify(shown.length > 200 ? `${shown.slice(0, 200)}…` : shown);
}
