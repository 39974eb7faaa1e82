// JoinNode and RenewCertificate: where node certificates come from. A join spends a
// one-time token; a renewal needs the node's current certificate and keeps its identity.
import { CsrError, issueNodeCertificate, type CertificateAuthority } from "@drover/pki";
import { getNode, nameHeld, recordCertificate, revokeCertificates, useJoinToken, type Tx, transaction } from "@drover/store";
import type { SchedulerContext } from "../context.js";
import { ValidationError, WrongStateError } from "../errors.js";
import { authenticatedNode, refuse } from "./authorize-node.js";
import { hashSecret, parseJoinToken } from "./join-tokens.js";

export interface IssuedNodeCertificate {
  certificatePem: string;
  caPem: string;
}

function caOf(ctx: SchedulerContext): CertificateAuthority {
  if (!ctx.identity) throw new WrongStateError("this scheduler runs with DROVER_INSECURE=1 and issues no certificates; agents connect without joining");
  return ctx.identity.ca;
}

/**
 * A new node's first certificate. An unbound token may join only a name the cluster does not
 * know yet; taking over a known name needs a token created for it, and revokes that name's
 * earlier certificates (the old host's key is gone or not to be trusted).
 */
export async function joinNode(ctx: SchedulerContext, req: { joinToken: string; nodeName: string; csrPem: string }): Promise<IssuedNodeCertificate> {
  const ca = caOf(ctx);
  const token = parseJoinToken(req.joinToken);
  if (!token) throw refuse(ctx, "unauthenticated", "bad-token", "join_token: not a join token (expected <8 hex>.<32 hex>, from drover-scheduler join-token create)");
  return transaction(ctx.sql, async (tx) => {
    // Joins for one name take turns, so two tokens cannot both take a free name.
    await tx`SELECT pg_advisory_xact_lock(hashtext(${`drover-join:${req.nodeName}`}))`;
    const known = (await nameHeld(tx, req.nodeName)) || (await getNode(tx, req.nodeName)) !== null;
    const use = await useJoinToken(tx, token.id, hashSecret(token.secret), req.nodeName);
    if (!use.ok) {
      if (use.reason === "other-name") throw refuse(ctx, "permission-denied", "token-for-other-name", `join_token: created for another node name than ${req.nodeName}`);
      throw refuse(ctx, "unauthenticated", `token-${use.reason}`, `join_token: ${use.reason === "unknown" ? "unknown" : use.reason === "used" ? "already used (tokens are single-use)" : "expired"}; create a new one`);
    }
    if (known && !use.boundToName) {
      throw refuse(ctx, "permission-denied", "name-held", `node ${req.nodeName} is already known; joining as it needs a join token created for it (drover-scheduler join-token create --name ${req.nodeName})`);
    }
    if (known) await revokeCertificates(tx, { nodeName: req.nodeName });
    return issue(ctx, tx, ca, req.csrPem, req.nodeName);
  });
}

/** A fresh certificate for the caller's own identity (its current one still valid). */
export async function renewCertificate(ctx: SchedulerContext, call: Parameters<typeof authenticatedNode>[1], csrPem: string): Promise<IssuedNodeCertificate> {
  const ca = caOf(ctx);
  const name = await authenticatedNode(ctx, call);
  return transaction(ctx.sql, (tx) => issue(ctx, tx, ca, csrPem, name));
}

async function issue(ctx: SchedulerContext, tx: Tx, ca: CertificateAuthority, csrPem: string, nodeName: string): Promise<IssuedNodeCertificate> {
  let cert;
  try {
    cert = await issueNodeCertificate(ca, csrPem, nodeName, ctx.config.nodeCertTtlMs);
  } catch (err) {
    if (err instanceof CsrError) throw new ValidationError("csr_pem", err.message);
    throw err;
  }
  await recordCertificate(tx, { serial: cert.serial, nodeName, notAfter: cert.notAfter });
  return { certificatePem: cert.certificatePem, caPem: ca.certificatePem };
}
