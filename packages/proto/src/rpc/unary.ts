// The one unary-handler adapter of the scheduler and the agent, each with its own mapping.
//
// Why here, in @drover/proto, and not in a package of its own: the agent may
// import only @drover/proto of ours, and this module is about the wire (grpc-js
// handlers and statuses) like the generated code beside it. A new workspace
// package would also need `npm install` in every checkout before it resolved.
import { Metadata, status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from "@grpc/grpc-js";
import { newErrorId } from "./error-id.js";

/** What a client is told: a code and a message that says what to do. */
export interface RpcStatus {
  code: status;
  details: string;
}

/**
 * A program's mapping from its domain errors to statuses. It answers
 * `undefined` for anything it does not know: that is an unexpected error.
 */
export type StatusMapping = (err: unknown) => RpcStatus | undefined;

export interface StatusOptions {
  toStatus: StatusMapping;
  /** Named in the INTERNAL message: "the scheduler log has the details". */
  program: string;
  log: (message: string) => void;
}

/**
 * Trailing metadata on every status the adapter answers, naming the program:
 * a client can tell "the server answered UNAVAILABLE" (its database or a node
 * is down) from "no server reached" (grpc-js's own UNAVAILABLE).
 */
export const ANSWERED_BY = "drover-answered-by";

const trailers = (program: string) => {
  const m = new Metadata();
  m.set(ANSWERED_BY, program);
  return m;
};

/** The status for a thrown value; an unexpected one is logged under a new id, and only the id reaches the client. */
export function statusOf(err: unknown, where: string, o: StatusOptions): Partial<ServiceError> {
  const known = o.toStatus(err);
  if (known) return { ...known, metadata: trailers(o.program) };
  const id = newErrorId();
  o.log(`internal error, id ${id}, in ${where}: ${describeError(err)}`);
  return { code: status.INTERNAL, details: `internal error, id ${id}; the ${o.program} log has the details`, metadata: trailers(o.program) };
}

/** The error with its stack and every cause, for the log only. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && depth < 8; depth++) {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever was thrown, as String() shows it
    parts.push(e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join("\ncaused by: ");
}

export type UnaryHandler<Req, Res> = (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void;

/** Makes `unary(fn)`: adapts an async function to a grpc-js unary handler, thrown errors answered through the mapping. */
export function unaryAdapter(o: StatusOptions) {
  return <Req, Res>(fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>): UnaryHandler<Req, Res> =>
    (call, callback) => {
      fn(call.request, call).then(
        (res) => callback(null, res),
        (err: unknown) => callback(statusOf(err, call.getPath(), o)),
      );
    };
}
