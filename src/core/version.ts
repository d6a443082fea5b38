/** This package's version, sent in the `User-Agent` header. A test keeps it equal to package.json's. */
export const PACKAGE_VERSION = "0.1.0";

/** `symphony-pod-admin/<version> (Node.js <version>; <platform> <arch>)`, as the Symphony BDKs identify themselves. */
export const USER_AGENT = `symphony-pod-admin/${PACKAGE_VERSION} (Node.js ${process.version}; ${process.platform} ${process.arch})`;

const TRACE_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * A short random `X-Trace-Id` (8 characters, as short as the BDKs' own), so one call can be found in the pod's logs.
 * Not a secret and not unique across the world, only across the calls of a run.
 */
export function newTraceId(): string {
  let id = "";
  for (let i = 0; i < 8; i++) id += TRACE_ALPHABET[Math.floor(Math.random() * TRACE_ALPHABET.length)];
  return id;
}
