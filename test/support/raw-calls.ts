import { Client, credentials, type ServiceError } from "@grpc/grpc-js";
import { BinaryWriter } from "@bufbuild/protobuf/wire";

/** Protobuf bytes written by hand: what a foreign client can send and the generated encoders cannot. */
export function protoBytes(build: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter();
  build(w);
  return w.finish();
}

const asIs = (b: Buffer) => b;

/** Calls a unary method with raw request bytes; resolves with the error (or null) the server answered. */
export function rawUnary(address: string, path: string, bytes: Uint8Array): Promise<ServiceError | null> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise<ServiceError | null>((resolve) => {
    client.makeUnaryRequest(path, asIs, asIs, Buffer.from(bytes), (err) => resolve(err));
  }).finally(() => client.close());
}

/** Opens a server stream with raw request bytes; resolves with the status it ended with (null: ended OK). */
export function rawStream(address: string, path: string, bytes: Uint8Array): Promise<ServiceError | null> {
  const client = new Client(address, credentials.createInsecure());
  return new Promise<ServiceError | null>((resolve) => {
    const stream = client.makeServerStreamRequest(path, asIs, asIs, Buffer.from(bytes));
    stream.on("data", () => {});
    stream.on("error", (e: ServiceError) => resolve(e));
    stream.on("end", () => resolve(null));
  }).finally(() => client.close());
}
