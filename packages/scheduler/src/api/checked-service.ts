// A service with checkWire in front of its generated decoders. grpc-js answers
// a throwing deserializer with INTERNAL before any handler runs, so the
// deserializer returns the refusal instead, and the wrapped handler answers it
// as INVALID_ARGUMENT through the usual error mapping. A client-streaming handler gets each
// message's bytes, decodes them with streamMessageDecoder, and asks refusedRequest() of the result.
import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { ValidationError } from "../errors.js";
import { schedulerUnary, streamStatus } from "./grpc-status.js";
import { checkWire, requestMessage } from "./wire-check.js";
import { encodedAhead } from "./encoded-ahead.js";

const REFUSED = Symbol("refused request");
type Refused = { [REFUSED]: ValidationError };
const refusal = (request: unknown): ValidationError | undefined => (request as Partial<Refused> | null)?.[REFUSED];

/** For a message of a client stream: the refusal of its bytes, or undefined when it decoded. */
export const refusedRequest = refusal;

/** Whether a decoded message holds a string with U+FFFD (the decoder's stand-in for invalid UTF-8) or NUL. */
function suspectStrings(v: unknown): boolean {
  if (typeof v === "string") return v.includes("\uFFFD") || v.includes("\0");
  if (typeof v !== "object" || v === null) return false;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (suspectStrings(x)) return true;
  return false;
}

/**
 * A client stream's message decoded, or a refusal that refusedRequest() finds. The stream's messages
 * (heartbeats, thousands a second) are decoded first: the walk was ~10 % of the scheduler's CPU
 * there. Whatever it would refuse, the decoder either throws on (a 64-bit value past 2^53,
 * truncated bytes) or leaves in a string as U+FFFD (invalid UTF-8) or NUL; only then does the walk
 * run, to name the field.
 */
export function streamMessageDecoder<T>(method: { path: string; requestDeserialize(bytes: Buffer): T }): (bytes: Buffer) => T {
  const message = requestMessage(method.path);
  const checkThenDecode = (bytes: Buffer): T => {
    try {
      checkWire(message, bytes);
      return method.requestDeserialize(bytes);
    } catch (err) {
      const refused = err instanceof ValidationError ? err : new ValidationError("request", `is not a valid ${message.typeName} message`);
      return { [REFUSED]: refused } satisfies Refused as T;
    }
  };
  return (bytes) => {
    let decoded: T;
    try {
      decoded = method.requestDeserialize(bytes);
    } catch {
      return checkThenDecode(bytes);
    }
    return suspectStrings(decoded) ? checkThenDecode(bytes) : decoded;
  };
}

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
    const checkThenDecode = (bytes: Buffer): unknown => {
      try {
        checkWire(message, bytes);
        return method.requestDeserialize(bytes);
      } catch (err) {
        const refused = err instanceof ValidationError ? err : new ValidationError("request", `is not a valid ${message.typeName} message`);
        return { [REFUSED]: refused } satisfies Refused;
      }
    };
    defs[key] = {
      ...method,
      // A client stream's messages reach its handler as bytes: it decodes them with
      // decodeStreamMessage, and may skip a message that repeats the last one (beat-reader.ts).
      requestDeserialize: method.requestStream ? (bytes: Buffer): Buffer => bytes : checkThenDecode,
      // A response a handler encoded ahead (encoded-ahead.ts) goes out as those bytes.
      responseSerialize: (value: unknown): Buffer => encodedAhead(value) ?? method.responseSerialize(value),
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
