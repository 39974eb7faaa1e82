// The direct route against real grpc-js clients and server: StreamHeartbeats goes to the HTTP/2
// stream handler, every other method to grpc-js, and the stream speaks gRPC as grpc-js would.
import { afterEach, describe, expect, it } from "vitest";
import { credentials, Metadata, Server, ServerCredentials, status, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import {
  NodeRegistryServiceClient,
  NodeRegistryServiceService,
  NodeState,
  StreamHeartbeatsRequest,
  type HeartbeatRequest,
  type StreamHeartbeatsResponse,
} from "@drover/proto";
import { connect, createServer, type ServerHttp2Stream } from "node:http2";
import { DirectBeatCall, routeBeforeGrpc, STREAM_HEARTBEATS_PATH, takeChunksAtPush } from "./direct-beats.js";

const beat = (seq: number, name = "node-a"): HeartbeatRequest => ({ name, bootId: "b", seq, domains: [], libvirtUnavailable: "", intervalMs: 0 });
const answer = (seq: number): StreamHeartbeatsResponse => ({ answer: { state: NodeState.NODE_STATE_READY, destroyVmIds: [`seq-${seq}`], revokedSerials: [] }, minHeartbeatIntervalMs: 0 });

let server: Server | undefined;
const clients: NodeRegistryServiceClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  server?.forceShutdown();
  server = undefined;
});

/** A grpc-js server whose StreamHeartbeats is routed to `serve`; its own handlers count what grpc-js served. */
async function start(serve: (call: DirectBeatCall) => void, maxBytes = 1 << 20) {
  const byGrpc: string[] = [];
  server = new Server();
  server.addService(NodeRegistryServiceService, {
    streamHeartbeats: (call: { end(): void }) => (byGrpc.push("streamHeartbeats"), call.end()),
    heartbeat: (_call: unknown, cb: (e: null, r: unknown) => void) => (byGrpc.push("heartbeat"), cb(null, { state: NodeState.NODE_STATE_READY, destroyVmIds: [], revokedSerials: [] })),
  });
  const port = await new Promise<number>((resolve, reject) => server!.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  expect(routeBeforeGrpc(server, STREAM_HEARTBEATS_PATH, (stream, headers) => serve(new DirectBeatCall(stream, headers, maxBytes)))).toBe(true);
  const client = (options = {}) => {
    const c = new NodeRegistryServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), options);
    clients.push(c);
    return c;
  };
  return { byGrpc, client };
}

function open(client: NodeRegistryServiceClient) {
  const call: ClientDuplexStream<StreamHeartbeatsRequest, StreamHeartbeatsResponse> = client.streamHeartbeats(new Metadata());
  const received: StreamHeartbeatsResponse[] = [];
  call.on("data", (m: StreamHeartbeatsResponse) => received.push(m));
  const ended = new Promise<{ code: number; details: string }>((resolve) => {
    call.on("error", (e: ServiceError) => resolve({ code: e.code, details: e.details }));
    call.on("status", (s: { code: status; details: string }) => s.code === status.OK && resolve(s));
  });
  return { call, received, ended };
}

