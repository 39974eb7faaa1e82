// The scheduler's agent client against a real grpc-js AgentService server (a stand-in, so that a
// handler can be slow, answer too much, or present another node's certificate): the node:http2
// client and grpc-js side by side, the same status codes and details from both.
import { constants, createServer, type ServerHttp2Stream } from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { Server, ServerCredentials, status, type ServiceError, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createCertificateAuthority, createKeyAndCsr, issueNodeCertificate, normalizeSerial, type CertificateAuthority } from "@drover/pki";
import { AgentServiceService, DomainState, DomainStatus, StartDomainResponse, VmSpec } from "@drover/proto";
import { SchedulerIdentity } from "../tls/scheduler-identity.js";
import { agentCallError, AgentClients, type AgentClientOptions } from "./agent-clients.js";

type Handler = (call: { request: { vmId: string }; getAuthContext(): { sslPeerCertificate?: { serialNumber: string } } }) => Promise<object>;

interface StandIn {
  port: number;
  server: Server;
}

/** An AgentService server whose EnsureDomain and StartDomain run `handle` (a thrown {code, details} is the status). */
async function standIn(handle: Handler, o: { port?: number; creds?: ServerCredentials } = {}): Promise<StandIn> {
  const server = new Server();
  const unary = (call: Parameters<Handler>[0], cb: (e: unknown, r?: object) => void) =>
    handle(call).then((r) => cb(null, r), (e: unknown) => cb(e));
  server.addService(AgentServiceService, { ensureDomain: unary, startDomain: unary } as unknown as UntypedServiceImplementation);
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync(`127.0.0.1:${o.port ?? 0}`, o.creds ?? ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))),
  );
  return { port, server };
}

const running = (vmId: string, name = "") => ({ domain: DomainStatus.fromPartial({ vmId, name, state: DomainState.DOMAIN_STATE_RUNNING, generation: 3 }) });
const refuse = (code: status, details: string) => Promise.reject(Object.assign(new Error(details), { code, details }));
const failure = (p: Promise<unknown>) => p.then(() => expect.fail("the call succeeded"), (e: unknown) => e as ServiceError);

const transports: NonNullable<AgentClientOptions["unary"]>[] = ["http2", "grpc-js"];
let servers: Server[] = [];
let clients: AgentClients[] = [];
afterEach(() => {
  for (const c of clients) c.close();
  for (const s of servers) s.forceShutdown();
  servers = [];
  clients = [];
});
async function serve(handle: Handler, o: { port?: number; creds?: ServerCredentials } = {}): Promise<StandIn> {
  const s = await standIn(handle, o);
  servers.push(s.server);
  return s;
}
function agentClients(unary: AgentClientOptions["unary"], timeoutMs = 5000, extra: Partial<AgentClientOptions> & { tls?: SchedulerIdentity } = {}): AgentClients {
  const c = new AgentClients(timeoutMs, extra.tls, { unary, ...(extra.maxResponseBytes ? { maxResponseBytes: extra.maxResponseBytes } : {}) });
  clients.push(c);
  return c;
}
const spec = VmSpec.fromPartial({ name: "vm", vcpus: 1, memoryMib: 256 });

