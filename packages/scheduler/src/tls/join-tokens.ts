// One-time join tokens, "<id>.<secret>" like kubeadm's bootstrap tokens. Only the secret's
// SHA-256 is stored, so a database dump does not hand out joins.
import { createHash, randomBytes } from "node:crypto";
import { insertJoinToken, type Db } from "@drover/store";

export interface CreatedJoinToken {
  token: string;
  id: string;
  nodeName: string | null;
  expiresAt: Date;
}

const FORMAT = /^([0-9a-f]{8})\.([0-9a-f]{32})$/;

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function parseJoinToken(token: string): { id: string; secret: string } | undefined {
  const m = FORMAT.exec(token.trim());
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export async function createJoinToken(db: Db, o: { nodeName?: string | undefined; ttlMs: number }): Promise<CreatedJoinToken> {
  const id = randomBytes(4).toString("hex");
  const secret = randomBytes(16).toString("hex");
  const expiresAt = new Date(Date.now() + o.ttlMs);
  const nodeName = o.nodeName ?? null;
  await insertJoinToken(db, { id, secretHash: hashSecret(secret), nodeName, expiresAt });
  return { token: `${id}.${secret}`, id, nodeName, expiresAt };
}
