// The scheduler's unary calls to agents as gRPC over node:http2, without grpc-js: one HTTP/2
// session per node and address, gRPC's 5-byte message framing, its status trailers, and nothing
// else (no interceptors, filters, resolvers, retry machinery or channelz). Why: grpc-js' client
// was the largest item of a single create's scheduler CPU, 42 %; this client measured ~266 µs of
// CPU per EnsureDomain against grpc-js' ~573 µs (docs/benchmarks.md, "The biggest item: the
// EnsureDomain client"). Failures are grpc-js-shaped ServiceErrors, so callers cannot tell the two apart.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { DEFAULT_KEEPALIVE, SessionKeepalive, type KeepaliveOptions } from "./agent-keepalive.js";
import type { AgentConnectOptions } from "./agent-tls.js";

/** One unary method of a generated service definition (ts-proto's `AgentServiceService.x`). */
export interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(bytes: Buffer): Res;
}

/** The node a call is for, and the address it registered. */
export interface AgentAddress {
  name: string;
  address: string;
}

/** grpc-js' default limit on a received message. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** A failed call, shaped as grpc-js reports one (code, details, metadata; message "14 UNAVAILABLE: …"). */
export function grpcError(code: status, details: string): ServiceError {
  return Object.assign(new Error(`${code} ${status[code]}: ${details}`), { code, details, metadata: new Metadata() });
}

/** A session, its keepalive, and the error that ended it, if one did (a refused connection, a bad certificate, an unanswered PING). */
interface Session {
  http2: ClientHttp2Session;
  keepalive: SessionKeepalive;
  error?: Error;
}

export interface AgentHttp2Options {
  /** @default MAX_RESPONSE_BYTES */
  maxResponseBytes?: number;
  /** @default DEFAULT_KEEPALIVE (10 s without a word from the agent, 10 s for the PING's answer) */
  keepalive?: KeepaliveOptions;
}

export class AgentHttp2 {
  private readonly sessions = new Map<string, Session>();
  private readonly maxResponseBytes: number;
  private readonly keepalive: KeepaliveOptions;

  constructor(
    /** TLS options per node name; plaintext without. */
    private readonly tls: ((nodeName: string) => AgentConnectOptions) | undefined,
    options: AgentHttp2Options = {},
  ) {
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.keepalive = options.keepalive ?? DEFAULT_KEEPALIVE;
  }

  /** One call with a deadline of timeoutMs; a stream the agent refused unprocessed is sent once more on a new session. */
  async unary<Req, Res>(agent: AgentAddress, method: UnaryMethod<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
    let body: Buffer;
    try {
      body = frame(method.requestSerialize(req));
    } catch (err) {
      throw grpcError(status.INTERNAL, `Request message serialization failure: ${(err as Error).message}`);
    }
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(agent, method, body, deadline - Date.now());
      } catch (err) {
        if (!(err instanceof RefusedStream)) throw err;
        if (attempt > 0 || deadline - Date.now() < 1) throw err.error;
      }
    }
  }

  /** New sessions for the next calls (after a certificate renewal); the old ones close once their calls end. */
  reconnect(): void {
    for (const s of this.sessions.values()) s.http2.close();
    this.sessions.clear();
  }

  close(): void {
    this.reconnect();
  }

  private session(agent: AgentAddress): Session {
    const key = `${agent.name}\u0000${agent.address}`;
    const open = this.sessions.get(key);
    // A session that failed or closed is never reused, even before its close event took it out.
    if (open && !open.error && !open.http2.closed && !open.http2.destroyed) return open;
    const tls = this.tls?.(agent.name);
    const http2 = connect(`${tls ? "https" : "http"}://${agent.address}`, { ...tls, settings: { enablePush: false } });
    // An unanswered PING destroys the session with its error: the calls on it fail UNAVAILABLE naming it.
    const s: Session = { http2, keepalive: new SessionKeepalive(http2, this.keepalive, (err) => http2.destroy(err)) };
    const forget = () => {
      if (this.sessions.get(key) === s) this.sessions.delete(key);
    };
    http2.on("error", (err: Error) => {
      s.error = err; // each call in flight reports it
      forget();
    });
    // After a GOAWAY the calls in flight may finish; new ones go to a new session.
    http2.on("goaway", forget);
    http2.on("close", () => {
      s.keepalive.stop();
      forget();
    });
    // An idle session keeps no process alive; a call's deadline timer does while it runs.
    http2.unref();
    this.sessions.set(key, s);
    return s;
  }

  private attempt<Req, Res>(agent: AgentAddress, method: UnaryMethod<Req, Res>, body: Buffer, timeoutMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      let s: Session;
      try {
        s = this.session(agent);
      } catch (err) {
        return reject(grpcError(status.UNAVAILABLE, `cannot reach the agent at ${agent.address}: ${(err as Error).message}`));
      }
      let stream: ClientHttp2Stream;
      try {
        stream = s.http2.request({
          ":method": "POST",
          ":path": method.path,
          "content-type": "application/grpc",
          te: "trailers",
          "grpc-timeout": grpcTimeout(timeoutMs),
        });
      } catch (err) {
        // The session closed between the check and the request (a GOAWAY): nothing was sent.
        return reject(new RefusedStream(unavailable(agent, s, err as Error)));
      }
      s.keepalive.callStarted();
      new UnaryCall(agent, s, stream, method, this.maxResponseBytes, timeoutMs, resolve, reject).send(body);
    });
  }
}

