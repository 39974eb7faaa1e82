import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, foldVmChanges, markRunningCounted, migrate, recordHeartbeats, startEmbeddedPostgres, takeDueProvisioning, transitionVm, upsertNode, type Sql } from "./index.js";
import { commitTestVm, createTestDatabase, EXACT_CAPACITY } from "./testing.js";

// The per-node VM change count (migration 027) on real Postgres and on embedded Postgres (PGlite),
// which serves the same migrations in the one-machine mode.
describe.each([
  ["Postgres", async () => createTestDatabase()],
  ["embedded Postgres", async () => {
    const e = await startEmbeddedPostgres();
    return { url: e.url, drop: () => e.stop() };
  }],
])("the VM change count on %s", (_, open) => {
  let db: { url: string; drop(): Promise<void> };
  let sql: Sql;
  let seq = 0;

  /** The count each node's heartbeat reads now. */
  const counts = async () => {
    const beats = await recordHeartbeats(sql, ["a", "b"].map((name) => ({ name, bootId: "", seq: ++seq })));
    return { a: Number(beats.get("a")!.vmChanges), b: Number(beats.get("b")!.vmChanges) };
  };

  beforeAll(async () => {
    db = await open();
    sql = connect(db.url, { max: 1 });
    await migrate(sql);
    for (const name of ["a", "b"]) await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
  }, 60_000);
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it("moves with every statement that writes a node's VMs, on both nodes of a VM moved, and not with a fold", async () => {
    const start = await counts();
    const id = await commitTestVm(sql, "a");
    // Inserted waiting for its domain (SCHEDULED): nothing its node's reconcile acts on (migration 038).
    const created = await counts();
    expect(created).toEqual(start);
    // A statement that matches no row changes nothing.
    await transitionVm(sql, id, ["RUNNING"], "STOPPED");
    expect(await counts()).toEqual(created);
    await transitionVm(sql, id, ["SCHEDULED"], "RUNNING");
    const ran = await counts();
    expect(ran.a).toBe(created.a + 1);
    // Inserted in another state, it counts.
    await sql`INSERT INTO vms SELECT (jsonb_populate_record(NULL::vms, to_jsonb(v) || jsonb_build_object('id', gen_random_uuid(), 'name', 'copy'))).* FROM vms v WHERE id = ${id}`;
    expect((await counts()).a).toBe(ran.a + 1);
    await sql`DELETE FROM vms WHERE name = 'copy'`;
    expect((await counts()).a).toBe(ran.a + 2);
    // Folded, the count stays what it was.
    const copied = await counts();
    expect(await foldVmChanges(sql)).toBeGreaterThan(0);
    expect(await counts()).toEqual(copied);
    await sql`UPDATE vms SET node = 'b' WHERE id = ${id}`;
    const moved = await counts();
    expect(moved).toEqual({ a: copied.a + 1, b: copied.b + 1 });
    await sql`DELETE FROM vms WHERE id = ${id}`;
    expect((await counts()).b).toBe(moved.b + 1);
  });

  // Migration 035: the count moves with what a heartbeat's reconcile reads of the rows, not with
  // every write (027 counted each statement that updated a row of the node).
  it("moves only with a change the reconcile reads: not with a lease, a deadline or a value set again", async () => {
    const id = await commitTestVm(sql, "a");
    const created = await counts();
    // The dispatch lease: SCHEDULED to PROVISIONING, attempts, lease_until, updated_at.
    expect((await takeDueProvisioning(sql, 10, 60_000)).map((v) => v.id)).toContain(id);
    expect(await counts()).toEqual(created);
    // A deletion's lease (due_at, lease_until, updated_at), a claim released, a column set to its value.
    await sql`UPDATE vms SET due_at = now(), lease_until = now(), updated_at = now(), claimed = false WHERE id = ${id}`;
    await sql`UPDATE vms SET state = state, node = node, reason = reason WHERE id = ${id}`;
    expect(await counts()).toEqual(created);
    // What the reconcile reads does move it, once per VM row.
    await transitionVm(sql, id, ["PROVISIONING"], "RUNNING");
    const ran = await counts();
    expect(ran).toEqual({ a: created.a + 1, b: created.b });
    for (const change of [
      () => sql`UPDATE vms SET reason = 'why' WHERE id = ${id}`,
      () => sql`UPDATE vms SET report_generation = report_generation + 1 WHERE id = ${id}`,
      () => sql`UPDATE vms SET interfaces = '[{"mac": "52:54:00:00:00:01", "addresses": []}]' WHERE id = ${id}`,
      () => sql`UPDATE vms SET spec = spec || '{"restartPolicy": "never"}' WHERE id = ${id}`,
      () => sql`UPDATE vms SET crash_count = crash_count + 1, crashes_since = now() WHERE id = ${id}`,
    ]) {
      const before = await counts();
      await change();
      expect(await counts()).toEqual({ a: before.a + 1, b: before.b });
    }
  });
  // The heartbeat fast path after a replica's own RUNNING mark (scheduler liveness/report-memo.ts)
  // predicts the count from what the mark says: its statement's count, plus one a VM it marked.
  it("is, after a RUNNING mark, the count its statement read plus one a VM it marked on the node", async () => {
    const ids = [await commitTestVm(sql, "a"), await commitTestVm(sql, "a"), await commitTestVm(sql, "b")];
    await takeDueProvisioning(sql, 10, 60_000);
    const before = await counts();
    const { deleting, marked } = await markRunningCounted(sql, ids.map((id, i) => ({ id, generation: 10 + i })));
    expect(deleting).toEqual([]);
    const after = await counts();
    const on = new Map(marked.map((m) => [m.node, m]));
    expect(Number(on.get("a")!.countBefore)).toBe(before.a);
    expect(Number(on.get("b")!.countBefore)).toBe(before.b);
    expect(after).toEqual({ a: before.a + on.get("a")!.vms.length, b: before.b + on.get("b")!.vms.length });
    expect(on.get("a")!.vms.map((v) => v.generation).sort()).toEqual([10, 11]);
    expect(on.get("b")!.vms).toEqual([{ id: ids[2], generation: 12, interfaces: [] }]);
    // Marked again: nothing is PROVISIONING, nothing marked.
    expect((await markRunningCounted(sql, ids.map((id) => ({ id, generation: 20 })))).marked).toEqual([]);
  });
});
