// A response encoded before its handler returns: a bulk create encodes its answer while Postgres
// still inserts the last rows (commit-in-chunks.ts), and the server sends those bytes as they are.

import { setImmediate as nextTurn } from "node:timers/promises";
import { CreateVmsResponse } from "@drover/proto";

const encoded = new WeakMap<object, Buffer>();

/** The bytes encodeCreatedAhead kept for `message`, if any. */
export function encodedAhead(message: unknown): Buffer | undefined {
  return typeof message === "object" && message !== null ? encoded.get(message) : undefined;
}

/**
 * Encodes a create's answer now and keeps the bytes for the server's serializer (checked-service.ts;
 * the message must not change after this), `pieceVms` VMs at a time with the event loop given back
 * between pieces: a bulk's answer is ~25-40 ms of encoding at 10,000 VMs, and its chunks'
 * statements are still on their way to Postgres meanwhile (a Describe's answer waits to be read).
 * A message's encoding is its fields' encodings one after another, and a repeated field's elements
 * may come in several runs: the pieces joined are the bytes CreateVmsResponse.encode gives.
 */
export async function encodeCreatedAhead(message: CreateVmsResponse, pieceVms: number): Promise<CreateVmsResponse> {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < message.vms.length; at += pieceVms) {
    if (at > 0) await nextTurn();
    parts.push(CreateVmsResponse.encode({ vms: message.vms.slice(at, at + pieceVms), unplaced: 0, unplacedReason: "", dryRun: false }).finish());
  }
  parts.push(CreateVmsResponse.encode({ ...message, vms: [] }).finish());
  encoded.set(message, Buffer.concat(parts));
  return message;
}
