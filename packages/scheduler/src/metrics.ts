import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { allocatable as allocatableOfNode } from "@drover/placement";
import { countVmsByNodeAndState, listNodes, type Sql } from "@drover/store";
import { StageHistogram } from "./metrics/stage-histogram.js";

export interface SchedulerMetrics {
  registry: Registry;
  placementSeconds: Histogram;
  placementFailures: Counter<"reason">;
  claimConflicts: Counter;
  dispatches: Counter<"result">;
  eventsPublished: Counter;
  /** Calls refused for who the caller is; `surface` says which (node-registry, api), `reason` why. */
  authRefusals: Counter<"surface" | "reason">;
  auditDenials: Counter<"record">;
  /** DELETED and FAILED VMs removed by retention (DROVER_VM_RETENTION_MS). */
  vmsPurged: Counter;
  /** Heartbeats from the handler's start: to the beat recorded (stage record), and to the answer (stage total). */
  heartbeatSeconds: StageHistogram<HeartbeatStage>;
  /** StreamHeartbeats streams open on this replica. */
  heartbeatStreams: Gauge;
}

/** record: until the beat is recorded (what liveness sees); total: until answered, domain states reconciled. */
export type HeartbeatStage = "record" | "total";

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

/**
 * Scheduler metrics. Capacity gauges are read from Postgres at scrape time,
 * so every replica reports the same cluster-wide numbers.
 */
export function createMetrics(sql: Sql): SchedulerMetrics {
  const registry = new Registry();
  // Every capacity gauge's collect() waits for one shared read per scrape.
  let loading: Promise<void> | undefined;
  const collect = () => (loading ??= load().finally(() => setImmediate(() => (loading = undefined))));
  const gauge = (name: string, help: string, labelNames: string[]) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect });

  const capacity = gauge("drover_node_capacity", "Host size: vcpus in cores, memory and disk in bytes", ["node", "resource"]);
  const allocatable = gauge("drover_node_allocatable", "capacity × allocation ratio − reserved", ["node", "resource"]);
  const allocated = gauge("drover_node_allocated", "Sum of the claims of the VMs on the node", ["node", "resource"]);
  const nodeState = gauge("drover_node_state", "1 for the node's current state", ["node", "state"]);
  const vms = gauge("drover_vms", "VMs by state (DELETED left out)", ["state"]);

  async function load(): Promise<void> {
    const [nodes, counts] = await Promise.all([listNodes(sql), countVmsByNodeAndState(sql)]);
    for (const g of [vms, capacity, allocatable, allocated, nodeState]) g.reset();
    const byState = new Map<string, number>();
    for (const c of counts) byState.set(c.state, (byState.get(c.state) ?? 0) + c.count);
    for (const [state, n] of byState) vms.set({ state }, n);
    for (const n of nodes) {
      const set = (g: Gauge, v: { vcpus: number; memoryMib: number; diskGib: number }) => {
        g.set({ node: n.name, resource: "vcpus" }, v.vcpus);
        g.set({ node: n.name, resource: "memory_bytes" }, v.memoryMib * MIB);
        g.set({ node: n.name, resource: "disk_bytes" }, v.diskGib * GIB);
      };
      set(capacity, n.capacity);
      set(allocatable, allocatableOfNode(n));
      set(allocated, n.allocated);
      nodeState.set({ node: n.name, state: n.state }, 1);
    }
  }

  return {
    registry,
    placementSeconds: new Histogram({
      name: "drover_placement_duration_seconds",
      help: "Time the placement engine takes for one batch: a CreateVms request, or a VM placed again after a failed dispatch",
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    placementFailures: new Counter({
      name: "drover_placement_failures_total",
      help: "VMs that could not be placed, by rejection reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    claimConflicts: new Counter({
      name: "drover_claim_conflicts_total",
      help: "Placements retried because another writer claimed the room first",
      registers: [registry],
    }),
    dispatches: new Counter({
      name: "drover_dispatches_total",
      help: "EnsureDomain calls to agents, by result",
      labelNames: ["result"],
      registers: [registry],
    }),
    eventsPublished: new Counter({
      name: "drover_events_published_total",
      help: "Outbox events published to NATS JetStream",
      registers: [registry],
    }),
    // Observed twice a beat (5,000 a second at 10,000 nodes): counted in arrays, exposed at scrape time.
    heartbeatSeconds: new StageHistogram<HeartbeatStage>(
      "drover_heartbeat_duration_seconds",
      "Heartbeats from arrival: stage record (until the beat is recorded, what liveness sees) and stage total (until answered, domain states reconciled)",
      ["record", "total"],
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10],
      registry,
    ),
    heartbeatStreams: new Gauge({
      name: "drover_heartbeat_streams",
      help: "StreamHeartbeats streams open on this replica (agents heartbeating on a stream; the others use Heartbeat calls)",
      registers: [registry],
    }),
    authRefusals: new Counter({
      name: "drover_auth_refusals_total",
      help: "Calls refused for the caller's identity: surface (node-registry, api) and reason (no-certificate, revoked, other-node, bad-token, missing-token, malformed-token, unknown-token, revoked-token, expired-token, permission-denied, …)",
      labelNames: ["surface", "reason"],
      registers: [registry],
    }),
    auditDenials: new Counter({
      name: "drover_audit_denials_total",
      help: "Refused API calls put in the audit trail (drover.audit.denied): record single (one event each) or folded (counted in a per-window event)",
      labelNames: ["record"],
      registers: [registry],
    }),
    vmsPurged: new Counter({
      name: "drover_vms_purged_total",
      help: "DELETED and FAILED VMs removed from the database by retention (DROVER_VM_RETENTION_MS)",
      registers: [registry],
    }),
  };
}

/** Serves GET /metrics; resolves with the bound address. */
export async function serveMetrics(registry: Registry, listen: string): Promise<{ server: Server; address: string }> {
  const { host, port } = splitHostPort(listen);
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- the handler catches its own errors
  const server = createServer(async (req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end("try /metrics\n");
      return;
    }
    try {
      const body = await registry.metrics();
      res.writeHead(200, { "content-type": registry.contentType }).end(body);
    } catch (err) {
      res.writeHead(500).end(String(err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  return { server, address: `${host}:${bound}` };
}

export function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(":");
  const port = Number(hostPort.slice(i + 1));
  if (i < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`"${hostPort}" is not host:port`);
  }
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ""), port };
}
