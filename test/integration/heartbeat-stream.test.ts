// StreamHeartbeats against the real parts: a TLS scheduler (and, below, two replica processes),
// agents that joined with one-time tokens, Postgres. The stream is authorized once when it opens,
// so what a unary Heartbeat checks per call must hold for the stream's whole life: it beats only
// as its certificate's node, and it ends when that certificate is revoked.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, credentials, Metadata, status, type ChannelCredentials, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Registration } from "@drover/agent";
import { createKeyAndCsr } from "@drover/pki";
import {
  NodeRegistryServiceClient,
  NodeState,
  type HeartbeatRequest,
  type JoinNodeResponse,
  StreamHeartbeatsRequest,
  StreamHeartbeatsResponse,
} from "@drover/proto";
import { createClusterCa, createJoinToken, issueToken } from "@drover/scheduler";
import { connect, migrate, revokeCertificates, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { freePort } from "../support/ports.js";
import { startSchedulerProcess } from "../support/scheduler-process.js";
import { startSecureCluster, type SecureCluster } from "../support/secure-cluster.js";
import { waitFor } from "../support/wait.js";

const beat = (name: string, seq: number): HeartbeatRequest => ({ name, domains: [], bootId: "000000000001-stream-test", seq, libvirtUnavailable: "", intervalMs: 0 });

/** A StreamHeartbeats stream with what it received and how it ended. */
function openStream(address: string, creds: ChannelCredentials) {
  const client = new NodeRegistryServiceClient(address, creds);
  const call: ClientDuplexStream<StreamHeartbeatsRequest, StreamHeartbeatsResponse> = client.streamHeartbeats(new Metadata());
  const answers: StreamHeartbeatsResponse[] = [];
  call.on("data", (m: StreamHeartbeatsResponse) => answers.push(m));
  const ended = new Promise<ServiceError>((resolve) => call.on("error", resolve));
  return {
    answers,
    ended,
    send: (b: HeartbeatRequest) => call.write({ beat: b }),
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

/** drover_heartbeat_streams from a scheduler's /metrics. */
async function openStreams(metricsAddress: string): Promise<number> {
  const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("drover_heartbeat_streams "));
  return line ? Number(line.split(" ").pop()) : 0;
}

/** A node certificate through JoinNode (a join token, a fresh key): mTLS credentials with it. */
async function joinAs(address: string, sql: Sql, caPem: Buffer, name: string): Promise<{ creds: ChannelCredentials; serial: string }> {
  const { token } = await createJoinToken(sql, { nodeName: name, ttlMs: 60_000 });
  const { keyPem, csrPem } = await createKeyAndCsr(name);
  const client = new NodeRegistryServiceClient(address, credentials.createSsl(caPem));
  const res = await new Promise<JoinNodeResponse>((resolve, reject) =>
    client.joinNode({ joinToken: token, nodeName: name, csrPem }, new Metadata(), { deadline: new Date(Date.now() + 10_000) }, (e, r) => (e ? reject(e) : resolve(r))),
  );
  client.close();
  const [row] = await sql<{ serial: string }[]>`SELECT serial FROM node_certificates WHERE node_name = ${name} ORDER BY issued_at DESC LIMIT 1`;
  return { creds: credentials.createSsl(caPem, Buffer.from(keyPem), Buffer.from(res.certificatePem)), serial: row!.serial };
}

describe("StreamHeartbeats on one scheduler", () => {
  let cluster: SecureCluster;

  beforeAll(async () => {
    cluster = await startSecureCluster(["node-a", "node-b"]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("agents beat on the stream, and the unary Heartbeat still answers", async () => {
    // Both agents' streams are open (the agent switches to the stream by itself).
    await waitFor("both agents on a stream", async () => ((await openStreams(cluster.scheduler.metricsAddress)) === 2 ? true : undefined));
    const client = new NodeRegistryServiceClient(cluster.scheduler.address, cluster.asNode("node-a"));
    const res = await new Promise<{ state: NodeState }>((resolve, reject) =>
      client.heartbeat(beat("node-a", 1), new Metadata(), { deadline: new Date(Date.now() + 10_000) }, (e, r) => (e ? reject(e) : resolve(r))),
    );
    client.close();
    expect(res.state).toBe(NodeState.NODE_STATE_READY);
    const nodes = await cluster.api.listNodes();
    expect(nodes.map((n) => n.state)).toEqual([NodeState.NODE_STATE_READY, NodeState.NODE_STATE_READY]);
  });

  it("answers the first beat, then stays quiet while nothing changes", async () => {
    const s = openStream(cluster.scheduler.address, cluster.asNode("node-a"));
    try {
      s.send(beat("node-a", 1));
      await waitFor("the first answer", async () => (s.answers.length > 0 ? true : undefined));
      expect(s.answers[0]!.answer!.state).toBe(NodeState.NODE_STATE_READY);
      for (let seq = 2; seq <= 6; seq++) s.send(beat("node-a", seq));
      // The agent's own stream beats meanwhile: the node stays READY, and this stream hears nothing more.
      await new Promise((r) => setTimeout(r, 1500));
      expect(s.answers).toHaveLength(1);
    } finally {
      s.close();
    }
  });

  it("a stream beats only as its certificate's node: PERMISSION_DENIED for another", async () => {
    const s = openStream(cluster.scheduler.address, cluster.asNode("node-a"));
    try {
      s.send(beat("node-b", 1));
      const err = await s.ended;
      expect(err.code).toBe(status.PERMISSION_DENIED);
      expect(err.details).toBe("the certificate of node node-a cannot act as node node-b: a node registers and heartbeats only as itself");
    } finally {
      s.close();
    }
  });

  it("a stream without a node certificate is refused when it opens", async () => {
    const s = openStream(cluster.scheduler.address, cluster.serverAuthOnly());
    try {
      s.send(beat("node-a", 1));
      const err = await s.ended;
      expect(err.code).toBe(status.UNAUTHENTICATED);
      expect(err.details).toContain("this call needs the node's certificate");
    } finally {
      s.close();
    }
  });

  it("bad bytes in a beat end the stream with INVALID_ARGUMENT naming the field", async () => {
    // Raw bytes: what a well-behaved encoder would not send.
    const client = new Client(cluster.scheduler.address, cluster.asNode("node-a"));
    const send = async (bytes: Uint8Array) => {
      const call = client.makeBidiStreamRequest("/drover.v1.NodeRegistryService/StreamHeartbeats", (b: Uint8Array) => Buffer.from(b), (b: Buffer) => StreamHeartbeatsResponse.decode(b), new Metadata());
      call.on("data", () => {});
      const ended = new Promise<ServiceError>((resolve) => call.on("error", resolve));
      call.write(bytes);
      return ended;
    };
    const encode = (b: HeartbeatRequest) => StreamHeartbeatsRequest.encode({ beat: b }).finish();
    try {
      const nul = await send(encode({ ...beat("node-a", 1), bootId: "a\0b" }));
      expect(nul.code).toBe(status.INVALID_ARGUMENT);
      expect(nul.details).toBe("beat.boot_id: must not contain NUL (\\0) characters");
      const huge = await send(encode(beat("node-a", 2 ** 60)));
      expect(huge.code).toBe(status.INVALID_ARGUMENT);
      expect(huge.details).toContain("beat.seq");
      // Invalid UTF-8 in the boot id: 0xff in place of its first character.
      const bytes = encode({ ...beat("node-a", 1), bootId: "x-boot" });
      bytes[bytes.indexOf(0x78)] = 0xff;
      const utf8 = await send(bytes);
      expect(utf8.code).toBe(status.INVALID_ARGUMENT);
      expect(utf8.details).toBe("beat.boot_id: must be valid UTF-8 (protobuf strings are UTF-8)");
    } finally {
      client.close();
    }
  });

  it("a revoked certificate's stream ends with UNAUTHENTICATED", async () => {
    const sql = cluster.scheduler.sql;
    const { creds, serial } = await joinAs(cluster.scheduler.address, sql, cluster.caPem, "node-r");
    const client = new NodeRegistryServiceClient(cluster.scheduler.address, creds);
    await new Promise((resolve, reject) =>
      client.registerNode(
        { name: "node-r", address: "203.0.113.9:7401", capacity: { vcpus: 8, memoryMib: 8192, diskGib: 100 }, labels: {} },
        new Metadata(),
        { deadline: new Date(Date.now() + 10_000) },
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    client.close();
    const s = openStream(cluster.scheduler.address, creds);
    try {
      s.send(beat("node-r", 1));
      await waitFor("the first answer", async () => (s.answers.length > 0 ? true : undefined));
      expect(await revokeCertificates(sql, { serial })).toBe(1);
      // Beats go on; the stream is not asked again, the sweep ends it.
      const beating = setInterval(() => s.send(beat("node-r", Date.now())), 200);
      const err = await s.ended.finally(() => clearInterval(beating));
      expect(err.code).toBe(status.UNAUTHENTICATED);
      expect(err.details).toBe(`the certificate ${serial} of node node-r is revoked; join again with a new join token`);
      // A new stream with it is refused when it opens.
      const again = openStream(cluster.scheduler.address, creds);
      again.send(beat("node-r", Date.now()));
      expect((await again.ended).code).toBe(status.UNAUTHENTICATED);
      again.close();
    } finally {
      s.close();
    }
  });
});

describe("StreamHeartbeats across replicas", () => {
  it("a replica dying makes the agent stream to another, and the node stays READY", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drover-hb-stream-"));
    const db = await createTestDatabase();
    const sql = connect(db.url, { max: 2 });
    const replicas: Awaited<ReturnType<typeof startSchedulerProcess>>[] = [];
    let registration: Registration | undefined;
    try {
      await migrate(sql);
      const ca = await createClusterCa(join(dir, "ca"));
      const caPem = readFileSync(ca.certFile);
      const token = (await issueToken(sql, { role: "admin", project: "default", description: "test" })).bearer;
      const metrics: string[] = [];
      for (let i = 0; i < 2; i++) {
        metrics.push(`127.0.0.1:${await freePort()}`);
        replicas.push(
          await startSchedulerProcess(
            // The default timeout (10 s): a node whose beats were lost in the switch goes DOWN within the test.
            { DROVER_DATABASE_URL: db.url, DROVER_NATS_URL: "", DROVER_INSECURE: "0", DROVER_TLS_DIR: join(dir, "ca"), DROVER_METRICS_LISTEN: metrics[i]! },
            { creds: credentials.createSsl(caPem), token },
          ),
        );
      }
      const [a, b] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
      const { creds } = await joinAs(a.address, sql, caPem, "node-x");
      // Both replicas behind one target, as a DNS name with two addresses: grpc-js takes the first that answers.
      registration = new Registration({
        schedulerAddress: `ipv4:${a.address},${b.address}`,
        credentials: creds,
        nodeName: "node-x",
        registerRequest: async () => ({ name: "node-x", address: "203.0.113.9:7401", capacity: { vcpus: 8, memoryMib: 8192, diskGib: 100 }, labels: {} }),
        domains: async () => [],
        heartbeatIntervalMs: 500,
        maxBackoffMs: 500,
      });
      await registration.start();
      await registration.whenRegistered();
      await waitFor("the agent streaming to replica A", async () => (registration!.streaming && (await openStreams(metrics[0]!)) === 1 ? true : undefined), 30_000);

      await a.kill();
      await waitFor("the agent streaming to replica B", async () => (registration!.streaming && (await openStreams(metrics[1]!)) === 1 ? true : undefined), 30_000);
      // Longer than the heartbeat timeout after the switch: beats reach B, the node never went DOWN.
      await new Promise((r) => setTimeout(r, 11_000));
      const [node] = await sql<{ state: string }[]>`SELECT state FROM nodes WHERE name = 'node-x'`;
      expect(node!.state).toBe("READY");
      const [downs] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE subject = 'drover.node.down'`;
      expect(downs!.n).toBe(0);
    } finally {
      await registration?.stop();
      for (const r of replicas) await r.kill();
      await sql.end();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
