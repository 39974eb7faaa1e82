// StreamHeartbeats served straight on its HTTP/2 stream, on the port, TLS and connections grpc-js
// serves everything else on. grpc-js takes each message through a Readable in object mode stacked
// on the HTTP/2 stream's, two promises and a pause and resume of the HTTP/2 stream; at 5,000 beats
// a second that was a large part of what a beat cost (docs/benchmarks.md). The route goes in front
// of grpc-js' own 'stream' listener, for this one path; the wire is gRPC's (5-byte length-prefixed
// messages, the status in trailers), and the handler, its authorization and its answers are the
// ones grpc-js would run (serveBeats).
import { gunzipSync, inflateSync } from "node:zlib";
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { TLSSocket } from "node:tls";
import type { Server } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import { StreamHeartbeatsResponse } from "@drover/proto";
import type { BeatCall } from "./beat-call.js";

export const STREAM_HEARTBEATS_PATH = "/drover.v1.NodeRegistryService/StreamHeartbeats";

const EMPTY = Buffer.alloc(0);

type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => void;

/**
 * Routes `path` on every HTTP/2 server of this bound grpc-js server to `serve`, before grpc-js. The
 * servers are grpc-js internals (1.x); false when their shape differs, and grpc-js goes on serving
 * the path as it did.
 */
export function routeBeforeGrpc(server: Server, path: string, serve: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void): boolean {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  for (const h2 of servers.keys() as IterableIterator<Http2Server>) {
    const grpc = h2.listeners("stream") as StreamListener[];
    if (grpc.length === 0) return false;
    h2.removeAllListeners("stream");
    h2.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => {
      // A wrong content type is grpc-js' to refuse (415), as for any path.
      if (headers[":path"] === path && String(headers["content-type"] ?? "").startsWith("application/grpc")) serve(stream, headers);
      else for (const l of grpc) l.call(h2, stream, headers, flags);
    });
  }
  return true;
}

/**
 * Hands each chunk the HTTP/2 stream reads to `take` where node's read callback pushes it, not
 * through the stream's Readable: a pushed chunk there cost an emit, a process.nextTick and a
 * read(0) that calls into C++ to restart a read that never stopped, per beat. The end (push(null))
 * still goes through the Readable, so 'end' and 'close' come as before; the 'data' listener puts
 * the stream in flowing mode (which starts its reads) and takes the chunks should a node version
 * not push them.
 */
export function takeChunksAtPush(stream: ServerHttp2Stream, take: (chunk: Buffer) => void): void {
  const push = stream.push.bind(stream);
  stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (!(chunk instanceof Buffer) || stream.destroyed) return push(chunk, encoding);
    take(chunk);
    return true; // never paused: beats come one an interval, and the handler bounds what it holds
  };
  stream.on("data", take);
}

/** One StreamHeartbeats stream on its HTTP/2 stream, as a BeatCall. */
export class DirectBeatCall implements BeatCall {
  readonly tlsSocket?: TLSSocket;
  private pending: Buffer | undefined;
  /** Messages (and the agent's end, as null) that came before the handler listened. */
  private early: (Buffer | null)[] | undefined = [];
  /** Held at most while the certificate is checked: an agent beats once per interval, not in floods. */
  static readonly EARLY_LIMIT = 64;
  private message: (bytes: Buffer) => void = () => {};
  private end: () => void = () => {};
  private responded = false;
  private done = false;

  constructor(
    private readonly stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    private readonly maxBytes: number,
  ) {
    const socket = stream.session?.socket;
    if (socket instanceof TLSSocket) this.tlsSocket = socket;
    const encoding = String(headers["grpc-encoding"] ?? "identity");
    stream.on("error", () => {}); // a reset stream: 'close' follows
    takeChunksAtPush(stream, (chunk) => this.read(chunk, encoding));
    stream.on("end", () => this.deliver(null));
  }

  getAuthContext() {
    // Only reached without a TLS socket (plain TCP, insecure mode): no certificate.
    return {};
  }

  onMessage(f: (bytes: Buffer) => void): void {
    this.message = f;
    const early = this.early ?? [];
    this.early = undefined;
    for (const m of early) this.deliver(m);
  }

  onEnd(f: () => void): void {
    this.end = f;
  }

  onClose(f: () => void): void {
    this.stream.on("close", f);
  }

  write(res: StreamHeartbeatsResponse): void {
    if (this.done || this.stream.closed) return;
    this.respond();
    const bytes = StreamHeartbeatsResponse.encode(res).finish();
    const framed = Buffer.allocUnsafe(5 + bytes.length);
    framed[0] = 0;
    framed.writeUInt32BE(bytes.length, 1);
    framed.set(bytes, 5);
    this.stream.write(framed);
  }

  finish(code: number, details: string): void {
    if (this.done) return;
    this.done = true;
    if (this.stream.closed || this.stream.destroyed) return;
    const trailers = { "grpc-status": String(code), "grpc-message": encodeURI(details) };
    if (!this.responded) {
      // Trailers only, as grpc-js answers a call that ends before any message.
      this.stream.respond({ ":status": 200, "content-type": "application/grpc", ...trailers }, { endStream: true });
      return;
    }
    this.stream.once("wantTrailers", () => this.stream.sendTrailers(trailers));
    this.stream.end();
  }

  private respond(): void {
    if (this.responded) return;
    this.responded = true;
    this.stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-accept-encoding": "identity,deflate,gzip" }, { waitForTrailers: true });
  }

  private deliver(m: Buffer | null): void {
    if (this.done) return;
    if (this.early && this.early.length >= DirectBeatCall.EARLY_LIMIT) {
      this.finish(status.RESOURCE_EXHAUSTED, `more than ${DirectBeatCall.EARLY_LIMIT} heartbeats before the stream was authorized: send one beat per interval`);
    } else if (this.early) this.early.push(m);
    else if (m === null) this.end();
    else this.message(m);
  }

  /** Whole length-prefixed messages out of what arrived; a message may span chunks. */
  private read(chunk: Buffer, encoding: string): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    while (buf.length >= 5 && !this.done) {
      const len = buf.readUInt32BE(1);
      if (len > this.maxBytes) {
        return this.finish(status.RESOURCE_EXHAUSTED, `Received message larger than max (${len} vs ${this.maxBytes}): raise DROVER_MAX_MESSAGE_MIB or send less`);
      }
      if (buf.length < 5 + len) break;
      const body = buf.subarray(5, 5 + len);
      const compressed = buf[0] === 1;
      // Most chunks are one beat: no view of the empty rest.
      buf = buf.length === 5 + len ? EMPTY : buf.subarray(5 + len);
      if (!compressed) {
        this.deliver(body);
        continue;
      }
      const inflated = this.inflate(body, encoding);
      if (inflated) this.deliver(inflated);
    }
    this.pending = buf.length > 0 ? buf : undefined;
  }

  /** A compressed message's bytes (as grpc-js takes them: gzip or deflate), or undefined once the stream is ended for it. */
  private inflate(body: Buffer, encoding: string): Buffer | undefined {
    const options = { maxOutputLength: this.maxBytes };
    try {
      if (encoding === "gzip") return gunzipSync(body, options);
      if (encoding === "deflate") return inflateSync(body, options);
    } catch {
      this.finish(status.RESOURCE_EXHAUSTED, `a compressed heartbeat did not inflate within ${this.maxBytes} bytes`);
      return undefined;
    }
    this.finish(status.UNIMPLEMENTED, `Received message compressed with unsupported encoding "${encoding}"`);
    return undefined;
  }
}
