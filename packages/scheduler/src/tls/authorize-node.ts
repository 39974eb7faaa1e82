// The node authorizer (like Kubernetes' Node authorizer with NodeRestriction): a
// NodeRegistryService call acts only on the node its certificate names, and only while
// that certificate is neither expired nor revoked. Checked on every call, before any write.
import type { SchedulerContext } from "../context.js";
import { NodeIdentityError, type NodeRefusal } from "../errors.js";
import { callPeer, type Call } from "./peer-cache.js";

/** Counts the refusal and returns the error to throw. */
export function refuse(ctx: SchedulerContext, refusal: NodeRefusal, reason: string, message: string): NodeIdentityError {
  ctx.metrics.authRefusals.inc({ surface: "node-registry", reason });
  return new NodeIdentityError(refusal, reason, message);
}

/** A caller's verified node certificate: the node it names, its serial and its expiry. */
export interface NodePeer {
  name: string;
  serial: string;
  notAfter: Date;
}

/** The caller's verified node certificate, or a refusal; undefined in insecure mode (nothing to verify). */
export async function authenticatedPeer(ctx: SchedulerContext, call: Call): Promise<NodePeer | undefined> {
  if (ctx.config.insecure) return undefined;
  // Parsed once per connection (peer-cache.ts); expiry and standing are judged on every call.
  const peer = callPeer(call);
  if (peer === "no-certificate") {
    throw refuse(ctx, "unauthenticated", "no-certificate", "this call needs the node's certificate from the cluster CA (mutual TLS); join first with a join token (JoinNode)");
  }
  if (peer === "expired") throw refuse(ctx, "unauthenticated", "expired", "the node's certificate has expired; join again with a new join token");
  if (peer === "unknown-identity" || peer.identity.kind !== "node") {
    throw refuse(ctx, "permission-denied", "not-a-node", "the certificate is not a node's: only node certificates may call NodeRegistryService");
  }
  const name = peer.identity.name;
  const standing = await ctx.certificates.check(peer.serial, name);
  if (standing === "revoked") throw revokedRefusal(ctx, peer.serial, name);
  if (standing === "unknown") throw refuse(ctx, "unauthenticated", "unknown-certificate", `the certificate ${peer.serial} was not issued by this cluster's scheduler; join again`);
  return { name, serial: peer.serial, notAfter: peer.notAfter };
}

export function revokedRefusal(ctx: SchedulerContext, serial: string, name: string): NodeIdentityError {
  return refuse(ctx, "unauthenticated", "revoked", `the certificate ${serial} of node ${name} is revoked; join again with a new join token`);
}

/** The verified node name of the caller's certificate, or a refusal. Insecure mode answers `claimed`. */
export async function authenticatedNode(ctx: SchedulerContext, call: Call, claimed?: string): Promise<string> {
  return (await authenticatedPeer(ctx, call))?.name ?? claimed ?? "";
}

/** The refusal of a node certificate's holder acting as another node. */
export function otherNodeRefusal(ctx: SchedulerContext, holder: string, name: string): NodeIdentityError {
  return refuse(ctx, "permission-denied", "other-node", `the certificate of node ${holder} cannot act as node ${name}: a node registers and heartbeats only as itself`);
}

/** Refuses unless the caller's certificate names `name` itself. */
export async function authorizeNode(ctx: SchedulerContext, call: Call, name: string): Promise<void> {
  const holder = await authenticatedNode(ctx, call, name);
  if (holder !== name) throw otherNodeRefusal(ctx, holder, name);
}
