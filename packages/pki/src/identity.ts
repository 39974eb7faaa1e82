// Who a certificate speaks for. The subject's organization says the kind and the common
// name the node (like Kubernetes' O=system:nodes, CN=system:node:NAME). The scheduler sets
// both when it signs: a CSR's own subject is ignored, so no node can ask to be another.
export const NODE_ORGANIZATION = "drover-nodes";
export const SCHEDULER_ORGANIZATION = "drover-schedulers";
export const SCHEDULER_COMMON_NAME = "drover-scheduler";

export type Identity = { kind: "node"; name: string } | { kind: "scheduler" };

/** The identity in a subject as Node's TLS reports it ({ CN, O }); undefined when it is neither kind. */
export function identityOfSubject(subject: { CN?: string | string[]; O?: string | string[] } | undefined): Identity | undefined {
  const cn = single(subject?.CN);
  const o = single(subject?.O);
  if (!cn || !o) return undefined;
  if (o === NODE_ORGANIZATION) return { kind: "node", name: cn };
  if (o === SCHEDULER_ORGANIZATION && cn === SCHEDULER_COMMON_NAME) return { kind: "scheduler" };
  return undefined;
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

/** The X.500 name of a node's certificate. CN values are validated node names (no ',', '=' or '+'). */
export function nodeSubject(name: string): string {
  return `CN=${name}, O=${NODE_ORGANIZATION}`;
}

export function schedulerSubject(): string {
  return `CN=${SCHEDULER_COMMON_NAME}, O=${SCHEDULER_ORGANIZATION}`;
}
