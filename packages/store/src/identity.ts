// Join tokens and issued certificates (migration 008). The scheduler decides who may
// join and what a certificate says; these queries only keep the record.
import type { Db } from "./db.js";

export interface NewJoinToken {
  id: string;
  secretHash: string;
  /** When set, only this node name may join with the token. */
  nodeName: string | null;
  expiresAt: Date;
}

export async function insertJoinToken(db: Db, t: NewJoinToken): Promise<void> {
  await db`INSERT INTO join_tokens (id, secret_hash, node_name, expires_at)
    VALUES (${t.id}, ${t.secretHash}, ${t.nodeName}, ${t.expiresAt})`;
}

export type JoinTokenRefusal = "unknown" | "used" | "expired" | "other-name";
export type JoinTokenUse = { ok: true; boundToName: boolean } | { ok: false; reason: JoinTokenRefusal };

/**
 * Marks the token used by nodeName if it is unused, unexpired, for that name (or any) and the
 * secret's hash matches: one conditional UPDATE, so two joins racing with one token cannot both win.
 */
export async function useJoinToken(db: Db, id: string, secretHash: string, nodeName: string): Promise<JoinTokenUse> {
  const [won] = await db<{ node_name: string | null }[]>`
    UPDATE join_tokens SET used_at = now(), used_by = ${nodeName}
    WHERE id = ${id} AND secret_hash = ${secretHash} AND used_at IS NULL AND expires_at > now()
      AND (node_name IS NULL OR node_name = ${nodeName})
    RETURNING node_name`;
  if (won) return { ok: true, boundToName: won.node_name !== null };
  const [t] = await db<{ used: boolean; expired: boolean; name_ok: boolean }[]>`
    SELECT used_at IS NOT NULL AS used, expires_at <= now() AS expired, (node_name IS NULL OR node_name = ${nodeName}) AS name_ok
    FROM join_tokens WHERE id = ${id} AND secret_hash = ${secretHash}`;
  // A wrong secret reads as an unknown token: nothing tells a guesser which ids exist.
  if (!t) return { ok: false, reason: "unknown" };
  return { ok: false, reason: t.used ? "used" : t.expired ? "expired" : "other-name" };
}

export interface IssuedCertificateRecord {
  serial: string;
  nodeName: string;
  notAfter: Date;
}

export async function recordCertificate(db: Db, c: IssuedCertificateRecord): Promise<void> {
  await db`INSERT INTO node_certificates (serial, node_name, not_after) VALUES (${c.serial}, ${c.nodeName}, ${c.notAfter})`;
}

/** A scheduler replica's own certificate (it issues itself one at start and at each renewal). */
export async function recordSchedulerCertificate(db: Db, c: { serial: string; notAfter: Date }): Promise<void> {
  await db`INSERT INTO node_certificates (serial, kind, node_name, not_after) VALUES (${c.serial}, 'scheduler', NULL, ${c.notAfter})
    ON CONFLICT (serial) DO NOTHING`;
}

/** Serials of revoked certificates, node's or scheduler's, that have not expired yet: what agents must refuse. */
export async function revokedSerials(db: Db): Promise<string[]> {
  const rows = await db<{ serial: string }[]>`
    SELECT serial FROM node_certificates WHERE revoked_at IS NOT NULL AND not_after > now() ORDER BY serial`;
  return rows.map((r) => r.serial);
}

export type CertificateStanding = "valid" | "revoked" | "unknown";

/** Whether the certificate with this serial was issued to nodeName and is not revoked. */
export async function certificateStanding(db: Db, serial: string, nodeName: string): Promise<CertificateStanding> {
  const [c] = await db<{ revoked: boolean }[]>`
    SELECT revoked_at IS NOT NULL AS revoked FROM node_certificates WHERE serial = ${serial} AND node_name = ${nodeName}`;
  return !c ? "unknown" : c.revoked ? "revoked" : "valid";
}

/** certificateStanding of several certificates in one query, keyed `serial node_name`. */
export async function certificateStandings(db: Db, certs: readonly { serial: string; nodeName: string }[]): Promise<Map<string, CertificateStanding>> {
  const rows = await db<{ key: string; revoked: boolean }[]>`
    SELECT c.serial || ' ' || c.node_name AS key, c.revoked_at IS NOT NULL AS revoked
    FROM unnest(${certs.map((c) => c.serial)}::text[], ${certs.map((c) => c.nodeName)}::text[]) AS t(serial, node_name)
    JOIN node_certificates c ON c.serial = t.serial AND c.node_name = t.node_name`;
  const out = new Map<string, CertificateStanding>(certs.map((c) => [`${c.serial} ${c.nodeName}`, "unknown"]));
  for (const r of rows) out.set(r.key, r.revoked ? "revoked" : "valid");
  return out;
}

/** True when some unrevoked, unexpired certificate names this node: the name is held. */
export async function nameHeld(db: Db, nodeName: string): Promise<boolean> {
  const [c] = await db<{ n: number }[]>`
    SELECT 1 AS n FROM node_certificates WHERE node_name = ${nodeName} AND revoked_at IS NULL AND not_after > now() LIMIT 1`;
  return c !== undefined;
}

/** Revokes by serial, or every certificate of a node; the number revoked now. */
export async function revokeCertificates(db: Db, which: { serial: string } | { nodeName: string }): Promise<number> {
  const rows =
    "serial" in which
      ? await db`UPDATE node_certificates SET revoked_at = now() WHERE serial = ${which.serial} AND revoked_at IS NULL RETURNING serial`
      : await db`UPDATE node_certificates SET revoked_at = now() WHERE node_name = ${which.nodeName} AND revoked_at IS NULL RETURNING serial`;
  return rows.length;
}
