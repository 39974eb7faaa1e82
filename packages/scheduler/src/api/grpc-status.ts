// The one place the scheduler chooses gRPC status codes: each domain error
// kind of the scheduler and the store maps to one code, with the error's own
// message. Anything else is unexpected: the shared adapter logs it under an
// error id and the client gets INTERNAL with only that id, never a driver's
// text (which could name the database's address).
import { status } from "@grpc/grpc-js";
import { asStoreError, isStoreError, type StoreError } from "@drover/store";
import { statusOf, unaryAdapter, type RpcStatus, type StatusOptions } from "@drover/proto";
import { isSchedulerError, type AgentFailure, type SchedulerError } from "../errors.js";

/** The status for a domain error; undefined for anything unexpected. */
export function toStatus(thrown: unknown): RpcStatus | undefined {
  const err = asStoreError(thrown);
  if (!isSchedulerError(err) && !isStoreError(err)) return undefined;
  return { code: codeOf(err), details: err.message };
}

// Exhaustive on purpose (no default): a new kind is a compile error until it has a code.
function codeOf(err: SchedulerError | StoreError): status {
  switch (err.kind) {
    case "invalid-argument":
      return status.INVALID_ARGUMENT;
    case "not-found":
      return status.NOT_FOUND;
    case "already-exists":
      return status.ALREADY_EXISTS;
    case "wrong-state":
    case "idempotency-key-reused":
    case "events-pruned":
      return status.FAILED_PRECONDITION;
    case "node-down":
    case "store-unavailable":
      return status.UNAVAILABLE;
    case "agent-call-failed":
      return agentCode(err.failure);
    case "placement-exhausted":
    case "quota-exceeded":
      return status.RESOURCE_EXHAUSTED;
    case "unauthenticated":
      return status.UNAUTHENTICATED;
    case "permission-denied":
      return status.PERMISSION_DENIED;
    case "claim-conflicts-exhausted":
    case "claim-conflict":
    case "transaction-aborted":
      return status.ABORTED;
    case "deadline-exceeded":
      return status.DEADLINE_EXCEEDED;
    case "node-identity-refused":
      return err.refusal === "unauthenticated" ? status.UNAUTHENTICATED : status.PERMISSION_DENIED;
    case "capacity-below-claims":
      return status.FAILED_PRECONDITION;
  }
}

function agentCode(failure: AgentFailure): status {
  switch (failure) {
    case "not-found":
      return status.NOT_FOUND;
    case "wrong-state":
      return status.FAILED_PRECONDITION;
    case "unreachable":
      return status.UNAVAILABLE;
  }
}

const options = (log: (m: string) => void): StatusOptions => ({ toStatus, program: "scheduler", log });

/** `unary(fn)` for the scheduler's handlers, logging unexpected errors to `log`. */
export const schedulerUnary = (log: (m: string) => void) => unaryAdapter(options(log));

/** The status a server stream ends with for a thrown value. */
export const streamStatus = (err: unknown, where: string, log: (m: string) => void) => statusOf(err, where, options(log));
