import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { Role, VmState, type CreateVmsResponse } from "@drover/proto";
import { claimLedger } from "@drover/store/testing";
import { adminClients } from "../support/auth-clients.js";
import { listDomains } from "../support/agent-client.js";
import { apiClient, type ApiClient } from "../support/clients.js";
import { startReplicas, type Replicas } from "../support/replicas.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const NODES = 4; // 4 vCPUs and 4 GiB each, no overcommit: room for 16 one-vCPU VMs in all.
const REQUESTS = 240;
const GROUPED = 40; // of which in anti-affinity group "ha": at most NODES can succeed

// Two scheduler processes share one Postgres; hundreds of concurrent CreateVms
// race for tight capacity. Afterwards nothing may be overcommitted or doubled.
describe("two scheduler replicas under concurrent CreateVms", () => {
  let cluster: Replicas;
  beforeAll(async () => {
    cluster = await startReplicas(2, {
      DROVER_CPU_ALLOCATION_RATIO: "1",
      DROVER_TICK_MS: "50",
      DROVER_CLAIM_RETRIES: "20",
    }, Array.from({ length: NODES }, (_, i) => ({ name: `n${i}`, vcpus: 4, memoryMib: 4096, diskGib: 100 })), 500);
  }, 120_000);
  afterAll(() => cluster?.stop());

  it("never overcommits, never doubles a VM, keeps anti-affinity, and answers every request", async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: REQUESTS }, (_, i) =>
        cluster.clients[i % 2]!.createVms({
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
    const ledger = await claimLedger(cluster.sql);
    expect(ledger).toHaveLength(NODES);
    for (const n of ledger) {
      expect(n.allocated.vcpus).toBeLessThanOrEqual(4);
      expect(n.allocated).toEqual(n.claimed);
    }

    // Both replicas dispatch; each VM runs exactly once, on its own node.
    await waitFor("all VMs RUNNING", async () => {
      const vms = (await cluster.clients[0]!.listVms({ state: VmState.VM_STATE_RUNNING, pageSize: 1000 })).vms;
      return vms.length === created.length ? true : undefined;
    }, 60_000);
    const domains = (await Promise.all(cluster.agents.map(async (a) => (await listDomains(a.address)).map((d) => ({ vm: d.vmId, node: a.name }))))).flat();
    expect(domains.map((d) => d.vm).sort()).toEqual(created.map((v) => v.id).sort());
    for (const d of domains) expect(created.find((v) => v.id === d.vm)!.node).toBe(d.node);
  });
});

const QUOTA_VMS = 40;
const QUOTA_REQUESTS = 300;

// Two secure replicas (TLS, tokens) share one Postgres; a member token sends hundreds of
// concurrent CreateVms against its project's quota through both. The quota is taken in the
// claim's own statement, so the replicas cannot both admit the last slot.
describe("a project quota under two replicas and concurrent creates", () => {
  let cluster: Replicas;
  let members: ApiClient[] = [];

  beforeAll(async () => {
    cluster = await startReplicas(
      2,
      { DROVER_NATS_URL: "", DROVER_TICK_MS: "50", DROVER_CLAIM_RETRIES: "20" },
      Array.from({ length: 4 }, (_, i) => ({ name: `q${i}`, vcpus: 16, memoryMib: 65536, diskGib: 100 })),
      500,
      { secure: true },
    );
    const tls = cluster.tls!;
    const adminApi = adminClients(cluster.replicas[0]!.address, tls.credentials(), tls.adminToken);
    await adminApi.createProject("team", { vms: QUOTA_VMS });
    const { secret } = await adminApi.createToken(Role.ROLE_MEMBER, "team");
    adminApi.close();
    members = cluster.replicas.map((r) => apiClient(r.address, tls.credentials(), secret));
  }, 120_000);

  afterAll(async () => {
    members.forEach((c) => c.close());
    await cluster?.stop();
  });

  /** What the project's live VMs (not FAILED or DELETED) claim, counted from the rows. */
  const liveUsage = async () => {
    const [row] = await cluster.sql<{ vms: number; vcpus: number }[]>`
      SELECT count(*)::int AS vms, coalesce(sum((spec->>'vcpus')::int), 0)::int AS vcpus
      FROM vms WHERE project = 'team' AND state NOT IN ('FAILED', 'DELETED')`;
    return row!;
  };

  it("admits exactly the quota, refuses the rest naming the quota and usage, and deletes give it back", async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: QUOTA_REQUESTS }, (_, i) => members[i % 2]!.createVms({ template: vmSpec(`t${i}`, 1, 256), count: 1 })),
    );
    const created = outcomes.flatMap((o) => (o.status === "fulfilled" ? o.value.vms : []));
    const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as ServiceError] : []));
    expect(created).toHaveLength(QUOTA_VMS);
    expect(refused).toHaveLength(QUOTA_REQUESTS - QUOTA_VMS);
    for (const e of refused) {
      expect(e.code, e.details).toBe(status.RESOURCE_EXHAUSTED);
      expect(e.details).toBe(`project team quota vms exceeded: ${QUOTA_VMS} used + 1 requested > ${QUOTA_VMS} allowed`);
    }
    expect(new Set(created.map((v) => v.id)).size).toBe(QUOTA_VMS);
    const adminApi = adminClients(cluster.replicas[1]!.address, cluster.tls!.credentials(), cluster.tls!.adminToken);
    try {
      const project = await adminApi.getProject("team");
      expect(project.usedVms).toBe(QUOTA_VMS);
      expect(await liveUsage()).toEqual({ vms: project.usedVms, vcpus: project.used!.vcpus });
      // Once they run (a delete during dispatch waits out the dispatcher's lease), deletes through
      // both replicas give the quota back, down to nothing.
      await waitFor("the admitted VMs RUNNING", async () => ((await liveUsage()).vms === QUOTA_VMS && (await members[0]!.listVms({ state: VmState.VM_STATE_RUNNING, pageSize: 1000 })).vms.length === QUOTA_VMS ? true : undefined), 90_000);
      await Promise.all(created.map((v, i) => members[i % 2]!.deleteVm(v.id)));
      await waitFor("usage released", async () => {
        const p = await adminApi.getProject("team");
        if (p.usedVms === 0) return true;
        throw new Error(`used ${p.usedVms}; VMs by state ${JSON.stringify(await cluster.sql`SELECT state, count(*)::int, min(reason) FROM vms WHERE project = 'team' GROUP BY state`)}`);
      }, 90_000);
      expect((await adminApi.getProject("team")).used).toEqual({ vcpus: 0, memoryMib: 0, diskGib: 0 });
      expect(await liveUsage()).toEqual({ vms: 0, vcpus: 0 });
      // And the quota admits again.
      expect((await members[0]!.createVms({ template: vmSpec("again", 1, 256), count: 1 })).vms).toHaveLength(1);
    } finally {
      adminApi.close();
    }
  }, 240_000);
});
