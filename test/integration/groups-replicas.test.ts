import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import type { CreateVmsRequest, CreateVmsResponse } from "@drover/proto";
import { groupMembersByNode, readGroupMembers } from "@drover/store";
import { expectClaimsMatchVms } from "../faults/invariants.js";
import { startReplicas, type Replicas } from "../support/replicas.js";
import { policy, vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const REPLICAS = 3;
const NODES = 12;
// No overcommit, and room on one node for every VM asked below (about 430), so only the groups
// refuse: with 64 vCPUs, two packed affinity groups filled a node and an anti-affinity group then
// found no room there (a loaded CI run).
const NODE_VCPUS = 512;
const ANTI = ["anti-0", "anti-1", "anti-2", "anti-3"];
const AFFINITY = ["aff-0", "aff-1", "aff-2", "aff-3", "aff-4", "aff-5"];

/**
 * Request i of 600, all in flight at once across the replicas: hard anti-affinity singles (60 per
 * group for 12 nodes), a few anti-affinity pairs, affinity singles and pairs (one node per group),
 * grouped requests with an idempotency key (the transaction path), and plain requests.
 */
function request(i: number): Partial<CreateVmsRequest> {
  const name = `g${i}`;
  const key = i % 10 === 9 ? { idempotencyKey: `k${i}` } : {};
  switch (i % 5) {
    case 0:
    case 1:
      return { template: vmSpec(name, 1, 64), count: i % 20 === 0 ? 2 : 1, policy: policy({ antiAffinityGroup: ANTI[i % ANTI.length]! }), ...key };
    case 2:
    case 3:
      return { template: vmSpec(name, 1, 64), count: i % 15 === 2 ? 2 : 1, policy: policy({ affinityGroup: AFFINITY[i % AFFINITY.length]!, strategy: i % 2 ? 1 : 2 }), ...key };
    default:
      return { template: vmSpec(name, 1, 64), count: 1, ...key };
  }
}

// Three scheduler processes on one Postgres take hundreds of concurrent grouped creates. The
// groups are checked in each claim's statement (no group lock), so this is where a race between
// replicas would show: two members of an anti-affinity group on one node, or an affinity group
// on two nodes.
describe("(anti-)affinity groups under 3 replicas and hundreds of concurrent creates", () => {
  let cluster: Replicas;
  beforeAll(async () => {
    cluster = await startReplicas(REPLICAS, {
      DROVER_CPU_ALLOCATION_RATIO: "1",
      DROVER_TICK_MS: "100",
      DROVER_CLAIM_RETRIES: "30",
      // Three replicas on a Postgres other suites share: a small pool each.
      DROVER_DATABASE_POOL_SIZE: "6",
    }, Array.from({ length: NODES }, (_, i) => ({ name: `n${String(i).padStart(2, "0")}`, vcpus: NODE_VCPUS, memoryMib: NODE_VCPUS * 128, diskGib: 100 })), 1000);
  }, 120_000);
  afterAll(() => cluster?.stop());

  /** Claimed members per group and node, from the VM rows themselves. */
  const membersByGroup = async (groups: string[]) => {
    const rows = await groupMembersByNode(cluster.sql, groups);
    const by = new Map<string, Map<string, number>>(groups.map((g) => [g, new Map()]));
    for (const r of rows) by.get(r.group)!.set(r.node, r.count);
    return by;
  };

  /** group_members (what the statements check) agrees with the VM rows. */
  const expectGroupRowsMatchVms = async () => {
    const groups = [...ANTI, ...AFFINITY];
    const fromVms = (await groupMembersByNode(cluster.sql, groups)).map((r) => `${r.group}@${r.node}=${r.count}`).sort();
    const kept = (await readGroupMembers(cluster.sql, groups)).map((r) => `${r.group}@${r.node}=${r.members}`).sort();
    expect(kept).toEqual(fromVms);
    const spans = await cluster.sql<{ name: string; nodes: number; actual: number }[]>`
      SELECT p.name, p.nodes, (SELECT count(*)::int FROM group_members m WHERE m.group_name = p.name AND m.members > 0) AS actual
      FROM placement_groups p`;
    for (const s of spans) expect(s.nodes, `nodes of ${s.name}`).toBe(s.actual);
  };

  it("keeps every group, answers every request, and keeps claims and group rows equal to the VM rows", async () => {
    const REQUESTS = 600;
    const outcomes = await Promise.allSettled(Array.from({ length: REQUESTS }, (_, i) => cluster.clients[i % REPLICAS]!.createVms(request(i))));
    const ok = outcomes.filter((o): o is PromiseFulfilledResult<CreateVmsResponse> => o.status === "fulfilled").map((o) => o.value);
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected").map((o) => o.reason as ServiceError);
    expect(ok.length + failed.length).toBe(REQUESTS);
    for (const e of failed) {
      expect([status.RESOURCE_EXHAUSTED, status.ABORTED], e.details).toContain(e.code);
      expect(e.details).toMatch(/^(can place \d of \d VMs|placement conflicted)/);
    }
    // Plain requests always fit: only groups refuse here.
    const plain = outcomes.filter((o, i) => i % 5 === 4 && o.status === "fulfilled").length;
    expect(plain).toBe(REQUESTS / 5);

    // Anti-affinity: at most one member per node, and the 60 requests per group filled every node.
    for (const [g, nodes] of await membersByGroup(ANTI)) {
      expect([...nodes.values()].filter((n) => n > 1), `${g}: nodes with two members`).toEqual([]);
      const why = outcomes.flatMap((o, i) => (o.status === "rejected" && request(i).policy?.antiAffinityGroup === g ? [`${i}: ${(o.reason as ServiceError).details}`] : []));
      expect(nodes.size, `${g} on every node; refused: ${why.join(" | ")}`).toBe(NODES);
    }
    // Affinity: each group's members on one node.
    for (const [g, nodes] of await membersByGroup(AFFINITY)) expect(nodes.size, `${g}: nodes`).toBe(1);
    // The answers agree with the rows (no VM reported that was not committed).
    const created = ok.flatMap((r) => r.vms);
    expect(new Set(created.map((v) => v.id)).size).toBe(created.length);
    const [claimed] = await cluster.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE claimed`;
    expect(claimed!.n).toBe(created.length);

    await expectClaimsMatchVms(cluster.sql);
    await expectGroupRowsMatchVms();

    // Deleting members (through every replica) gives their nodes back to their groups: the next
    // anti-affinity creates take exactly the freed nodes, and a deleted affinity group starts afresh.
    // Deleted at once, many while still being dispatched, often by another replica than the one
    // dispatching them: the dispatcher holding a VM's lease deletes it when its EnsureDomain returns
    // (a wait for the lease, two minutes, would take the wait below past its bound).
    const anti0 = created.filter((v) => v.policy?.antiAffinityGroup === "anti-0").slice(0, 5);
    const aff0 = created.filter((v) => v.policy?.affinityGroup === "aff-0");
    await Promise.all([...anti0, ...aff0].map((v, i) => cluster.clients[i % REPLICAS]!.deleteVm(v.id)));
    await waitFor("deleted members released", async () => {
      const m = await membersByGroup(["anti-0", "aff-0"]);
      return m.get("anti-0")!.size === NODES - anti0.length && m.get("aff-0")!.size === 0 ? true : undefined;
    }, 90_000);
    await expectGroupRowsMatchVms();
    const again = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        cluster.clients[i % REPLICAS]!.createVms(
          i % 2 === 0
            ? { template: vmSpec(`again${i}`, 1, 64), count: 1, policy: policy({ antiAffinityGroup: "anti-0" }) }
            : { template: vmSpec(`again${i}`, 1, 64), count: 1, policy: policy({ affinityGroup: "aff-0" }) },
        ),
      ),
    );
    const anti = again.filter((o, i) => i % 2 === 0 && o.status === "fulfilled").length;
    expect(anti).toBe(anti0.length);
    const m = await membersByGroup(["anti-0", "aff-0"]);
    expect(m.get("anti-0")!.size).toBe(NODES);
    expect([...m.get("anti-0")!.values()].every((c) => c === 1)).toBe(true);
    expect(m.get("aff-0")!.size).toBe(1);
    await expectClaimsMatchVms(cluster.sql);
    await expectGroupRowsMatchVms();
  }, 300_000);
});
