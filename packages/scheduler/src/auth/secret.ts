// Token secrets: what a caller presents is `drover_<id>_<secret>`. The id
// finds the row by primary key; the secret's sha256 must match the stored
// hash (compared in constant time). The secret is 32 random bytes, so a
// plain hash is enough: there is nothing to guess a dictionary against.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";

const FORMAT = /^drover_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;

export interface NewSecret {
  id: string;
  /** What the caller presents; shown once. */
  bearer: string;
  hash: Buffer;
}

export function newSecret(): NewSecret {
  const id = randomUUID();
  const secret = randomBytes(32).toString("base64url");
  return { id, bearer: `drover_${id.replaceAll("-", "")}_${secret}`, hash: hashSecret(secret) };
}

export const hashSecret = (secret: string): Buffer => createHash("sha256").update(secret).digest();

/** The token id and secret of a presented bearer string; null if it is not one of ours. */
export function parseBearer(bearer: string): { id: string; secret: string } | null {
  const m = FORMAT.exec(bearer);
  if (!m) return null;
  const h = m[1]!;
  return { id: `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`, secret: m[2]! };
}

export const secretMatches = (secret: string, stored: Buffer): boolean => {
  const given = hashSecret(secret);
  return given.length === stored.length && timingSafeEqual(given, stored);
};
