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
  /** Null: never expires. */
  expiresAt: Date | null;
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
  expires_at: Date | null;
}

const fromRow = (r: TokenRow): StoredToken => ({
  id: r.id,
  secretHash: r.secret_hash,
  role: r.role,
  project: r.project,
  description: r.description,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  expiresAt: r.expires_at,
});

function publicPart(t: StoredToken): ApiToken {
  const { id, role, project, description, createdAt, revokedAt, expiresAt } = t;
  return { id, role, project, description, createdAt, revokedAt, expiresAt };
}

export async function insertToken(
  db: Db,
  t: { id: string; secretHash: Buffer; role: RoleName; project: string; description: string; ttlMs?: number | undefined },
): Promise<ApiToken> {
  // The expiry is the database's clock plus the lifetime, the clock every check reads.
  const [row] = await db<TokenRow[]>`
    INSERT INTO api_tokens (id, secret_hash, role, project, description, expires_at)
    VALUES (${t.id}, ${t.secretHash}, ${t.role}, ${t.project}, ${t.description},
      CASE WHEN ${t.ttlMs ?? null}::bigint IS NULL THEN NULL ELSE now() + ${t.ttlMs ?? null}::bigint * interval '1 millisecond' END)
    RETURNING *`;
  return publicPart(fromRow(row!));
}

/** The token by id, revoked or not (the caller checks the hash, revoked_at and expired). One primary-key read. */
export async function findToken(db: Db, id: string): Promise<(StoredToken & { expired: boolean }) | null> {
  // expired by the database's clock, like expires_at itself: no skew between replicas.
  const [row] = await db<(TokenRow & { expired: boolean })[]>`
    SELECT *, coalesce(expires_at <= now(), false) AS expired FROM api_tokens WHERE id = ${id}`;
  return row ? { ...fromRow(row), expired: row.expired } : null;
}

/** Of `ids`, the tokens that no longer hold: revoked, expired or gone. One indexed read. */
export async function endedTokens(db: Db, ids: string[]): Promise<{ id: string; why: "revoked" | "expired" | "gone"; at: Date | null }[]> {
  if (ids.length === 0) return [];
  return db<{ id: string; why: "revoked" | "expired" | "gone"; at: Date | null }[]>`
    SELECT i.id, CASE WHEN t.id IS NULL THEN 'gone' WHEN t.revoked_at IS NOT NULL THEN 'revoked' ELSE 'expired' END AS why,
      coalesce(t.revoked_at, t.expires_at) AS at
    FROM unnest(${ids}::uuid[]) AS i(id) LEFT JOIN api_tokens t ON t.id = i.id
    WHERE t.id IS NULL OR t.revoked_at IS NOT NULL OR t.expires_at <= now()`;
}

export async function listTokens(db: Db, project?: string): Promise<ApiToken[]> {
  const rows = await db<TokenRow[]>`
    SELECT * FROM api_tokens WHERE (${project ?? null}::text IS NULL OR project = ${project ?? null})
    ORDER BY created_at, id`;
  return rows.map((r) => publicPart(fromRow(r)));
}

/** The channel revokeToken notifies with the token's id, so replicas caching token rows drop it. */
export const TOKEN_REVOKED_CHANNEL = "drover_token_revoked";

/**
 * Revokes a token (idempotent: a second revocation keeps the first time). Null if there is none.
 * Notifies TOKEN_REVOKED_CHANNEL in the same statement: Postgres delivers it when the revocation commits.
 */
export async function revokeToken(db: Db, id: string): Promise<ApiToken | null> {
  const [row] = await db<TokenRow[]>`
    WITH t AS (UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = ${id} RETURNING *)
    SELECT t.*, pg_notify(${TOKEN_REVOKED_CHANNEL}, t.id::text) AS notified FROM t`;
  return row ? publicPart(fromRow(row)) : null;
}
