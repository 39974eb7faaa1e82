import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitPlacements, markRunning, sequenceEvents, takeDueProvisioning, upsertNode, type Sql } from "./index.js";
import { EXACT_CAPACITY, openTestDatabase, outboxEvents, placedRequest } from "./testing.js";

// The dispatcher leases and marks RUNNING many VMs a statement: each statement writes one fan-out
// outbox row per state, reason and project (event-sql.ts), and readers still get one event per VM.
describe("events of the dispatcher's batches on real Postgres", () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  let sql: Sql;
  const placed = placedRequest(Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? "da" : "db")), 1);
  const ids = placed.vms.map((v) => v.id);

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["da", "db"]) await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 64, memoryMib: 65_536, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    await commitPlacements(sql, placed);
    const leased = await takeDueProvisioning(sql, 100, 60_000);
    expect(leased).toHaveLength(ids.length);
    expect(await markRunning(sql, leased.map((v) => ({ id: v.id, generation: 1 })))).toEqual([]);
    while ((await sequenceEvents(sql)) > 0);
  });
  afterAll(async () => {
    await db?.close();
  });

  it("writes one outbox row per statement for the lease and for RUNNING", async () => {
    const rows = await sql<{ subject: string; n: number }[]>`
      SELECT subject, count(*)::int AS n FROM outbox WHERE subject LIKE 'drover.vm.%' GROUP BY subject ORDER BY subject`;
    expect(rows).toEqual([
      { subject: "drover.vm.provisioning", n: 1 },
      { subject: "drover.vm.running", n: 1 },
      { subject: "drover.vm.scheduled", n: 1 },
    ]);
  });

  it("gives every VM its scheduled, provisioning and running events, in that order, each as a row of its own would", async () => {
    const events = (await outboxEvents(sql)).filter((e) => e.subject.startsWith("drover.vm."));
    expect(events).toHaveLength(3 * ids.length);
    const [vm] = await sql<{ node: string; project: string; reason: string }[]>`SELECT node, project, reason FROM vms WHERE id = ${ids[3]!}`;
    for (const id of ids) {
      const own = events.filter((e) => e.payload.vmId === id);
      expect(own.map((e) => e.subject)).toEqual(["drover.vm.scheduled", "drover.vm.provisioning", "drover.vm.running"]);
      expect(own.map((e) => e.seq!)).toEqual([...own.map((e) => e.seq!)].sort((a, b) => a - b));
    }
    const running = events.find((e) => e.payload.vmId === ids[3] && e.subject === "drover.vm.running")!;
    expect(running.payload).toEqual({
      subject: "drover.vm.running",
      type: "vm.running",
      vmId: ids[3],
      node: vm!.node,
      vmState: "VM_STATE_RUNNING",
      reason: vm!.reason,
      project: vm!.project,
      time: expect.any(String),
    });
  });
});
