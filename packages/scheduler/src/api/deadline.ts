import type { ServerUnaryCall } from "@grpc/grpc-js";

/**
 * The call's deadline as epoch ms, Infinity when the client set none. grpc-js
 * turns the client's grpc-timeout into a local Date when the call arrives.
 */
export function deadlineOf(call: Pick<ServerUnaryCall<unknown, unknown>, "getDeadline">): number {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : d;
  return Number.isFinite(ms) ? ms : Infinity;
}
