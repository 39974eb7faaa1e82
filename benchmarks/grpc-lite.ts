// Benchmark-only gRPC over node:http2: unary calls with the wire format of
// gRPC (5-byte length-prefixed messages, grpc-status in trailers) and none of
// grpc-js's layers (interceptors, filters, retries, resolvers, per-call timers).
//
// Why: the load generator and the simulated fleet share the machine with the
// scheduler under test. With grpc-js on both, they took as much CPU as the
// scheduler itself (docs/benchmarks.md). Here only the load around the
// scheduler gets cheaper, so more of the 2 cores go to what is measured; the
// scheduler's own unary calls to agents have a client of the same kind
// (packages/scheduler/src/dispatch/agent-http2.ts), its servers stay grpc-js.
import type { SecureContextOptions } from "node:tls";
import {
  connect,
  createSecureServer,
  createServer,
  type ClientHttp2Session,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from "node:http2";

/** One method of a generated service definition (ts-proto's `XServiceService.method`). */
export interface MethodDef<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  requestDeserialize(value: Buffer): Req;
  responseSerialize(value: Res): Buffer;
  responseDeserialize(value: Buffer): Res;
}

export class GrpcLiteError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`gRPC status ${code}: ${details}`);
  }
}

function frame(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + bytes.length);
  out[0] = 0;
  out.writeUInt32BE(bytes.length, 1);
  out.set(bytes, 5);
  return out;
}

/** The one message of a unary body (uncompressed). */
function unframe(chunks: Buffer[]): Buffer {
  const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  if (body.length < 5) throw new GrpcLiteError(13, `short gRPC body (${body.length} bytes)`);
  if (body[0] !== 0) throw new GrpcLiteError(12, "compressed messages are not supported");
  return body.subarray(5, 5 + body.readUInt32BE(1));
}

/**
 * A unary client on one HTTP/2 connection, opened at the first call and opened again after it
 * failed or closed (as a gRPC channel reconnects): 5,000 simulated hosts connecting at once
 * overflow the scheduler's accept queue, and a host whose connection was reset must not stay
 * unregistered for the rest of the run.
 */
export class LiteClient {
  private current: ClientHttp2Session | undefined;

  private readonly authorization: string | undefined;

  /** With `tls`, over TLS (a client certificate too when cert and key are given); with `token`, a bearer token on every call. */
  constructor(
    private readonly address: string,
    private readonly tls?: { ca: string; cert?: string; key?: string },
    token?: string,
  ) {
    this.authorization = token ? `Bearer ${token}` : undefined;
  }

  private get session(): ClientHttp2Session {
    if (this.current && !this.current.destroyed && !this.current.closed) return this.current;
    const s = this.tls ? connect(`https://${this.address}`, this.tls) : connect(`http://${this.address}`);
    s.on("error", () => {}); // surfaced per call
    this.current = s;
    return s;
  }

