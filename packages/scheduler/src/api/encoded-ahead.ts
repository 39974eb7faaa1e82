// A response encoded before its handler returns: a bulk create encodes its answer while Postgres
// still inserts the last rows (commit-in-chunks.ts), and the server sends those bytes as they are.

const encoded = new WeakMap<object, Buffer>();

/**
 * Encodes `message` now and keeps the bytes for the server's serializer (checked-service.ts).
 * The message must not change after this: the bytes sent are the ones encoded here.
 */
export function encodeAhead<T extends object>(message: T, encode: (m: T) => { finish(): Uint8Array }): T {
  const bytes = encode(message).finish();
  encoded.set(message, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return message;
}

/** The bytes encodeAhead kept for `message`, if any. */
export function encodedAhead(message: unknown): Buffer | undefined {
  return typeof message === "object" && message !== null ? encoded.get(message) : undefined;
}
