// The one place the agent chooses gRPC status codes, one per domain error
// kind. Anything else (a libvirt or qemu-img failure) is unexpected: the
// shared adapter logs it under an error id and the client gets INTERNAL with
// that id only.
import { status } from "@grpc/grpc-js";
import { statusOf, unaryAdapter, type RpcStatus } from "@drover/proto";
import { DomainNotFoundError, isAgentError, type AgentError } from "./errors.js";
import { isNotFound } from "./libvirt.js";

/** The status for a domain error; undefined for anything unexpected. */
export function toStatus(thrown: unknown): RpcStatus | undefined {
  // libvirt reports a domain removed between two calls only in its message.
  const err = isNotFound(thrown) ? new DomainNotFoundError(undefined, { cause: thrown }) : thrown;
  if (!isAgentError(err)) return undefined;
  return { code: codeOf(err), details: err.message };
}

// Exhaustive on purpose (no default): a new kind is a compile error until it has a code.
function codeOf(err: AgentError): status {
  switch (err.kind) {
    case "invalid-argument":
      return status.INVALID_ARGUMENT;
    case "domain-not-found":
      return status.NOT_FOUND;
    case "not-registered":
    case "tool-missing":
    case "image-unavailable":
    case "network-unavailable":
      return status.FAILED_PRECONDITION;
    case "libvirt-unavailable":
      return status.UNAVAILABLE;
  }
}

/** `unary(fn)` for the AgentService handlers, logging unexpected errors to `log`. */
export const agentUnary = (log: (m: string) => void) => unaryAdapter({ toStatus, program: "agent", log });

/** The status a server-streaming AgentService handler ends with when it throws. */
export const agentStreamStatus = (log: (m: string) => void) => (err: unknown, where: string) =>
  statusOf(err, where, { toStatus, program: "agent", log });