/** A stream the agent never processed (REFUSED_STREAM): safe to send again, even for calls that are not idempotent. */
class RefusedStream extends Error {
  constructor(readonly error: ServiceError) {
    super(error.message);
  }
}

/** One call's stream: its response collected, its status read, settled once. */
class UnaryCall<Res> {
  private readonly chunks: Buffer[] = [];
  private received = 0;
  /** The response message's length from its prefix; -1 until 5 bytes arrived. */
  private declared = -1;
  private responded = false;
  private code: number | undefined;
  private details = "";
  private streamError: Error | undefined;
  private settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly agent: AgentAddress,
    private readonly session: Session,
    private readonly stream: ClientHttp2Stream,
    private readonly method: UnaryMethod<unknown, Res>,
    private readonly maxBytes: number,
    timeoutMs: number,
    private readonly resolve: (res: Res) => void,
    private readonly reject: (err: unknown) => void,
  ) {
    this.timer = setTimeout(() => this.fail(grpcError(status.DEADLINE_EXCEEDED, `Deadline exceeded after ${(timeoutMs / 1000).toFixed(3)}s (agent at ${agent.address})`)), timeoutMs);
    stream.on("response", (headers) => this.onHeaders(headers));
    stream.on("trailers", (trailers: IncomingHttpHeaders) => this.readStatus(trailers));
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("error", (err: Error) => (this.streamError = err));
    stream.on("close", () => {
      session.keepalive.callEnded();
      this.onClose();
    });
  }

  send(body: Buffer): void {
    this.stream.end(body);
  }

  private onHeaders(headers: IncomingHttpHeaders): void {
    this.responded = true;
    this.session.keepalive.heard();
    const httpStatus = Number(headers[":status"]);
    if (httpStatus !== 200) return this.fail(grpcError(statusOfHttp(httpStatus), `agent at ${this.agent.address} answered HTTP ${httpStatus}`));
    const type = String(headers["content-type"] ?? "");
    if (!type.startsWith("application/grpc")) return this.fail(grpcError(status.UNKNOWN, `agent at ${this.agent.address} answered content-type ${JSON.stringify(type)}, not gRPC`));
    this.readStatus(headers); // a trailers-only answer (an error) has its status here
  }

  private readStatus(h: IncomingHttpHeaders): void {
    const code = h["grpc-status"];
    if (code === undefined) return;
    this.code = Number(code);
    this.details = decodeGrpcMessage(h["grpc-message"]);
  }

  private onData(chunk: Buffer): void {
    if (this.settled) return;
    this.chunks.push(chunk);
    this.received += chunk.length;
    // The prefix says the message's length: refuse a too large one before it all arrives.
    if (this.declared < 0 && this.received >= 5) this.declared = (this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks)).readUInt32BE(1);
    if (this.declared > this.maxBytes || this.received > this.maxBytes + 5) {
      const size = Math.max(this.declared, this.received - 5);
      this.fail(grpcError(status.RESOURCE_EXHAUSTED, `Received message larger than max (${size} vs ${this.maxBytes}) from the agent at ${this.agent.address}`));
    }
  }

  private onClose(): void {
    if (this.settled) return;
    if (this.code === status.OK) return this.finish();
    if (this.code !== undefined) return this.fail(grpcError(this.code, this.details));
    const rst = this.stream.rstCode;
    if (rst === constants.NGHTTP2_REFUSED_STREAM && !this.responded) {
      return this.fail(new RefusedStream(grpcError(status.UNAVAILABLE, `the agent at ${this.agent.address} refused the stream`)));
    }
    // The connection failed or went away (refused, reset, a bad certificate, a GOAWAY with an error).
    if (this.session.error || this.session.http2.destroyed || this.session.http2.closed || !this.stream.sentHeaders) {
      return this.fail(unavailable(this.agent, this.session, this.streamError));
    }
    this.fail(grpcError(statusOfReset(rst), `the agent at ${this.agent.address} reset the stream (HTTP/2 code ${rst}) without a gRPC status`));
  }

  private finish(): void {
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    if (body.length < 5 || body.length !== 5 + body.readUInt32BE(1)) {
      return this.fail(grpcError(status.INTERNAL, `the agent at ${this.agent.address} answered OK with ${body.length} bytes that are not one gRPC message`));
    }
    if (body[0] !== 0) return this.fail(grpcError(status.INTERNAL, `the agent at ${this.agent.address} answered with a compressed message, which was not asked for`));
    let res: Res;
    try {
      res = this.method.responseDeserialize(body.subarray(5));
    } catch (err) {
      return this.fail(grpcError(status.INTERNAL, `the agent at ${this.agent.address} answered a message that does not decode: ${(err as Error).message}`));
    }
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(res);
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (!this.stream.closed) this.stream.close(constants.NGHTTP2_CANCEL);
    this.reject(err);
  }
}

