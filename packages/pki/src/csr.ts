// What a joining or renewing node sends: a fresh key's signing request. The key never leaves the host.
import { x509 } from "./x509.js";
import { nodeSubject } from "./identity.js";
import { generateKeyPair, privateKeyToPem, SIGNING_ALGORITHM } from "./keys.js";

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

export async function createKeyAndCsr(nodeName: string): Promise<KeyAndCsr> {
  const keys = await generateKeyPair();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: nodeSubject(nodeName), keys, signingAlgorithm: SIGNING_ALGORITHM });
  return { keyPem: await privateKeyToPem(keys.privateKey), csrPem: csr.toString("pem") };
}
