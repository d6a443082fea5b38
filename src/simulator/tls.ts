/**
 * Certificates for the simulated pod's HTTPS: a test CA (generated, or given), a server certificate for loopback
 * signed by it, and client certificates for the certificate login. node-forge builds and signs the X.509
 * certificates (Node has no API for that); keys come from `node:crypto`. Loaded only by a pod started with `tls`.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

/**
 * A certificate and its private key, PEM.
 *
 * @example
 * ```ts
 * import { readFileSync } from "node:fs";
 *
 * const ca: SimulatorKeyPair = { cert: readFileSync("ca.pem", "utf8"), key: readFileSync("ca-key.pem", "utf8") };
 * ```
 */
export interface SimulatorKeyPair {
  /** The certificate, PEM. */
  cert: string;
  /** Its private key, PEM (unencrypted). */
  key: string;
}

/**
 * A client certificate issued by the simulated pod's CA, for the certificate login: PEM `cert` and `key`, and the
 * same as a PKCS#12 file (`pfx`) protected by `passphrase`.
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs";
 *
 * const bot: SimulatorClientCertificate = pod.issueClientCertificate("provisioning-bot", "changeit");
 * writeFileSync("bot.p12", bot.pfx);
 * ```
 */
export interface SimulatorClientCertificate extends SimulatorKeyPair {
  /** The certificate and key as PKCS#12 (3DES, SHA-1 MAC: what `openssl pkcs12` and Java read). */
  pfx: Buffer;
  /** The PKCS#12 file's password. */
  passphrase: string;
}

/** @internal */
export function generateCa(commonName = "pod-admin simulated pod test CA"): SimulatorKeyPair {
  const { key, forgeKey, publicKey } = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  validFor(cert, 2);
  const subject = [{ name: "commonName", value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}

/** A certificate signed by `ca`: a server one for `hosts` (names and IP addresses), or a client one. @internal */
export function issueCertificate(
  ca: SimulatorKeyPair,
  commonName: string,
  use: { server: string[] } | { client: true },
): SimulatorKeyPair {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const { key, publicKey } = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  validFor(cert, 1);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  const extensions: object[] = [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
  ];
  if ("server" in use) {
    extensions.push({ name: "extKeyUsage", serverAuth: true });
    extensions.push({
      name: "subjectAltName",
      altNames: use.server.map((host) =>
        /^[\d.]+$/.test(host) || host.includes(":") ? { type: 7, ip: host } : { type: 2, value: host },
      ),
    });
  } else {
    extensions.push({ name: "extKeyUsage", clientAuth: true });
  }
  cert.setExtensions(extensions);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}

/** A client certificate with its PKCS#12 form. @internal */
export function issueClientCertificate(
  ca: SimulatorKeyPair,
  username: string,
  passphrase: string,
): SimulatorClientCertificate {
  const pair = issueCertificate(ca, username, { client: true });
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(pair.key),
    [forge.pki.certificateFromPem(pair.cert), forge.pki.certificateFromPem(ca.cert)],
    passphrase,
    { algorithm: "3des" },
  );
  const pfx = Buffer.from(forge.asn1.toDer(asn1).getBytes(), "binary");
  return { ...pair, pfx, passphrase };
}

function rsaKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const key = privateKey.export({ type: "pkcs1", format: "pem" }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(key);
  const publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  return { key, forgeKey, publicKey };
}

function serial(): string {
  // Positive: the first bit clear.
  return `01${randomBytes(15).toString("hex")}`;
}

function validFor(cert: forge.pki.Certificate, days: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60_000);
  cert.validity.notAfter = new Date(now + days * 24 * 60 * 60_000);
}
