import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import type { CreateVmsRequest } from "@drover/proto";
import { claimLedger } from "@drover/store/testing";
import { startReplicas, type Replicas } from "../support/replicas.js";
import { policy, vmSpec } from "../support/requests.js";

const NODES = 8; // 8 vCPUs each, no overcommit: 64 one-vCPU slots
const REPLICAS = 3;
const CLIENTS = 200;
const GROUPS = ["ha-a", "ha-b", "ha-c"];

/** Request i: plain singles, SPREAD bulks that claim on many nodes at once, and anti-affinity members. */
function request(i: number): Partial<CreateVmsRequest> {
  const name = `c${i}`;
  if (i % 5 === 0) return { template: vmSpec(name, 1, 64), count: 1, policy: policy({ antiAffinityGroup: GROUPS[i % GROUPS.length]! }) };
  if (i % 5 === 1 || i % 5 === 2) return { template: vmSpec(name, 1, 64), count: 6, minCount: 2, policy: policy({ strategy: 1 }) };
  return { template: vmSpec(name, 1, 64), count: 1, policy: policy({ strategy: i % 2 === 0 ? 1 : 2 }) };
}

// Three scheduler processes race 200 concurrent clients for tight capacity, with bulks that
// claim on several nodes in one statement: the pattern that deadlocked when the claim UPDATE
// locked node rows in whatever order its plan produced them.
describe("claims under 3 replicas × 200 concurrent clients", () => {
  let cluster: Replicas;
  beforeAll(async () => {
    cluster = await startReplicas(REPLICAS, {
      DROVER_CPU_ALLOCATION_RATIO: "1",
      DROVER_TICK_MS: "200",
      DROVER_CLAIM_RETRIES: "20",
    }, Array.from({ length: NODES }, (_, i) => ({ name: `n${i}`, vcpus: 8, memoryMib: 8192, diskGib: 100 })), 1000);
  }, 120_000);
  afterAll(() => cluster?.stop());

  /** Deadlocks Postgres detected in this test's database so far (its statistics flush within about a second). */
  const deadlocks = async () => {
    const [row] = await cluster.sql<{ n: number }[]>`SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()`;
    return row!.n;
  };

  it("answers every request with VMs or RESOURCE_EXHAUSTED/ABORTED, never deadlocks, and keeps the invariants", async () => {
    const deadlocksBefore = await deadlocks();
    const outcomes = await Promise.allSettled(Array.from({ length: CLIENTS }, (_, i) => cluster.clients[i % REPLICAS]!.createVms(request(i))));
    const created = outcomes.flatMap((o) => (o.status === "fulfilled" ? o.value.vms : []));
    const failures = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as ServiceError] : []));

    const unexpected = failures.filter((e) => e.code !== status.RESOURCE_EXHAUSTED && e.code !== status.ABORTED);
    // An INTERNAL names only an error id: show the replica's log line for it.
    const logged = (e: ServiceError) => cluster.replicas.map((r) => r.output()).join("").split("\n").find((l) => /id ([0-9a-f]{12})/.exec(e.details) && l.includes(/id ([0-9a-f]{12})/.exec(e.details)![1]!));
    expect(unexpected.map((e) => `${status[e.code]}: ${e.details} ${logged(e) ?? ""}`)).toEqual([]);
    for (const e of failures) expect(e.details).toMatch(/^(can place \d+ of \d+ VMs|placement conflicted)/);
    expect(created.length).toBeGreaterThan(0);

    // No VM placed twice.
    expect(new Set(created.map((v) => v.id)).size).toBe(created.length);
    // Anti-affinity held: at most one member of a group per node.
    for (const g of GROUPS) {
      const members = created.filter((v) => v.policy?.antiAffinityGroup === g);
      expect(new Set(members.map((v) => v.node)).size, g).toBe(members.length);
    }
    // Every node's claims equal the sum of its claimed VM rows and stay within allocatable (8).
    const ledger = await claimLedger(cluster.sql);
    expect(ledger).toHaveLength(NODES);
    for (const n of ledger) {
      expect(n.allocated.vcpus).toBeLessThanOrEqual(8);
      expect(n.allocated).toEqual(n.claimed);
    }

    // Postgres saw no deadlock at all (retried ones would hide from the clients, not from it).
    await new Promise((r) => setTimeout(r, 1500));
    expect(await deadlocks()).toBe(deadlocksBefore);
  }, 180_000);
});
