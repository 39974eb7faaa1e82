// The scheduler's domain errors: raised where the failure happens, with
// structured fields and `cause` (nats.js style). They know nothing of gRPC:
// api/grpc-status.ts alone chooses the status code for each kind.
import type { ReasonCount } from "@drover/placement";

/** A request field breaks a rule; `field` is the full path (`groups[2].template.name`). */
export class ValidationError extends Error {
  readonly kind = "invalid-argument";
  constructor(
    readonly field: string,
    readonly rule: string,
    options?: ErrorOptions,
  ) {
    super(`${field}: ${rule}`, options);
    this.name = "ValidationError";
  }
}

/** No VM, node, project or token by that id or name. `hint` says what to do, e.g. "register it first". */
export class NotFoundError extends Error {
  readonly kind = "not-found";
  constructor(
    readonly what: "vm" | "node" | "image" | "network" | "project" | "token",
    readonly id: string,
    readonly hint?: string,
  ) {
    super(`${what} ${id}${hint ? ` (${hint})` : ""} not found`);
    this.name = "NotFoundError";
  }
}

/** A catalog entry or project of that name exists already. */
export class AlreadyExistsError extends Error {
  readonly kind = "already-exists";
  constructor(
    readonly what: "image" | "network" | "project",
    readonly id: string,
  ) {
    super(what === "project" ? `project ${id} already exists` : `${what} ${id} exists already; delete it first to register it again`);
    this.name = "AlreadyExistsError";
  }
}

/** The VM or node is in a state the call cannot act on; the message says which and what is needed. */
export class WrongStateError extends Error {
  readonly kind = "wrong-state";
  constructor(message: string) {
    super(message);
    this.name = "WrongStateError";
  }
}

/** The VM's node is DOWN: the call can work once its agent heartbeats again. */
export class NodeDownError extends Error {
  readonly kind = "node-down";
  constructor(readonly node: string) {
    super(`node ${node} is DOWN; retry when its agent is back`);
    this.name = "NodeDownError";
  }
}

/** What an agent's refusal means to the caller. */
export type AgentFailure = "not-found" | "wrong-state" | "unreachable";

/** A call to a node's agent failed; the message keeps the agent's words. */
export class AgentCallError extends Error {
  readonly kind = "agent-call-failed";
  constructor(
    readonly node: string,
    readonly failure: AgentFailure,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "AgentCallError";
  }
}

/** Fewer than min_count VMs fit. `reasons` counts nodes per rejection reason for the first unplaced VM. */
export class PlacementExhaustedError extends Error {
  readonly kind = "placement-exhausted";
  constructor(
    readonly placed: number,
    readonly total: number,
    readonly minCount: number,
    readonly reasons: readonly ReasonCount[],
    explanation: string,
  ) {
    super(`can place ${placed} of ${total} VMs, min_count is ${minCount}: ${explanation || "no nodes registered"}`);
    this.name = "PlacementExhaustedError";
  }
}

/** Every placement attempt lost its claims to concurrent requests; nothing was created. */
export class ClaimConflictsExhaustedError extends Error {
  readonly kind = "claim-conflicts-exhausted";
  constructor(
    readonly attempts: number,
    options?: ErrorOptions,
  ) {
    super(`placement conflicted with concurrent requests ${attempts} times; nothing was created, retry the request`, options);
    this.name = "ClaimConflictsExhaustedError";
  }
}

/** The idempotency key was used before for a request with other content. */
export class IdempotencyKeyReusedError extends Error {
  readonly kind = "idempotency-key-reused";
  constructor(readonly key: string) {
    super(`idempotency_key "${key}" was already used for a different request; use a new key for a new request`);
    this.name = "IdempotencyKeyReusedError";
  }
}

/** WatchEvents was asked to resume from events that retention has deleted. */
export class EventsPrunedError extends Error {
  readonly kind = "events-pruned";
  constructor(
    readonly prunedThrough: number,
    readonly afterId: number,
    retentionMs: number,
  ) {
    super(
      `events up to id ${prunedThrough} were deleted (DROVER_EVENT_RETENTION_MS=${retentionMs}); ` +
        `cannot resume after ${afterId}: re-read state with ListVms/ListNodes, then watch with from_start or after_id ≥ ${prunedThrough}`,
    );
    this.name = "EventsPrunedError";
  }
}

/** Why a node's call was refused: what it lacked (a certificate, a good token) or overreached (another node's name). */
export type NodeRefusal = "unauthenticated" | "permission-denied";

/**
 * A NodeRegistryService call the caller's identity does not allow; `reason` is the metric's
 * label (no-certificate, revoked, other-node, bad-token, name-held, …).
 */
export class NodeIdentityError extends Error {
  readonly kind = "node-identity-refused";
  constructor(
    readonly refusal: NodeRefusal,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "NodeIdentityError";
  }
}

/** A node registered a capacity below what its VMs already claim. */
export class CapacityBelowClaimsError extends Error {
  readonly kind = "capacity-below-claims";
  constructor(
    readonly node: string,
    readonly shortfalls: string[],
  ) {
    super(
      `node ${node}: the reported capacity leaves its VMs' claims past allocatable (${shortfalls.join("; ")}); ` +
        `delete VMs on it, or raise its allocation ratios (UpdateNode), then register again`,
    );
    this.name = "CapacityBelowClaimsError";
  }
}

/** No token, or one that is malformed, unknown or revoked. */
export class UnauthenticatedError extends Error {
  readonly kind = "unauthenticated";
  constructor(message: string) {
    super(message);
    this.name = "UnauthenticatedError";
  }
}

/** The caller's token lacks a right; the message names the role or project needed. */
export class PermissionDeniedError extends Error {
  readonly kind = "permission-denied";
  constructor(
    readonly caller: { tokenId: string; role: string; project: string },
    need: string,
  ) {
    super(`token ${caller.tokenId} (role ${caller.role}, project ${caller.project}): ${need}`);
    this.name = "PermissionDeniedError";
  }
}

export type SchedulerError =
  | ValidationError
  | NotFoundError
  | AlreadyExistsError
  | WrongStateError
  | NodeDownError
  | AgentCallError
  | PlacementExhaustedError
  | ClaimConflictsExhaustedError
  | IdempotencyKeyReusedError
  | EventsPrunedError
  | NodeIdentityError
  | CapacityBelowClaimsError
  | UnauthenticatedError
  | PermissionDeniedError;

const CLASSES = [
  ValidationError,
  NotFoundError,
  AlreadyExistsError,
  WrongStateError,
  NodeDownError,
  AgentCallError,
  PlacementExhaustedError,
  ClaimConflictsExhaustedError,
  IdempotencyKeyReusedError,
  EventsPrunedError,
  NodeIdentityError,
  CapacityBelowClaimsError,
  UnauthenticatedError,
  PermissionDeniedError,
] as const;

// A class missing from CLASSES but present in the union (or the other way) fails to compile here.
type Listed = InstanceType<(typeof CLASSES)[number]>;
const _sameSet: [Listed, SchedulerError] extends [SchedulerError, Listed] ? true : never = true;
void _sameSet;

export function isSchedulerError(err: unknown): err is SchedulerError {
  return CLASSES.some((c) => err instanceof c);
}
