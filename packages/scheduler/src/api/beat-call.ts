// What serving StreamHeartbeats needs of its call, whoever carries it: grpc-js (grpcBeatCall), or
// the HTTP/2 stream itself (direct-beats.ts), which spares each beat grpc-js' per-message path.
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { StreamHeartbeatsResponse } from "@drover/proto";
import { socketOf, type Call } from "../tls/peer-cache.js";

export interface BeatCall extends Call {
  /** Each message's bytes (decoded by BeatReader). */
  onMessage(f: (bytes: Buffer) => void): void;
  /** The agent closed its side: no more beats. */
  onEnd(f: () => void): void;
  /** The stream is gone (cancelled, reset, its connection closed). */
  onClose(f: () => void): void;
  write(res: StreamHeartbeatsResponse): void;
  /** Ends the stream with this status (0: OK). */
  finish(code: number, details: string): void;
}

/** A grpc-js call as a BeatCall; its messages arrive as bytes (checked-service.ts). */
export function grpcBeatCall(call: ServerDuplexStream<Buffer, StreamHeartbeatsResponse>): BeatCall {
  const tlsSocket = socketOf(call);
  return {
    getAuthContext: () => call.getAuthContext(),
    ...(tlsSocket ? { tlsSocket } : {}),
    onMessage: (f) => call.on("data", f),
    onEnd: (f) => call.on("end", f),
    onClose: (f) => (call.on("cancelled", f), call.on("close", f)),
    write: (res) => call.write(res),
    finish: (code, details) => (code === 0 ? call.end() : call.emit("error", { code, details })),
  };
}