describe.each(transports)("agent calls over %s", (transport) => {
  it("answers a call with the agent's DomainStatus", async () => {
    const { port } = await serve(async (call) => running(call.request.vmId));
    const agents = agentClients(transport);
    const domain = await agents.ensureDomain({ name: "n1", address: `127.0.0.1:${port}` }, { vmId: "vm-1", spec });
    expect(domain).toMatchObject({ vmId: "vm-1", state: DomainState.DOMAIN_STATE_RUNNING, generation: 3 });
  });

  it("keeps the agent's code and details: NOT_FOUND is not-found, FAILED_PRECONDITION wrong-state, others unreachable", async () => {
    const details = "domain vm-2 not found; ünïcode, 100% (encoded)";
    const { port } = await serve(async (call) =>
      call.request.vmId === "gone" ? refuse(status.NOT_FOUND, details) : call.request.vmId === "busy" ? refuse(status.FAILED_PRECONDITION, "image debian-12 unavailable") : refuse(status.INTERNAL, "error id 42"),
    );
    const agents = agentClients(transport);
    const at = { name: "n1", address: `127.0.0.1:${port}` };
    const gone = await failure(agents.startDomain(at, "gone"));
    expect([gone.code, gone.details, gone.message]).toEqual([status.NOT_FOUND, details, `5 NOT_FOUND: ${details}`]);
    expect(agentCallError("n1", gone)).toMatchObject({ failure: "not-found", message: `agent on n1: ${details}` });
    const busy = await failure(agents.startDomain(at, "busy"));
    expect([busy.code, busy.details]).toEqual([status.FAILED_PRECONDITION, "image debian-12 unavailable"]);
    expect(agentCallError("n1", busy).failure).toBe("wrong-state");
    const other = await failure(agents.startDomain(at, "x"));
    expect([other.code, other.details]).toEqual([status.INTERNAL, "error id 42"]);
    expect(agentCallError("n1", other).failure).toBe("unreachable");
  });

  it("ends a call the agent does not answer in time with DEADLINE_EXCEEDED", async () => {
    const { port } = await serve(async (call) => (await sleep(3000), running(call.request.vmId)));
    const agents = agentClients(transport, 300);
    const t0 = Date.now();
    const err = await failure(agents.startDomain({ name: "n1", address: `127.0.0.1:${port}` }, "slow"));
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(agentCallError("n1", err).failure).toBe("unreachable");
  });

  it("answers UNAVAILABLE when no agent listens, and reaches it once it is back on the same address", async () => {
    const first = await serve(async (call) => running(call.request.vmId, "first"));
    const agents = agentClients(transport);
    const at = { name: "n1", address: `127.0.0.1:${first.port}` };
    expect((await agents.startDomain(at, "a"))?.name).toBe("first");
    first.server.forceShutdown();
    const down = await failure(agents.startDomain(at, "b"));
    expect(down.code).toBe(status.UNAVAILABLE);
    expect(agentCallError("n1", down).failure).toBe("unreachable");
    await serve(async (call) => running(call.request.vmId, "second"), { port: first.port });
    // grpc-js waits out its reconnect backoff (1 s) first; the http2 client dials again at once.
    let name: string | undefined;
    for (let i = 0; i < 40 && name !== "second"; i++) name = await agents.startDomain(at, "c").then((d) => d?.name, () => sleep(100).then(() => undefined));
    expect(name).toBe("second");
  });

  it("moves to a new connection after the agent's GOAWAY (a graceful restart)", async () => {
    const first = await serve(async (call) => running(call.request.vmId, "first"));
    const agents = agentClients(transport);
    const at = { name: "n1", address: `127.0.0.1:${first.port}` };
    expect((await agents.startDomain(at, "a"))?.name).toBe("first");
    await new Promise<void>((ok) => first.server.tryShutdown(() => ok()));
    await serve(async (call) => running(call.request.vmId, "second"), { port: first.port });
    let name: string | undefined;
    for (let i = 0; i < 40 && name !== "second"; i++) name = await agents.startDomain(at, "b").then((d) => d?.name, () => sleep(100).then(() => undefined));
    expect(name).toBe("second");
  });

  it("fails a call in flight with UNAVAILABLE when the agent's connection drops", async () => {
    const s = await serve(async (call) => (await sleep(3000), running(call.request.vmId)));
    const agents = agentClients(transport);
    const call = failure(agents.startDomain({ name: "n1", address: `127.0.0.1:${s.port}` }, "a"));
    await sleep(200);
    s.server.forceShutdown();
    const err = await call;
    // grpc-js says CANCELLED (the server's RST_STREAM came first), the http2 client UNAVAILABLE: both "unreachable".
    expect(err.code).toBe(transport === "http2" ? status.UNAVAILABLE : status.CANCELLED);
    expect(agentCallError("n1", err).failure).toBe("unreachable");
  });

  it("refuses an answer larger than the limit with RESOURCE_EXHAUSTED", async () => {
    const { port } = await serve(async (call) => running(call.request.vmId, "x".repeat(call.request.vmId === "big" ? 100_000 : 10)));
    const agents = agentClients(transport, 5000, { maxResponseBytes: 64 * 1024 });
    const at = { name: "n1", address: `127.0.0.1:${port}` };
    const err = await failure(agents.startDomain(at, "big"));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/^Received message larger than max \(100\d{3} vs 65536\)/);
    // The connection is still good for answers within the limit.
    expect((await agents.startDomain(at, "small"))?.name).toBe("x".repeat(10));
  });
});

describe.each(transports)("mTLS to agents over %s", (transport) => {
  let ca: CertificateAuthority;
  let identity: SchedulerIdentity;
  let nodeB: ServerCredentials;

  beforeAll(async () => {
    ca = await createCertificateAuthority();
    identity = await SchedulerIdentity.start(ca, { hosts: ["127.0.0.1"], lifetimeMs: 600_000, log: () => {} });
    const { keyPem, csrPem } = await createKeyAndCsr("node-b");
    const cert = await issueNodeCertificate(ca, csrPem, "node-b", 600_000);
    // As agents do: the cluster CA's client certificate required.
    nodeB = ServerCredentials.createSsl(Buffer.from(ca.certificatePem), [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(cert.certificatePem) }], true);
    return () => identity.stop();
  });

  /** The agent stand-in answers with the serial of the client certificate it was shown. */
  const servingNodeB = () => serve(async (call) => running(call.request.vmId, normalizeSerial(call.getAuthContext().sslPeerCertificate?.serialNumber ?? "none")), { creds: nodeB });

  it("reaches the node whose certificate the agent serves, presenting the scheduler's certificate", async () => {
    const { port } = await servingNodeB();
    const agents = agentClients(transport, 5000, { tls: identity });
    expect((await agents.startDomain({ name: "node-b", address: `127.0.0.1:${port}` }, "a"))?.name).toBe(normalizeSerial(identity.current.serial));
  });

  it("refuses an agent that serves another node's certificate at the node's address, naming both", async () => {
    const { port } = await servingNodeB();
    const agents = agentClients(transport, 5000, { tls: identity });
    const err = await failure(agents.startDomain({ name: "node-a", address: `127.0.0.1:${port}` }, "a"));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toContain("the agent dialed for node node-a served the certificate of node node-b");
    expect(agentCallError("node-a", err).failure).toBe("unreachable");
  });

  it("presents a renewed certificate after reconnect(), not before", async () => {
    const { port } = await servingNodeB();
    const agents = agentClients(transport, 5000, { tls: identity });
    const at = { name: "node-b", address: `127.0.0.1:${port}` };
    const before = normalizeSerial(identity.current.serial);
    expect((await agents.startDomain(at, "a"))?.name).toBe(before);
    await identity.renewNow();
    const after = normalizeSerial(identity.current.serial);
    expect(after).not.toBe(before);
    // The open connection keeps the certificate of its handshake.
    expect((await agents.startDomain(at, "b"))?.name).toBe(before);
    agents.reconnect();
    expect((await agents.startDomain(at, "c"))?.name).toBe(after);
  });
});

