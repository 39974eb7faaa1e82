import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { startAgent, type RunningAgent } from "@drover/agent";
import { testHostUri } from "@drover/agent/testing";
import { VmState, type CreateVmsResponse } from "@drover/proto";
import { connect, type Sql } from "@drover/store";
import { claimLedger, createTestDatabase } from "@drover/store/testing";
import { listDomains } from "../support/agent-client.js";
import { apiClient, type ApiClient } from "../support/clients.js";
import { NATS_URL } from "../support/cluster.js";
import { startSchedulerProcess } from "../support/scheduler-process.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const NODES = 4; // 4 vCPUs and 4 GiB each, no overcommit: room for 16 one-vCPU VMs in all.
const REQUESTS = 240;
const GROUPED = 40; // of which in anti-affinity group "ha": at most NODES can succeed

// Two scheduler processes share one Postgres; hundreds of concurrent CreateVms
// race for tight capacity. Afterwards nothing may be overcommitted or doubled.
describe("two scheduler replicas under concurrent CreateVms", () => {
  let db: { url: string; drop(): Promise<void> };
  let sql: Sql;
  const replicas: Awaited<ReturnType<typeof startSchedulerProcess>>[] = [];
  let agents: RunningAgent[] = [];
  let clients: ApiClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = {
      DROVER_DATABASE_URL: db.url,
      DROVER_NATS_URL: NATS_URL,
      DROVER_CPU_ALLOCATION_RATIO: "1",
      DROVER_TICK_MS: "50",
      DROVER_CLAIM_RETRIES: "20",
    };
    // Started one after the other: the second also runs (and skips) the migrations.
    replicas.push(await startSchedulerProcess(env));
    replicas.push(await startSchedulerProcess(env));
    agents = await Promise.all(
      Array.from({ length: NODES }, (_, i) =>
        startAgent(
          {
            insecure: true,
            nodeName: `n${i}`,
            libvirtUri: testHostUri({ vcpus: 4, memoryMib: 4096 }),
            listen: "127.0.0.1:0",
            schedulerAddress: replicas[i % 2]!.address,
            heartbeatIntervalMs: 500,
            diskGib: 100,
          },
          { log: () => {} },
        ),
      ),
    );
    await Promise.all(agents.map((a) => a.registered()));
    clients = replicas.map((r) => apiClient(r.address));
    sql = connect(db.url);
  }, 120_000);

  afterAll(async () => {
    clients.forEach((c) => c.close());
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(replicas.map((r) => r.stop()));
    await sql?.end();
    await db?.drop();
  });

  it("never overcommits, never doubles a VM, keeps anti-affinity, and answers every request", async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: REQUESTS }, (_, i) =>
        clients[i % 2]!.createVms({
          template: vmSpec(`c${i}`, 1, 256),
          count: 1,
          policy: {
            strategy: i % 3 === 0 ? 2 : 1,
            constraints: [],
            antiAffinityGroup: i < GROUPED ? "ha" : "",
            affinityGroup: "",
            preferences: [],
            softAntiAffinityGroup: "",
          },
        }),
      ),
    );
    const ok = outcomes.filter((o): o is PromiseFulfilledResult<CreateVmsResponse> => o.status === "fulfilled").map((o) => o.value);
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected").map((o) => o.reason as ServiceError);

    // Every request got VMs or a clear error.
    expect(ok.length + failed.length).toBe(REQUESTS);
    for (const e of failed) {
      expect([status.RESOURCE_EXHAUSTED, status.ABORTED]).toContain(e.code);
      expect(e.details).toMatch(/^(can place 0 of 1 VMs|placement conflicted)/);
    }
    // Capacity is exactly used up: 16 slots, far more requests.
    const created = ok.flatMap((r) => r.vms);
    expect(created).toHaveLength(NODES * 4);
    expect(new Set(created.map((v) => v.id)).size).toBe(created.length);

    // Anti-affinity held across replicas.
    const ha = created.filter((v) => Number(v.spec!.name.slice(1)) < GROUPED);
    expect(ha.length).toBeGreaterThan(0);
    expect(ha.length).toBeLessThanOrEqual(NODES);
    expect(new Set(ha.map((v) => v.node)).size).toBe(ha.length);

    // The database agrees: claims per node within allocatable and equal to the claimed rows.
    const ledger = await claimLedger(sql);
    expect(ledger).toHaveLength(NODES);
    for (const n of ledger) {
      expect(n.allocated.vcpus).toBeLessThanOrEqual(4);
      expect(n.allocated).toEqual(n.claimed);
    }

    // Both replicas dispatch; each VM runs exactly once, on its own node.
    await waitFor("all VMs RUNNING", async () => {
      const vms = (await clients[0]!.listVms({ state: VmState.VM_STATE_RUNNING, pageSize: 1000 })).vms;
      return vms.length === created.length ? true : undefined;
    }, 60_000);
    const domains = (await Promise.all(agents.map(async (a) => (await listDomains(a.address)).map((d) => ({ vm: d.vmId, node: a.name }))))).flat();
    expect(domains.map((d) => d.vm).sort()).toEqual(created.map((v) => v.id).sort());
    for (const d of domains) expect(created.find((v) => v.id === d.vm)!.node).toBe(d.node);
  });
});
