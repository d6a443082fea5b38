/**
 * What a failed TLS handshake or proxy tunnel is named (src/core/connection-failure.ts): each error code Node or
 * undici gives, the words that say what to do, whether it is final (not retried), and how deep in undici's chain of
 * causes it is found. test/connection.test.ts produces a few of these failures for real; this pins every code.
 */
import { describe, expect, it } from "vitest";
import { CLOSED_WITHOUT_CLIENT_CERTIFICATE, connectionFailure } from "../src/core/connection-failure.js";

const withCode = (code: unknown, message = "failed", extra: object = {}) =>
  Object.assign(new Error(message), { code }, extra);

const UNTRUSTED_TEXT = (code: string) =>
  `TLS: the server's certificate is not signed by a CA this machine trusts (${code}). If your organisation uses an internal CA (or inspects TLS at its proxy), give its certificate (PEM): --ca-file FILE, ssl.trustStore.path in a BDK config, or the ca option`;
const CLIENT_TEXT = (code: string) =>
  `TLS: the server refused the connection for want of an accepted client certificate (${code}). Give the service account's certificate (--certificate, bot.certificate.path, or the tls option) and check that the server trusts its CA`;

describe("connectionFailure", () => {
  it.each([
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "CERT_UNTRUSTED",
    "CERT_SIGNATURE_FAILURE",
    "CERT_CHAIN_TOO_LONG",
  ])("%s: an untrusted certificate, final, pointing to --ca-file", (code) => {
    expect(connectionFailure(withCode(code))).toEqual({
      kind: "untrusted-certificate",
      final: true,
      text: UNTRUSTED_TEXT(code),
    });
  });

  it.each(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"])("%s: a certificate not valid now, final", (code) => {
    expect(connectionFailure(withCode(code))).toEqual({
      kind: "expired-certificate",
      final: true,
      text: `TLS: the server's certificate is not valid now (${code})`,
    });
  });

  it.each([
    "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE",
    "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
    "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
    "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
    "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED",
    "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
  ])("%s: the client certificate refused or missing, final", (code) => {
    expect(connectionFailure(withCode(code))).toEqual({
      kind: "client-certificate",
      final: true,
      text: CLIENT_TEXT(code),
    });
  });

  it.each(["ERR_SSL_WRONG_VERSION_NUMBER", "ERR_SSL_PACKET_LENGTH_TOO_LONG"])(
    "%s: the server does not speak TLS, final",
    (code) => {
      expect(connectionFailure(withCode(code))).toEqual({
        kind: "not-tls",
        final: true,
        text: `TLS: the server did not answer in TLS (${code}); is the URL http:// rather than https://, or the port wrong?`,
      });
    },
  );

  it("a host the certificate does not name: its reason when Node gives one, else the code", () => {
    const reason = "Host: pod.bank.example. is not in the cert's altnames: DNS:other.example";
    const suffix = ". Use the host name the certificate names";
    expect(connectionFailure(withCode("ERR_TLS_CERT_ALTNAME_INVALID", "x", { reason }))).toEqual({
      kind: "hostname-mismatch",
      final: true,
      text: `TLS: the server's certificate is not for the host in the URL (${reason})${suffix}`,
    });
    expect(connectionFailure(withCode("ERR_TLS_CERT_ALTNAME_INVALID", "x", { reason: 42 }))?.text).toBe(
      `TLS: the server's certificate is not for the host in the URL (ERR_TLS_CERT_ALTNAME_INVALID)${suffix}`,
    );
  });

  it("a server that closed without answering and no client certificate offered: a likely cause only, retried", () => {
    expect(connectionFailure(withCode(CLOSED_WITHOUT_CLIENT_CERTIFICATE))).toEqual({
      kind: "client-certificate",
      final: false,
      text: "the server closed the TLS connection before answering, and no client certificate was offered: if it requires one (mutual TLS), give the service account's certificate (--certificate, bot.certificate.path, or the tls option)",
    });
  });

  it("a proxy refusing the tunnel: 407 asks for its credentials, any other status is named", () => {
    expect(connectionFailure(new Error("Proxy response (407) !== 200 when HTTP Tunneling"))).toEqual({
      kind: "proxy-refused",
      final: true,
      text: "the proxy asked for authentication (407): give the proxy's user name and password (proxy.username and proxy.password, or http://user:password@host:port)",
    });
    expect(connectionFailure(new Error("Proxy response (403) !== 200 when HTTP Tunneling, from proxy"))).toEqual({
      kind: "proxy-refused",
      final: true,
      text: "the proxy refused to open a tunnel to the server (403)",
    });
    // Only undici's own words, from their start.
    expect(connectionFailure(new Error("upstream: Proxy response (403) !== 200 when HTTP Tunneling"))).toBeUndefined();
    expect(connectionFailure(new Error("Proxy response (40) !== 200 when HTTP Tunneling"))).toBeUndefined();
  });

  it("is found up to three causes deep in undici's chain, not deeper", () => {
    const chain = (depth: number) => {
      let error: Error = withCode("CERT_HAS_EXPIRED");
      for (let i = 0; i < depth; i++) error = new Error(`wrapper ${i}`, { cause: error });
      return error;
    };
    expect(connectionFailure(chain(0))?.kind).toBe("expired-certificate");
    expect(connectionFailure(chain(3))?.kind).toBe("expired-certificate");
    expect(connectionFailure(chain(4))).toBeUndefined();
    // The first cause with a known code wins.
    const outer = new Error("fetch failed", {
      cause: withCode("CERT_UNTRUSTED", "x", { cause: withCode("CERT_HAS_EXPIRED") }),
    });
    expect(connectionFailure(outer)?.kind).toBe("untrusted-certificate");
  });

  it("anything else is not a connection failure: other codes, codes that are not strings, values that are not errors", () => {
    expect(connectionFailure(withCode("ECONNREFUSED"))).toBeUndefined();
    expect(connectionFailure(withCode(407, "Proxy"))).toBeUndefined();
    expect(
      connectionFailure(new Error("x", { cause: { code: "CERT_HAS_EXPIRED", message: "not an Error" } })),
    ).toBeUndefined();
    expect(connectionFailure("CERT_HAS_EXPIRED")).toBeUndefined();
    expect(connectionFailure(undefined)).toBeUndefined();
  });
});
