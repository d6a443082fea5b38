/**
 * The one check of a URL given by the user (a pod's base URL, a login host, `--pod`), and the one way such a URL
 * is shown in a message: never with a user name or password, even when the rest does not parse.
 */

/**
 * A URL as text with any `user:password@` taken out. Cut up to the last "@" of the text: a password may hold "/",
 * "?", "#" or "@" itself, and a cut too far only shortens a message.
 * @internal
 */
export function withoutCredentials(text: string): string {
  // Leading blanks too: the URL parser trims them, so " http://user:pw@host" is a URL with credentials.
  return text.replace(/^(\s*[a-z][a-z0-9+.-]*:\/*).*@/is, "$1");
}

/** Whether a URL names a user or a password (`https://user:pw@host/`), valid or not. @internal */
export function hasCredentials(text: string): boolean {
  return withoutCredentials(text) !== text;
}

/**
 * Parses an http(s) URL with no credentials, query or fragment; throws `makeError(message)` naming `field`, with
 * the URL shown by `show` (quoted, without credentials).
 * @internal
 */
export function checkHttpUrl(
  value: string,
  field: string,
  makeError: (message: string) => Error = (message) => new TypeError(message),
  show: (safeText: string) => string = (safeText) => JSON.stringify(safeText),
): URL {
  const shown = show(withoutCredentials(value));
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw makeError(`${field} is not a valid URL: ${shown}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw makeError(`${field} must be an http(s) URL, got ${shown}`);
  }
  if (hasCredentials(value) || url.username || url.password) {
    throw makeError(
      `${field} must not hold a user name or password (${shown}): the pod authenticates with the session token`,
    );
  }
  if (url.search || url.hash) throw makeError(`${field} must not have a query or a fragment: ${shown}`);
  return url;
}
