// libpq's TLS parameters in a postgres:// URL, for postgres.js. postgres.js reads sslmode
// itself but would send sslrootcert, sslcert and sslkey to the server as settings; here
// they become Node TLS options, with libpq's meaning: verify-full checks the chain and the
// host name, verify-ca the chain only, require with a root certificate is verify-ca.
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";

export type SslOption = false | "require" | "prefer" | "verify-full" | ConnectionOptions;

export class DatabaseTlsError extends Error {
  override name = "DatabaseTlsError";
}

/** The URL without the file parameters, and the ssl option they and sslmode make. */
export function tlsFromUrl(url: string): { url: string; ssl: SslOption | undefined } {
  const u = new URL(url);
  const p = u.searchParams;
  const mode = p.get("sslmode") ?? undefined;
  const files = { ca: p.get("sslrootcert"), cert: p.get("sslcert"), key: p.get("sslkey") };
  if (!files.ca && !files.cert && !files.key) return { url, ssl: undefined }; // postgres.js handles sslmode alone
  for (const k of ["sslmode", "sslrootcert", "sslcert", "sslkey"]) p.delete(k);
  if (mode === "disable") throw new DatabaseTlsError("DROVER_DATABASE_URL: sslmode=disable with certificate files; drop one or the other");
  const options: ConnectionOptions = {
    rejectUnauthorized: true,
    servername: u.hostname,
    ...(files.ca && files.ca !== "system" ? { ca: read(files.ca, "sslrootcert") } : {}),
    ...(files.cert ? { cert: read(files.cert, "sslcert") } : {}),
    ...(files.key ? { key: read(files.key, "sslkey") } : {}),
  };
  // libpq: verify-full checks the name; verify-ca, and require/prefer given a root certificate, the chain only.
  if (mode !== "verify-full") options.checkServerIdentity = () => undefined;
  return { url: u.toString(), ssl: options };
}

function read(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new DatabaseTlsError(`DROVER_DATABASE_URL: ${what}=${path}: ${(err as Error).message}`);
  }
}