  unary<Req, Res>(method: MethodDef<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        ":method": "POST",
        ":path": method.path,
        "content-type": "application/grpc",
        te: "trailers",
        "grpc-timeout": `${timeoutMs}m`,
        ...(this.authorization ? { authorization: this.authorization } : {}),
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = "";
      const readStatus = (h: IncomingHttpHeaders) => {
        if (h["grpc-status"] !== undefined) {
          status = String(h["grpc-status"]);
          message = decodeURIComponent(String(h["grpc-message"] ?? ""));
        }
      };
      stream.on("response", readStatus); // a trailers-only error response
      stream.on("trailers", readStatus);
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("error", (e) => reject(e));
      stream.on("close", () => {
        if (status === undefined) return reject(new GrpcLiteError(14, `stream closed without grpc-status (rst ${stream.rstCode})`));
        if (status !== "0") return reject(new GrpcLiteError(Number(status), message));
        try {
          resolve(method.responseDeserialize(unframe(chunks)));
        } catch (e) {
          reject(e);
        }
      });
      stream.end(frame(method.requestSerialize(req)));
    });
  }

  /**
   * A bidirectional stream: `write` sends one message, `onMessage` gets each answer, `onEnd` the
   * status it ended with (0 for OK). No deadline: it lives as long as the connection.
   */
  bidi<Req, Res>(method: MethodDef<Req, Res>, onMessage: (res: Res) => void, onEnd: (err: GrpcLiteError) => void): { write(req: Req): void; end(): void } {
    const stream = this.session.request({
      ":method": "POST",
      ":path": method.path,
      "content-type": "application/grpc",
      te: "trailers",
      ...(this.authorization ? { authorization: this.authorization } : {}),
    });
    let pending: Buffer = Buffer.alloc(0);
    let status: string | undefined;
    let message = "";
    let ended = false;
    const end = (err: GrpcLiteError) => {
      if (ended) return;
      ended = true;
      onEnd(err);
    };
    const readStatus = (h: IncomingHttpHeaders) => {
      if (h["grpc-status"] === undefined) return;
      status = String(h["grpc-status"]);
      message = decodeURIComponent(String(h["grpc-message"] ?? ""));
      // The server is done (a refusal comes trailers-only, before any answer): so is the stream,
      // though our side of it is still open.
      end(new GrpcLiteError(Number(status), message));
      stream.close();
    };
    stream.on("response", readStatus);
    stream.on("trailers", readStatus);
    stream.on("data", (c: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, c]) : c;
      // Every whole length-prefixed message in what arrived so far.
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const n = pending.readUInt32BE(1);
        onMessage(method.responseDeserialize(pending.subarray(5, 5 + n)));
        pending = pending.subarray(5 + n);
      }
    });
    stream.on("error", () => {});
    stream.on("close", () => end(new GrpcLiteError(status === undefined ? 14 : Number(status), status === undefined ? `stream closed without grpc-status (rst ${stream.rstCode})` : message)));
    return {
      write: (req) => void stream.write(frame(method.requestSerialize(req))),
      end: () => stream.end(),
    };
  }

  /** Resolves once the connection (and its TLS handshake) is up. */
  ready(): Promise<void> {
    if (this.session.connecting === false) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.session.once("connect", () => resolve());
      this.session.once("error", reject);
    });
  }

  close(): void {
    this.current?.close();
  }

  /** Closes at once, failing calls still in flight. */
  destroy(): void {
    this.current?.destroy();
  }
}

/**
 * A unary server for one generated service definition: `handlers` maps its
 * method names to functions that return the response or throw GrpcLiteError.
 * Methods without a handler answer UNIMPLEMENTED.
 */
export async function startLiteServer<S extends Record<string, MethodDef<any, any>>>(
  service: S,
  handlers: { [K in keyof S]?: (req: ReturnType<S[K]["requestDeserialize"]>) => Parameters<S[K]["responseSerialize"]>[0] },
  host = "127.0.0.1",
  /** TLS (e.g. mTLS with SNICallback choosing the certificate per server name); plaintext without. */
  tls?: SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean; SNICallback?: (name: string, cb: (err: Error | null, ctx?: any) => void) => void },
  /** Called per stream before the handler; throwing (a GrpcLiteError) refuses the call. */
  authorize?: (stream: ServerHttp2Stream) => void,
): Promise<{ port: number; close(): Promise<void> }> {
  const byPath = new Map<string, { def: MethodDef<any, any>; handle: (req: any) => any }>();
  for (const [name, def] of Object.entries(service)) {
    const handle = handlers[name as keyof S];
    if (handle) byPath.set(def.path, { def, handle });
  }
  const server = tls ? createSecureServer({ ...tls, allowHTTP1: false }) : createServer();
  const sessions = new Set<Http2Session>();
  server.on("session", (s: Http2Session) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const method = byPath.get(String(headers[":path"]));
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("error", () => {});
    stream.on("end", () => {
      let body: Buffer;
      try {
        if (!method) throw new GrpcLiteError(12, `unimplemented: ${headers[":path"]}`);
        authorize?.(stream);
        body = frame(method.def.responseSerialize(method.handle(method.def.requestDeserialize(unframe(chunks)))));
      } catch (e) {
        const err = e instanceof GrpcLiteError ? e : new GrpcLiteError(13, String(e));
        stream.respond(
          { ":status": 200, "content-type": "application/grpc", "grpc-status": String(err.code), "grpc-message": encodeURIComponent(err.details) },
          { endStream: true },
        );
        return;
      }
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      stream.end(body);
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve((server.address() as { port: number }).port));
  });
  return {
    port,
    // Callers' channels stay open; close them rather than wait for them.
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sessions) s.destroy();
      }),
  };
}