/** UNAVAILABLE naming the address and why the connection failed. */
function unavailable(agent: AgentAddress, s: Session, streamError: Error | undefined): ServiceError {
  // A stream queued on a session that failed to connect says "canceled (caused by: …)": the cause says it all.
  const cause = streamError?.cause instanceof Error ? streamError.cause : streamError;
  const why = s.error?.message ?? cause?.message ?? "the connection closed";
  return grpcError(status.UNAVAILABLE, `cannot reach the agent at ${agent.address}: ${why}`);
}

/** One uncompressed length-prefixed gRPC message. */
function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** The grpc-timeout header: at most 8 digits, in milliseconds while they fit. */
export function grpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole < 1e8 ? `${whole}m` : `${Math.ceil(whole / 1000)}S`;
}

/** grpc-message is percent-encoded; a malformed one is kept as it came. */
function decodeGrpcMessage(raw: string | string[] | undefined): string {
  const text = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** gRPC's mapping of an HTTP status that is not 200 (doc/http-grpc-status-mapping.md). */
function statusOfHttp(httpStatus: number): status {
  switch (httpStatus) {
    case 400:
      return status.INTERNAL;
    case 401:
      return status.UNAUTHENTICATED;
    case 403:
      return status.PERMISSION_DENIED;
    case 404:
      return status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return status.UNAVAILABLE;
    default:
      return status.UNKNOWN;
  }
}

/** grpc-js' mapping of a stream reset without a status. */
function statusOfReset(code: number): status {
  switch (code) {
    case constants.NGHTTP2_REFUSED_STREAM:
      return status.UNAVAILABLE;
    case constants.NGHTTP2_CANCEL:
      return status.CANCELLED;
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return status.RESOURCE_EXHAUSTED;
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return status.PERMISSION_DENIED;
    default:
      return status.INTERNAL;
  }
}
