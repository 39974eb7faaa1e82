// The agent's domain errors: one class per failure, structured fields, `cause`
// (nats.js style). They know nothing of gRPC: grpc-status.ts alone chooses
// the status code for each kind.

/** A request field breaks a rule, e.g. "spec.vcpus must be at least 1". */
export class ValidationError extends Error {
  readonly kind = "invalid-argument";
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field} ${rule}`);
    this.name = "ValidationError";
  }
}

/** No libvirt domain for the VM on this node (`vmId` unknown when libvirt said so mid-call). */
export class DomainNotFoundError extends Error {
  readonly kind = "domain-not-found";
  constructor(
    readonly vmId: string | undefined,
    options?: ErrorOptions,
  ) {
    super(vmId ? `no domain for VM ${vmId} on this node (EnsureDomain creates it)` : "the VM's domain is no longer on this node", options);
    this.name = "DomainNotFoundError";
  }
}

/**
 * A domain with the VM's UUID exists on this host but is not Drover's (no metadata naming this
 * cluster and VM): the agent leaves it alone, and answers as if there were none.
 */
export class ForeignDomainError extends Error {
  readonly kind = "domain-not-found";
  constructor(readonly vmId: string) {
    super(`no Drover domain for VM ${vmId} on this node: a domain with that UUID exists but Drover did not create it for this cluster, so it is left alone`);
    this.name = "ForeignDomainError";
  }
}

/** The agent does not know its cluster yet (it has not registered), so it cannot mark new domains. */
export class NotRegisteredError extends Error {
  readonly kind = "not-registered";
  constructor() {
    super("this agent has not registered with a scheduler yet, so it does not know its cluster id; retry once it has (or set DROVER_CLUSTER_ID)");
    this.name = "NotRegisteredError";
  }
}

/** A program the agent needs (qemu-img, an ISO builder) is not installed on this node. */
export class ToolMissingError extends Error {
  readonly kind = "tool-missing";
  constructor(
    readonly tool: string,
    hint: string,
    options?: ErrorOptions,
  ) {
    super(`${tool} is not installed on this node (${hint})`, options);
    this.name = "ToolMissingError";
  }
}

/** The VM's base image is not in this node's image directory, or may not be used from there. */
export class ImageUnavailableError extends Error {
  readonly kind = "image-unavailable";
  constructor(
    readonly image: string,
    readonly imageDir: string,
    why: string,
    options?: ErrorOptions,
  ) {
    super(`image ${image} cannot be used from ${imageDir} on this node: ${why}; copy the file there as ${image}`, options);
    this.name = "ImageUnavailableError";
  }
}

/** A kernel or initrd for direct boot is not on this node, or the agent may not read it. */
export class BootFileUnavailableError extends Error {
  readonly kind = "image-unavailable";
  constructor(
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(`${path} does not exist or is not readable on this node; copy it there first`, options);
    this.name = "BootFileUnavailableError";
  }
}

/** The image file on this node is not the one the catalog registered (size or sha256 differ). */
export class ImageMismatchError extends Error {
  readonly kind = "image-unavailable";
  constructor(
    readonly image: string,
    why: string,
  ) {
    super(`image ${image} ${why}; replace the file or register the image again`);
    this.name = "ImageMismatchError";
  }
}

/** A catalog bridge the VM attaches to is not a bridge on this node (never created, or deleted). */
export class BridgeMissingError extends Error {
  readonly kind = "network-unavailable";
  constructor(
    readonly bridge: string,
    options?: ErrorOptions,
  ) {
    super(`bridge ${bridge} does not exist on this node; create it (ip link add ${bridge} type bridge && ip link set ${bridge} up) or attach the VM to another network`, options);
    this.name = "BridgeMissingError";
  }
}

/** The agent has lost its libvirt connection and is reconnecting; `problem` says what went wrong. */
export class LibvirtUnavailableError extends Error {
  readonly kind = "libvirt-unavailable";
  constructor(
    readonly problem: string,
    options?: ErrorOptions,
  ) {
    super(`libvirt is unreachable on this node (${problem}); the agent is reconnecting, try again shortly`, options);
    this.name = "LibvirtUnavailableError";
  }
}

export type AgentError =
  | ValidationError
  | DomainNotFoundError
  | ForeignDomainError
  | NotRegisteredError
  | ToolMissingError
  | ImageUnavailableError
  | ImageMismatchError
  | BootFileUnavailableError
  | BridgeMissingError
  | LibvirtUnavailableError;

const CLASSES = [
  ValidationError,
  DomainNotFoundError,
  ForeignDomainError,
  NotRegisteredError,
  ToolMissingError,
  ImageUnavailableError,
  ImageMismatchError,
  BootFileUnavailableError,
  BridgeMissingError,
  LibvirtUnavailableError,
] as const;

// A class missing from CLASSES but present in the union (or the other way) fails to compile here.
type Listed = InstanceType<(typeof CLASSES)[number]>;
const _sameSet: [Listed, AgentError] extends [AgentError, Listed] ? true : never = true;
void _sameSet;

export function isAgentError(err: unknown): err is AgentError {
  return CLASSES.some((c) => err instanceof c);
}
