export { createCertificateAuthority, loadCertificateAuthority, randomSerial, type CertificateAuthority } from "./ca.js";
export { createKeyAndCsr, type KeyAndCsr } from "./csr.js";
export { CA_CERT_FILE, CA_KEY_FILE, ensureDir, fileExists, inDir, readText, writeSecret } from "./files.js";
export {
  identityOfSubject,
  nodeSubject,
  NODE_ORGANIZATION,
  SCHEDULER_COMMON_NAME,
  SCHEDULER_ORGANIZATION,
  schedulerSubject,
  type Identity,
} from "./identity.js";
export { CsrError, issueNodeCertificate, issueSchedulerCertificate, readCsr, type IssuedCertificate } from "./issue.js";
export { generateKeyPair, keyPairFromPem, privateKeyToPem, type KeyPair } from "./keys.js";
export { normalizeSerial, peerIdentity, type PeerIdentity, type PeerProblem } from "./peer.js";
export { MemoryCertificateProvider, type TlsMaterial } from "./provider.js";
export { certificateTimes } from "./times.js";
