import { Metadata, status, type ServiceError } from "@grpc/grpc-js";

/** An error that reaches the client as a gRPC status with a message saying what to fix. */
export class RpcError extends Error implements Partial<ServiceError> {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
  get details(): string {
    return this.message;
  }
  metadata = new Metadata();
}

export const invalidArgument = (field: string, rule: string) => new RpcError(status.INVALID_ARGUMENT, `${field}: ${rule}`);
export const notFound = (what: string) => new RpcError(status.NOT_FOUND, `${what} not found`);
export const failedPrecondition = (msg: string) => new RpcError(status.FAILED_PRECONDITION, msg);

/** Turns anything thrown by a handler into a status the client can read; unknown errors become INTERNAL. */
export function toServiceError(err: unknown): Partial<ServiceError> {
  if (err instanceof RpcError) return err;
  const e = err as Partial<ServiceError>;
  if (typeof e?.code === "number" && e.code > 0 && e.code <= 16) return { code: e.code, details: e.details ?? String(e.message) };
  return { code: status.INTERNAL, details: err instanceof Error ? err.message : String(err) };
}
