// The cluster's certificate authority: a self-signed P-256 CA whose key signs every node's
// and scheduler's certificate.
import { randomBytes } from "node:crypto";
import { x509 } from "./x509.js";
import { generateKeyPair, keyPairFromPem, privateKeyToPem, SIGNING_ALGORITHM, type KeyPair } from "./keys.js";

export interface CertificateAuthority {
  certificate: x509.X509Certificate;
  keys: KeyPair;
  /** The CA certificate as PEM: the bundle every party trusts. */
  certificatePem: string;
}

const TEN_YEARS_MS = 10 * 365 * 86_400_000;

export function randomSerial(): string {
  // 16 random bytes; the top byte in 0x40..0x7f keeps the DER integer positive and its
  // hex free of leading zeros, so Node's TLS peer serial and ours are the same string.
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x3f) | 0x40;
  return b.toString("hex");
}

export async function createCertificateAuthority(name = "drover cluster CA", lifetimeMs = TEN_YEARS_MS): Promise<CertificateAuthority & { keyPem: string }> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + lifetimeMs),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate, keys, certificatePem: certificate.toString("pem"), keyPem: await privateKeyToPem(keys.privateKey) };
}

export async function loadCertificateAuthority(certificatePem: string, keyPem: string): Promise<CertificateAuthority> {
  const certificate = new x509.X509Certificate(certificatePem);
  const keys = await keyPairFromPem(keyPem);
  return { certificate, keys, certificatePem: certificate.toString("pem") };
}
