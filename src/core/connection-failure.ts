/**
 * What a TLS handshake or a proxy tunnel that failed means, in words that say what to do. Kept apart from
 * connection.ts so that errors.ts can name these failures without loading `node:tls`.
 */

/**
 * Which part of a connection failed, on {@link PodNetworkError.connectionFailure}: `"untrusted-certificate"` (the
 * server's certificate is not signed by a CA this machine trusts), `"hostname-mismatch"`, `"expired-certificate"`,
 * `"client-certificate"` (the server wants a client certificate, or refused the one given), `"not-tls"` (an
 * `https://` URL to a server that does not speak TLS), `"proxy-refused"` (the proxy refused the tunnel, e.g. 407).
 *
 * @example
 * ```ts
 * try {
 *   await pod.users.listFeatures(7215545057281n);
 * } catch (error) {
 *   if (error instanceof PodNetworkError && error.connectionFailure === "untrusted-certificate") console.error("add --ca-file");
 * }
 * ```
 */
export type ConnectionFailureKind =
  | "untrusted-certificate"
  | "hostname-mismatch"
  | "expired-certificate"
  | "client-certificate"
  | "not-tls"
  | "proxy-refused";

/** What failed in a TLS handshake or a proxy tunnel, as a kind and a sentence that says what to do. @internal */
export interface ConnectionFailure {
  kind: ConnectionFailureKind;
  text: string;
  /** False when it is a likely cause only: then the attempt is retried like any dropped connection. */
  final: boolean;
}

/**
 * The code of the error the transport gives when an https server closed a connection before answering anything and
 * no client certificate was offered: with TLS 1.3 a server that requires one closes the connection after the
 * handshake, and undici reports only "other side closed".
 * @internal
 */
export const CLOSED_WITHOUT_CLIENT_CERTIFICATE = "POD_ADMIN_CLOSED_WITHOUT_CLIENT_CERTIFICATE";

/** The kind of a TLS error code that never heals by retrying; undefined for any other code. */
function tlsKind(code: string): ConnectionFailureKind | undefined {
  // A switch in the function rather than module-level sets: it runs only when a connection failed.
  switch (code) {
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
    case "CERT_UNTRUSTED":
    case "CERT_SIGNATURE_FAILURE":
    case "CERT_CHAIN_TOO_LONG":
      return "untrusted-certificate";
    case "CERT_HAS_EXPIRED":
    case "CERT_NOT_YET_VALID":
      return "expired-certificate";
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return "hostname-mismatch";
    case "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED":
    case "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE":
    case "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE":
    case "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA":
    case "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN":
    case "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED":
    case "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED":
      return "client-certificate";
    case "ERR_SSL_WRONG_VERSION_NUMBER":
    case "ERR_SSL_PACKET_LENGTH_TOO_LONG":
      return "not-tls";
    default:
      return undefined;
  }
}

/**
 * Names a TLS or proxy failure in an error's chain (undici wraps the socket's error), with what to do; undefined for
 * any other failure. These never heal by retrying, so the pipeline does not retry them.
 * @internal
 */
export function connectionFailure(error: unknown): ConnectionFailure | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === CLOSED_WITHOUT_CLIENT_CERTIFICATE) {
      return {
        kind: "client-certificate",
        final: false,
        text:
          "the server closed the TLS connection before answering, and no client certificate was offered: if it " +
          "requires one (mutual TLS), give the service account's certificate (--certificate, bot.certificate.path, " +
          "or the tls option)",
      };
    }
    const kind = typeof code === "string" ? tlsKind(code) : undefined;
    if (kind !== undefined) return { kind, final: true, text: tlsText(kind, code as string, e) };
    const proxyStatus = /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling/.exec(e.message);
    if (proxyStatus) {
      const status = proxyStatus[1];
      return {
        kind: "proxy-refused",
        final: true,
        text:
          status === "407"
            ? "the proxy asked for authentication (407): give the proxy's user name and password (proxy.username and proxy.password, or http://user:password@host:port)"
            : `the proxy refused to open a tunnel to the server (${status})`,
      };
    }
  }
  return undefined;
}

/** What a TLS failure of `kind` means and what to do, naming its code. */
function tlsText(kind: ConnectionFailureKind, code: string, error: Error): string {
  switch (kind) {
    case "untrusted-certificate":
      return (
        `TLS: the server's certificate is not signed by a CA this machine trusts (${code}). If your organisation ` +
        "uses an internal CA (or inspects TLS at its proxy), give its certificate (PEM): --ca-file FILE, " +
        "ssl.trustStore.path in a BDK config, or the ca option"
      );
    case "expired-certificate":
      return `TLS: the server's certificate is not valid now (${code})`;
    case "hostname-mismatch": {
      const reason = (error as { reason?: unknown }).reason;
      return (
        `TLS: the server's certificate is not for the host in the URL (${typeof reason === "string" ? reason : code}). ` +
        "Use the host name the certificate names"
      );
    }
    case "client-certificate":
      return (
        `TLS: the server refused the connection for want of an accepted client certificate (${code}). Give the ` +
        "service account's certificate (--certificate, bot.certificate.path, or the tls option) and check that " +
        "the server trusts its CA"
      );
    default:
      return `TLS: the server did not answer in TLS (${code}); is the URL http:// rather than https://, or the port wrong?`;
  }
}
