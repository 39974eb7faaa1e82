// Certificates the CA signs: a node's (from its CSR, subject set here) and the scheduler's.
import { isIP } from "node:net";
import { x509 } from "./x509.js";
import { randomSerial, type CertificateAuthority } from "./ca.js";
import { nodeSubject, schedulerSubject } from "./identity.js";
import { SIGNING_ALGORITHM, type CryptoKey } from "./keys.js";

export interface IssuedCertificate {
  /** Lower-case hex, as stored in node_certificates.serial. */
  serial: string;
  certificatePem: string;
  notBefore: Date;
  notAfter: Date;
}

// Clocks differ a little between hosts; a certificate valid from a minute ago works at once on all of them.
const BACKDATE_MS = 60_000;

export class CsrError extends Error {}

/** Parses and checks a PKCS#10 request (its signature proves the requester holds the key). */
export async function readCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new CsrError(`not a PEM certificate signing request: ${(err as Error).message}`);
  }
  if (!(await csr.verify())) throw new CsrError("the request's signature does not match its public key");
  return csr;
}

/** A node's certificate for the key in csrPem: serverAuth (its AgentService) and clientAuth (calls to the scheduler). */
export async function issueNodeCertificate(ca: CertificateAuthority, csrPem: string, nodeName: string, lifetimeMs: number): Promise<IssuedCertificate> {
  const csr = await readCsr(csrPem);
  // @peculiar/x509 types it as the DOM's CryptoKey (no DOM lib here); at run time it is WebCrypto's.
  const publicKey = (await csr.publicKey.export()) as unknown as CryptoKey;
  return sign(ca, publicKey, nodeSubject(nodeName), lifetimeMs, [{ type: "dns", value: nodeName }]);
}

/** The scheduler's certificate: served to agents and clients, presented to agents. SANs are the names clients dial. */
export async function issueSchedulerCertificate(ca: CertificateAuthority, publicKey: CryptoKey, hosts: string[], lifetimeMs: number): Promise<IssuedCertificate> {
  const names = hosts.map((h) => (isIP(h) ? { type: "ip" as const, value: h } : { type: "dns" as const, value: h }));
  return sign(ca, publicKey, schedulerSubject(), lifetimeMs, names);
}

async function sign(ca: CertificateAuthority, publicKey: CryptoKey, subject: string, lifetimeMs: number, names: x509.JsonGeneralName[]): Promise<IssuedCertificate> {
  const serial = randomSerial();
  const now = Date.now();
  const notBefore = new Date(now - BACKDATE_MS);
  const notAfter = new Date(now + lifetimeMs);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject,
    issuer: ca.certificate.subject,
    notBefore,
    notAfter,
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate),
    ],
  });
  return { serial: cert.serialNumber.toLowerCase(), certificatePem: cert.toString("pem"), notBefore: cert.notBefore, notAfter: cert.notAfter };
}
