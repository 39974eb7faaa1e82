// A service with checkWire in front of its generated decoders. grpc-js answers
// a throwing deserializer with INTERNAL before any handler runs, so the
// deserializer returns the refusal instead, and the wrapped handler answers it
// as INVALID_ARGUMENT through the usual error mapping. A client-streaming handler gets each
// message as decoded, and asks refusedRequest() of it.
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { ValidationError } from "../errors.js";
import { schedulerUnary, streamStatus } from "./grpc-status.js";
import { checkWire, requestMessage } from "./wire-check.js";

const REFUSED = Symbol("refused request");
type Refused = { [REFUSED]: ValidationError };
const refusal = (request: unknown): ValidationError | undefined => (request as Partial<Refused> | null)?.[REFUSED];

/** For a message of a client stream: the refusal of its bytes, or undefined when it decoded. */
export const refusedRequest = refusal;

/** The definition and implementation to pass to server.addService, with every request checked first. */
export function checkedService<D extends ServiceDefinition>(
  definition: D,
  implementation: UntypedServiceImplementation,
  log: (m: string) => void,
): [D, UntypedServiceImplementation] {
  const unary = schedulerUnary(log);
  const defs: Record<string, unknown> = {};
  const impl: UntypedServiceImplementation = {};
  for (const [key, method] of Object.entries(definition)) {
    const message = requestMessage(method.path);
    defs[key] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          checkWire(message, bytes);
          return method.requestDeserialize(bytes);
        } catch (err) {
          const refused = err instanceof ValidationError ? err : new ValidationError("request", `is not a valid ${message.typeName} message`);
          return { [REFUSED]: refused } satisfies Refused;
        }
      },
    };
    const handler = implementation[key] as (...args: unknown[]) => unknown;
    impl[key] = method.requestStream
      ? handler
      : method.responseStream
      ? (call: ServerWritableStream<unknown, unknown>) => {
          const refused = refusal(call.request);
          return refused ? call.emit("error", streamStatus(refused, method.path, log)) : handler(call);
        }
      : (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
          const refused = refusal(call.request);
          return refused ? unary(() => Promise.reject(refused))(call, callback) : handler(call, callback);
        };
  }
  return [defs as D, impl];
}
