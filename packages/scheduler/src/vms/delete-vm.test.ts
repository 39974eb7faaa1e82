// A delete and a dispatch finishing at the same instant, on real Postgres: each statement waits
// for the other's row lock, and whichever it sees, the deletion is due at once once nobody
// dispatches the VM (not when the old dispatch lease runs out, two minutes on).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { markRunning, transitionVm, upsertNode, type Sql } from "@drover/store";
import { commitTestVm, EXACT_CAPACITY, openTestDatabase } from "@drover/store/testing";
import { deleteVm } from "./delete-vm.js";

describe("deleteVm against a dispatch that is just finishing", () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    await upsertNode(sql, { name: "n", address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
  });
  afterAll(async () => db?.close());

  /** A VM being dispatched: PROVISIONING under a lease of two minutes. */
  const dispatching = async () => {
    const id = await commitTestVm(sql, "n");
    await sql`UPDATE vms SET state = 'PROVISIONING', lease_until = now() + interval '2 minutes' WHERE id = ${id}`;
    return id;
  };
  /** Until some statement of this database waits for a row lock. */
  const blocked = async () => {
    for (let i = 0; i < 600; i++) {
      const [r] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
      if (r!.n > 0) return;
      await new Promise((done) => setTimeout(done, 50));
    }
    throw new Error("no statement came to wait for the VM's row lock within 30 s");
  };
  const dueInSeconds = async (id: string) => {
    const [r] = await sql<{ s: number }[]>`SELECT extract(epoch FROM due_at - now())::float8 AS s FROM vms WHERE id = ${id}`;
    return r!.s;
  };

  it("a VM read PROVISIONING but RUNNING when the delete's update gets its row is due now", async () => {
    const id = await dispatching();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // The dispatcher's RUNNING mark, not yet committed: deleteVm reads the PROVISIONING row and its lease.
    const marking = sql.begin(async (tx) => {
      await markRunning(tx, [{ id, generation: 1 }]);
      await held;
    });
    await new Promise((r) => setTimeout(r, 50));
    const deleting = deleteVm({ sql, wakeDeletions: () => {} }, id);
    await blocked();
    release();
    await marking;
    expect((await deleting).state).toBe("DELETING");
    expect(await dueInSeconds(id)).toBeLessThan(5);
  });

  it("a delete committed while the RUNNING mark waited for the row is reported to the dispatcher", async () => {
    const id = await dispatching();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const deleted = sql.begin(async (tx) => {
      await transitionVm(tx, id, ["PROVISIONING"], "DELETING", { dueAt: "after-dispatch" });
      await held;
    });
    await new Promise((r) => setTimeout(r, 50));
    const marked = markRunning(sql, [{ id, generation: 1 }]);
    await blocked();
    release();
    await deleted;
    // The dispatcher finishes the delete itself only if told; the queue would wait for the lease.
    expect(await marked).toEqual([id]);
    expect(await dueInSeconds(id)).toBeGreaterThan(60);
  });
});
