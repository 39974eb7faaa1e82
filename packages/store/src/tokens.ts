// API tokens as stored: the secret's sha256, never the secret (the scheduler makes and checks both).
import type { Db } from "./db.js";

export type RoleName = "admin" | "operator" | "member" | "viewer";

export interface ApiToken {
  id: string;
  role: RoleName;
  project: string;
  description: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** A token with the hash its secret must match. */
export interface StoredToken extends ApiToken {
  secretHash: Buffer;
}

interface TokenRow {
  id: string;
  secret_hash: Buffer;
  role: RoleName;
  project: string;
  description: string;
  created_at: Date;
  revoked_at: Date | null;
}

const fromRow = (r: TokenRow): StoredToken => ({
  id: r.id,
  secretHash: r.secret_hash,
  role: r.role,
  project: r.project,
  description: r.description,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

function publicPart(t: StoredToken): ApiToken {
  const { id, role, project, description, createdAt, revokedAt } = t;
  return { id, role, project, description, createdAt, revokedAt };
}

export async function insertToken(
  db: Db,
  t: { id: string; secretHash: Buffer; role: RoleName; project: string; description: string },
): Promise<ApiToken> {
  const [row] = await db<TokenRow[]>`
    INSERT INTO api_tokens (id, secret_hash, role, project, description)
    VALUES (${t.id}, ${t.secretHash}, ${t.role}, ${t.project}, ${t.description})
    RETURNING *`;
  return publicPart(fromRow(row!));
}

/** The token by id, revoked or not (the caller checks the hash and revoked_at). One primary-key read. */
export async function findToken(db: Db, id: string): Promise<StoredToken | null> {
  const [row] = await db<TokenRow[]>`SELECT * FROM api_tokens WHERE id = ${id}`;
  return row ? fromRow(row) : null;
}

export async function listTokens(db: Db, project?: string): Promise<ApiToken[]> {
  const rows = await db<TokenRow[]>`
    SELECT * FROM api_tokens WHERE (${project ?? null}::text IS NULL OR project = ${project ?? null})
    ORDER BY created_at, id`;
  return rows.map((r) => publicPart(fromRow(r)));
}

/** Revokes a token (idempotent: a second revocation keeps the first time). Null if there is none. */
export async function revokeToken(db: Db, id: string): Promise<ApiToken | null> {
  const [row] = await db<TokenRow[]>`
    UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = ${id} RETURNING *`;
  return row ? publicPart(fromRow(row)) : null;
}
