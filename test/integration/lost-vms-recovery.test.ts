// Nodes that go DOWN while their agent's beats stall, and come back with the same report: their
// LOST VMs are RUNNING again, on the StreamHeartbeats stream that stayed open across the DOWN, on
// unary Heartbeat calls, and when the node came back through another replica than the one whose
// report memo had settled its report. A node that comes back without a VM's domain never makes
// that VM RUNNING. Two real scheduler processes on one Postgres, a short heartbeat timeout; the
// nodes are driven by raw gRPC clients so the test decides when a beat goes out.
import { credentials, Metadata, type ClientDuplexStream } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DomainState, NodeRegistryServiceClient, type HeartbeatRequest, type StreamHeartbeatsRequest, type StreamHeartbeatsResponse } from "@drover/proto";
import { connect, migrate, transitionVm, type Sql } from "@drover/store";
import { commitTestVm, createTestDatabase } from "@drover/store/testing";
import { startSchedulerProcess } from "../support/scheduler-process.js";
import { waitFor } from "../support/wait.js";

const TIMEOUT_MS = 1500;
const BEAT_MS = 200;

type Replica = Awaited<ReturnType<typeof startSchedulerProcess>>;

/** A node of the test: registered, with RUNNING VMs the database has on it, beating when told to. */
interface TestNode {
  name: string;
  vmIds: string[];
  /** The domains its next beats report. */
  domains: string[];
  seq: number;
}

