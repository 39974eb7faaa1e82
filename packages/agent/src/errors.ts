// Errors that carry the gRPC status they should surface as.
import { status } from "@grpc/grpc-js";

export class AgentError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = "AgentError";
  }
}

export const invalidArgument = (message: string) => new AgentError(status.INVALID_ARGUMENT, message);
export const notFound = (message: string) => new AgentError(status.NOT_FOUND, message);
export const failedPrecondition = (message: string) => new AgentError(status.FAILED_PRECONDITION, message);