describe("the http2 client against a bare HTTP/2 server", () => {
  /** A server answering each stream as `answer` says, by the stream's order; it counts the PINGs it receives. */
  async function bare(answer: (stream: ServerHttp2Stream, n: number) => void): Promise<{ port: number; close(): void; pings(): number }> {
    const server = createServer();
    let n = 0;
    let pings = 0;
    server.on("session", (session) => session.on("ping", () => pings++));
    server.on("stream", (stream) => {
      stream.on("error", () => {});
      const i = n++;
      stream.resume();
      stream.on("end", () => answer(stream, i));
    });
    await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
    return { port: (server.address() as { port: number }).port, close: () => server.close(), pings: () => pings };
  }
  const ok = (stream: ServerHttp2Stream) => {
    const message = Buffer.from(StartDomainResponse.encode(running("vm", "ok")).finish());
    const body = Buffer.alloc(5 + message.length);
    body.writeUInt32BE(message.length, 1);
    message.copy(body, 5);
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(body);
  };

  it("sends a stream the server refused unprocessed (REFUSED_STREAM) once more, and only once", async () => {
    const refusedFirst = await bare((s, i) => (i === 0 ? s.close(constants.NGHTTP2_REFUSED_STREAM) : ok(s)));
    const refusedAlways = await bare((s) => s.close(constants.NGHTTP2_REFUSED_STREAM));
    const agents = agentClients("http2");
    expect((await agents.startDomain({ name: "n1", address: `127.0.0.1:${refusedFirst.port}` }, "vm"))?.name).toBe("ok");
    const err = await failure(agents.startDomain({ name: "n1", address: `127.0.0.1:${refusedAlways.port}` }, "vm"));
    expect([err.code, err.details]).toEqual([status.UNAVAILABLE, `the agent at 127.0.0.1:${refusedAlways.port} refused the stream`]);
    refusedFirst.close();
    refusedAlways.close();
  });

  it("maps an HTTP status and a trailers-only answer as gRPC does", async () => {
    const server = await bare((s, i) =>
      i === 0
        ? s.respond({ ":status": 503 }, { endStream: true })
        : s.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "9", "grpc-message": "not%20now" }, { endStream: true }),
    );
    const agents = agentClients("http2");
    const at = { name: "n1", address: `127.0.0.1:${server.port}` };
    const http = await failure(agents.startDomain(at, "vm"));
    expect([http.code, http.details]).toEqual([status.UNAVAILABLE, `agent at 127.0.0.1:${server.port} answered HTTP 503`]);
    const trailersOnly = await failure(agents.startDomain(at, "vm"));
    expect([trailersOnly.code, trailersOnly.details]).toEqual([status.FAILED_PRECONDITION, "not now"]);
    server.close();
  });

  it("PINGs a session while a call is outstanding and the agent is silent, and never an idle one", async () => {
    const server = await bare((s, i) => (i === 0 ? setTimeout(() => ok(s), 800) : ok(s)));
    const agents = new AgentClients(5000, undefined, { keepalive: { timeMs: 100, timeoutMs: 2000 } });
    clients.push(agents);
    const at = { name: "n1", address: `127.0.0.1:${server.port}` };
    expect((await agents.startDomain(at, "slow"))?.name).toBe("ok");
    const whileSilent = server.pings();
    expect(whileSilent).toBeGreaterThanOrEqual(3); // about one per 100 ms of the 800 ms
    await sleep(800); // idle: eight keepalive times, no PING
    expect(server.pings()).toBe(whileSilent);
    // A call on a session silent for longer than the keepalive time PINGs at once.
    expect((await agents.startDomain(at, "quick"))?.name).toBe("ok");
    await sleep(50);
    expect(server.pings()).toBe(whileSilent + 1);
    server.close();
  });
});
