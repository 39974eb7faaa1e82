import type { sendUnaryData, ServerUnaryCall } from "@grpc/grpc-js";
import { toServiceError } from "./errors.js";

/** Adapts an async function to a grpc-js unary handler; thrown errors become statuses. */
export function unary<Req, Res>(fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    fn(call.request, call).then(
      (res) => callback(null, res),
      (err) => callback(toServiceError(err)),
    );
  };
}