describe("LOST VMs of nodes that come back", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: Sql;
  const replicas: Replica[] = [];
  const clients: NodeRegistryServiceClient[] = [];
  const timers: NodeJS.Timeout[] = [];
  const streams: ClientDuplexStream<StreamHeartbeatsRequest, StreamHeartbeatsResponse>[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = connect(db.url, { max: 2 });
    await migrate(sql);
    for (let i = 0; i < 2; i++) {
      replicas.push(await startSchedulerProcess({ DROVER_DATABASE_URL: db.url, DROVER_NATS_URL: "", DROVER_HEARTBEAT_TIMEOUT_MS: String(TIMEOUT_MS) }));
      clients.push(new NodeRegistryServiceClient(replicas[i]!.address, credentials.createInsecure()));
    }
  }, 200_000); // two process starts of up to 90 s each (scheduler-process.ts)
  afterAll(async () => {
    timers.forEach(clearInterval);
    streams.forEach((s) => s.cancel());
    clients.forEach((c) => c.close());
    for (const r of replicas) await r.stop();
    await sql?.end();
    await db?.drop();
  });

  const request = (n: TestNode): HeartbeatRequest => ({
    name: n.name,
    bootId: "000000000001-lost-test",
    seq: ++n.seq,
    libvirtUnavailable: "",
    intervalMs: 0,
    domains: n.domains.map((vmId) => ({ vmId, name: vmId, state: DomainState.DOMAIN_STATE_RUNNING, reason: "", interfaces: [], reportInterfaces: false, generation: 1 })),
  });
  const unary = (replica: number, n: TestNode) =>
    new Promise<void>((resolve, reject) =>
      clients[replica]!.heartbeat(request(n), new Metadata(), { deadline: new Date(Date.now() + 10_000) }, (e) => (e ? reject(e) : resolve())),
    );
  const node = async (name: string): Promise<TestNode> => {
    await new Promise((resolve, reject) =>
      clients[0]!.registerNode(
        { name, address: "127.0.0.1:1", capacity: { vcpus: 8, memoryMib: 8192, diskGib: 100 }, labels: {} },
        new Metadata(),
        { deadline: new Date(Date.now() + 10_000) },
        (e, r) => (e ? reject(e) : resolve(r)),
      ),
    );
    const vmIds: string[] = [];
    for (let i = 0; i < 2; i++) {
      // RUNNING in the transaction that commits it: a replica's dispatcher would lease a VM seen
      // SCHEDULED (its dispatch to this node's dead address then fails), and it would never run.
      const id = await sql.begin(async (tx) => {
        const id = await commitTestVm(tx, name);
        expect(await transitionVm(tx, id, ["SCHEDULED"], "RUNNING", { reportGeneration: 1 })).toBeTruthy();
        return id;
      });
      vmIds.push(id);
    }
    return { name, vmIds, domains: [...vmIds], seq: 0 };
  };
  /** Beats every BEAT_MS while `beating()` says so, on a stream to `replica` that stays open throughout. */
  const streamTo = (replica: number, n: TestNode, beating: () => boolean) => {
    const call = clients[replica]!.streamHeartbeats(new Metadata());
    call.on("data", () => {});
    call.on("error", () => {});
    streams.push(call);
    timers.push(setInterval(() => beating() && call.write({ beat: request(n) }), BEAT_MS));
  };
  const unaryTo = (replica: number, n: TestNode, beating: () => boolean) => {
    timers.push(setInterval(() => beating() && void unary(replica, n).catch(() => {}), BEAT_MS));
  };
  const states = async (ids: string[]) => (await sql<{ state: string }[]>`SELECT state FROM vms WHERE id = ANY(${ids}::uuid[]) ORDER BY id`).map((r) => r.state);
  const nodeState = async (name: string) => (await sql<{ state: string }[]>`SELECT state FROM nodes WHERE name = ${name}`)[0]!.state;
  const all = (want: string) => (s: string[]) => (s.every((x) => x === want) ? true : undefined);
  /** Settles the memo (unchanged beats), stalls the beats until the node is DOWN and its VMs LOST, then lets them go on. */
  const stallAcrossDown = async (n: TestNode, setBeating: (on: boolean) => void) => {
    await waitFor(`${n.name} READY`, async () => ((await nodeState(n.name)) === "READY" ? true : undefined));
    await new Promise((r) => setTimeout(r, 2000));
    setBeating(false);
    // 20 s, not the 1.5 s timeout: under load a replica's liveness ticks come late, and the time no
    // replica ticked is not counted as silence; a beat still in flight may also revive the node once.
    await waitFor(`${n.name} DOWN`, async () => ((await nodeState(n.name)) === "DOWN" ? true : undefined), 20_000, 50);
    await waitFor(`${n.name}'s VMs LOST`, async () => all("LOST")(await states(n.vmIds)), 20_000, 50);
    setBeating(true);
  };

  it("on the stream that stayed open across the DOWN, with the same report", async () => {
    const n = await node("stream-node");
    let on = true;
    streamTo(0, n, () => on);
    await stallAcrossDown(n, (b) => (on = b));
    await waitFor("its VMs RUNNING", async () => all("RUNNING")(await states(n.vmIds)), 5000, 50);
    expect(await nodeState(n.name)).toBe("READY");
  });

  it("on unary Heartbeat calls, with the same report", async () => {
    const n = await node("unary-node");
    let on = true;
    unaryTo(1, n, () => on);
    await stallAcrossDown(n, (b) => (on = b));
    await waitFor("its VMs RUNNING", async () => all("RUNNING")(await states(n.vmIds)), 5000, 50);
  });

  it("when the node came back through the other replica, and beats on to the one whose memo settled its report", async () => {
    const n = await node("replica-node");
    let on = true;
    streamTo(0, n, () => on);
    await stallAcrossDown(n, (b) => {
      on = false;
      if (b) void unary(1, n).then(() => (on = true));
    });
    await waitFor("its VMs RUNNING", async () => all("RUNNING")(await states(n.vmIds)), 5000, 50);
  });

  it("never RUNNING when the node comes back without the VM's domain", async () => {
    const n = await node("gone-node");
    let on = true;
    streamTo(1, n, () => on);
    const [gone, kept] = n.vmIds as [string, string];
    await stallAcrossDown(n, (b) => {
      on = b;
      // The host came back without one of the two domains.
      if (b) n.domains = [kept];
    });
    await waitFor("the kept VM RUNNING", async () => all("RUNNING")(await states([kept])), 5000, 50);
    // Beat after beat, the VM whose domain is gone is not RUNNING (LOST until the vanished grace, then re-created).
    for (let i = 0; i < 10; i++) {
      expect((await states([gone]))[0]).not.toBe("RUNNING");
      await new Promise((r) => setTimeout(r, BEAT_MS));
    }
  });
});