describe("StreamHeartbeats served directly", () => {
  it("takes StreamHeartbeats from grpc-js and leaves every other method to it", async () => {
    const seen: number[] = [];
    const { byGrpc, client } = await start((call) => call.onMessage((b) => seen.push(StreamHeartbeatsRequest.decode(b).beat!.seq)));
    const s = open(client());
    s.call.write({ beat: beat(1) });
    s.call.write({ beat: beat(2) });
    await expect.poll(() => seen).toEqual([1, 2]);
    const res = await new Promise((resolve, reject) => client().heartbeat(beat(3), (e, r) => (e ? reject(e) : resolve(r))));
    expect(res).toMatchObject({ state: NodeState.NODE_STATE_READY });
    expect(byGrpc).toEqual(["heartbeat"]);
    s.call.cancel();
  });

  it("holds the beats that come before the handler listens, answers, and ends with OK when the agent ends", async () => {
    const { client } = await start((call) => {
      call.onEnd(() => call.finish(status.OK, ""));
      // As serveBeats listens only once the certificate is checked.
      setTimeout(() => call.onMessage((b) => call.write(answer(StreamHeartbeatsRequest.decode(b).beat!.seq))), 200);
    });
    const s = open(client());
    for (let seq = 1; seq <= 3; seq++) s.call.write({ beat: beat(seq) });
    s.call.end();
    expect(await s.ended).toMatchObject({ code: status.OK });
    expect(s.received.map((r) => r.answer!.destroyVmIds[0])).toEqual(["seq-1", "seq-2", "seq-3"]);
  });

  it("ends with the handler's status, before any answer (trailers only) and after answers", async () => {
    const { client } = await start((call) =>
      call.onMessage((b) => {
        const seq = StreamHeartbeatsRequest.decode(b).beat!.seq;
        if (seq === 1) return call.finish(status.PERMISSION_DENIED, "the certificate of node a cannot act as node b: 100% refused");
        call.write(answer(seq));
        call.finish(status.UNAUTHENTICATED, "revoked");
      }),
    );
    const first = open(client());
    first.call.write({ beat: beat(1) });
    expect(await first.ended).toEqual({ code: status.PERMISSION_DENIED, details: "the certificate of node a cannot act as node b: 100% refused" });
    const second = open(client());
    second.call.write({ beat: beat(2) });
    expect(await second.ended).toEqual({ code: status.UNAUTHENTICATED, details: "revoked" });
    expect(second.received).toHaveLength(1);
  });

  it("refuses a flood of beats sent before the stream is authorized, holding at most EARLY_LIMIT", async () => {
    const { client } = await start((call) => void setTimeout(() => call.onMessage(() => {}), 500));
    const s = open(client());
    for (let seq = 1; seq <= 64 + 10; seq++) s.call.write({ beat: beat(seq) });
    const ended = await Promise.race([s.ended, new Promise((resolve) => setTimeout(() => resolve("not ended"), 2000))]);
    expect(ended).toMatchObject({ code: status.RESOURCE_EXHAUSTED, details: expect.stringContaining("before the stream was authorized") });
    expect(DirectBeatCall.EARLY_LIMIT).toBe(64);
  });

  it("refuses a message over the limit with RESOURCE_EXHAUSTED", async () => {
    const { client } = await start((call) => call.onMessage(() => call.write(answer(0))), 64);
    const s = open(client());
    s.call.write({ beat: { ...beat(1), bootId: "x".repeat(100) } });
    const ended = await s.ended;
    expect(ended.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(ended.details).toContain("DROVER_MAX_MESSAGE_MIB");
  });

  it("reads messages a client compressed with gzip", async () => {
    const seen: string[] = [];
    const { client } = await start((call) => call.onMessage((b) => seen.push(StreamHeartbeatsRequest.decode(b).beat!.bootId)));
    const s = open(client({ "grpc.default_compression_algorithm": 2 }));
    s.call.write({ beat: { ...beat(1), bootId: "z".repeat(500) } });
    await expect.poll(() => seen).toEqual(["z".repeat(500)]);
    s.call.cancel();
  });
});

describe("takeChunksAtPush", () => {
  it("hands each chunk over where node pushes it, past the Readable (no 'data' event of its own), and the end still comes", async () => {
    const taken: string[] = [];
    const emitted: string[] = [];
    const h2 = createServer();
    h2.on("stream", (stream: ServerHttp2Stream) => {
      const emit = stream.emit.bind(stream);
      stream.emit = (event: string | symbol, ...args: unknown[]) => (emitted.push(String(event)), emit(event, ...args));
      takeChunksAtPush(stream, (chunk) => taken.push(chunk.toString()));
      stream.on("end", () => stream.respond({ ":status": 200 }, { endStream: true }));
    });
    await new Promise<void>((resolve) => h2.listen(0, "127.0.0.1", resolve));
    const session = connect(`http://127.0.0.1:${(h2.address() as { port: number }).port}`);
    try {
      const req = session.request({ ":method": "POST", ":path": "/x" });
      req.write("one");
      await expect.poll(() => taken).toEqual(["one"]);
      req.end("two");
      await new Promise((resolve) => req.on("response", resolve));
      expect(taken).toEqual(["one", "two"]);
      expect(emitted).not.toContain("data");
      expect(emitted).toContain("end");
    } finally {
      session.close();
      h2.close();
    }
  });
});
