// The cluster CA on disk, in DROVER_TLS_DIR: ca.pem (shared with every party) and
// ca-key.pem (only on scheduler hosts). `drover-scheduler ca create` writes both.
import {
  CA_CERT_FILE,
  CA_KEY_FILE,
  createCertificateAuthority,
  ensureDir,
  fileExists,
  inDir,
  loadCertificateAuthority,
  readText,
  writeSecret,
  type CertificateAuthority,
} from "@drover/pki";

export class TlsSetupError extends Error {
  override name = "TlsSetupError";
}

export async function loadClusterCa(tlsDir: string): Promise<CertificateAuthority> {
  if (!tlsDir) {
    throw new TlsSetupError(
      "DROVER_TLS_DIR is not set: create the cluster CA with `drover-scheduler ca create --dir DIR` and set DROVER_TLS_DIR=DIR " +
        "(or DROVER_INSECURE=1, for a test cluster only)",
    );
  }
  const cert = inDir(tlsDir, CA_CERT_FILE);
  const key = inDir(tlsDir, CA_KEY_FILE);
  for (const f of [cert, key]) {
    if (!fileExists(f)) throw new TlsSetupError(`${f} is missing: create the cluster CA with \`drover-scheduler ca create --dir ${tlsDir}\``);
  }
  return loadCertificateAuthority(readText(cert), readText(key));
}

/** Creates a new CA in dir; refuses to overwrite one (every certificate issued from it would stop working). */
export async function createClusterCa(dir: string): Promise<{ certFile: string; keyFile: string }> {
  const certFile = inDir(dir, CA_CERT_FILE);
  const keyFile = inDir(dir, CA_KEY_FILE);
  if (fileExists(certFile) || fileExists(keyFile)) throw new TlsSetupError(`${dir} already holds a CA; remove it first to start over`);
  ensureDir(dir);
  const ca = await createCertificateAuthority();
  writeSecret(keyFile, ca.keyPem);
  writeSecret(certFile, ca.certificatePem, 0o644);
  return { certFile, keyFile };
}
