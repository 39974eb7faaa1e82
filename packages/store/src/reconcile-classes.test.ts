import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcileNeeds, upsertNode, type DomainReportRow, type Sql, type Tx } from "./index.js";
import { EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "./testing.js";

const RULES = { limit: 2, backoffMs: 1000, maxBackoffMs: 300_000, windowMs: 600_000 };
const GRACE_MS = 10_000;
/** The states migration 035's VM change count treats as one: a move among them bumps no count. */
const WAITING = ["PENDING", "SCHEDULED", "PROVISIONING"];

// Migration 035 does not count a VM's move among PENDING, SCHEDULED and PROVISIONING (a dispatch
// lease) as a change to its node's VMs, so the heartbeat fast path may skip the node's reconcile
// after one. That holds only while the reconcile (reconcileNeeds, which the reconcile-needs tests
// hold to the writes it stands for) answers alike for the three, whatever the report: here, every
// report a node can send of such a VM.
describe("the heartbeat reconcile on real Postgres: PENDING, SCHEDULED and PROVISIONING alike", () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["n1", "n2"]) await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 4, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
  });
  afterAll(async () => {
    await db?.close();
  });

  /** reconcileNeeds of n1's report, with one VM in `state` (rolled back after). */
  const needsWith = async (state: string, node: string, policy: string, updatedAgoMs: number, report: (id: string) => Parameters<typeof reconcileNeeds>[1]) => {
    let needs: unknown;
    const undo = new Error("rolled back");
    await sql
      .begin(async (tx: Tx) => {
        const id = randomUUID();
        await tx`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, state, report_generation, updated_at, interfaces)
          VALUES (${id}, 'v', ${tx.json({ restartPolicy: policy })}, '{}', 1, 128, 0, ${node}, ${state}, 2,
            now() - make_interval(secs => ${updatedAgoMs / 1000}), '[{"mac": "52:54:00:00:00:01", "addresses": []}]')`;
        // The VM's id in the answer differs from case to case: compare what it says of it.
        const n = await reconcileNeeds(tx, report(id), RULES, GRACE_MS);
        needs = { ...n, strays: n.strays.map((s) => (s === id ? "the VM" : s)) };
        throw undo;
      })
      .catch((err: unknown) => {
        if (err !== undo) throw err;
      });
    return needs;
  };

  it("answers alike for a VM in each of them, for every report of it", async () => {
    const nic = { mac: "52:54:00:00:00:01", addresses: ["192.168.213.57/24"] };
    let cases = 0;
    for (const reported of ["none", "running", "shutoff", "paused", "crashed"] as const)
      for (const generation of [1, 2])
        for (const nics of [undefined, [], [nic]])
          for (const policy of ["on-crash", "always", "never"])
            for (const node of ["n1", "n2"])
              for (const updatedAgoMs of [0, GRACE_MS * 2]) {
                const report = (id: string) => {
                  const domains: DomainReportRow[] = reported === "none" ? [] : [{ vmId: id, state: reported, generation, reason: "" }];
                  return { node: "n1", domains, interfaces: nics ? [{ vmId: id, interfaces: nics }] : [], reportedVmIds: reported === "none" ? [] : [id] };
                };
                const answers: unknown[] = [];
                for (const state of WAITING) answers.push(await needsWith(state, node, policy, updatedAgoMs, report));
                const what = { reported, generation, nics, policy, node, updatedAgoMs };
                expect(answers.map((a) => ({ ...what, needs: a }))).toEqual(WAITING.map(() => ({ ...what, needs: answers[0] })));
                cases++;
              }
    expect(cases).toBe(360);
  }, 60_000);

  it("would answer otherwise for a RUNNING VM (the comparison can fail)", async () => {
    const report = (id: string) => ({ node: "n1", domains: [{ vmId: id, state: "shutoff" as const, generation: 2, reason: "" }], interfaces: [], reportedVmIds: [id] });
    expect(await needsWith("RUNNING", "n1", "on-crash", 0, report)).not.toEqual(await needsWith("SCHEDULED", "n1", "on-crash", 0, report));
  });
});
