// The RUNNING group commit on real Postgres: marks that come in while a statement is in flight
// share the next one, whatever event-loop turn they come in on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, upsertNode, type Sql } from "@drover/store";
import { commitTestVm, openTestDatabase } from "@drover/store/testing";
import { RunningMarker } from "./running-marker.js";

describe("RunningMarker", () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  let sql: Sql;
  let counted: Sql;
  let marks = 0;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    counted = connect(db.url, { debug: (query) => void (query.includes("SET state = 'RUNNING'") && marks++) });
    const ratios = { cpuRatio: 1, memoryRatio: 1, diskRatio: 1, reservedVcpus: 0, reservedMemoryMib: 0, reservedDiskGib: 0 };
    await upsertNode(sql, { name: "n", address: "127.0.0.1:1", vcpus: 64, memoryMib: 65536, diskGib: 10, labels: {} }, ratios);
  });
  afterAll(async () => {
    await counted?.end();
    await db?.close();
  });

  const provisioning = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await commitTestVm(sql, "n"));
    await sql`UPDATE vms SET state = 'PROVISIONING', lease_until = now() + interval '2 minutes' WHERE id = ANY(${ids}::uuid[])`;
    return ids;
  };

  it("marks arriving one per event-loop turn during a statement go together in the next one", async () => {
    const ids = await provisioning(21);
    const marker = new RunningMarker(counted);
    marks = 0;
    const first = marker.mark(ids[0]!, 1);
    // The first statement is sent on the next turn; the others come in one per turn after it.
    const rest: Promise<boolean>[] = [];
    for (const id of ids.slice(1)) {
      await new Promise((r) => setImmediate(r));
      rest.push(marker.mark(id, 1));
    }
    expect(await first).toBe(false);
    expect(await Promise.all(rest)).toEqual(ids.slice(1).map(() => false));
    const states = await sql<{ state: string }[]>`SELECT state FROM vms WHERE id = ANY(${ids}::uuid[])`;
    expect(states.map((s) => s.state)).toEqual(ids.map(() => "RUNNING"));
    // One statement for the first mark, and at most a few for the 20 that came while it ran.
    expect(marks).toBeLessThanOrEqual(4);
  });

  it("a VM deleted during its dispatch is answered true, and a failed statement fails only its batch", async () => {
    const [deleted, kept] = await provisioning(2);
    await sql`UPDATE vms SET state = 'DELETING' WHERE id = ${deleted!}`;
    const marker = new RunningMarker(counted);
    expect(await Promise.all([marker.mark(deleted!), marker.mark(kept!)])).toEqual([true, false]);
    await expect(marker.mark("not-a-uuid")).rejects.toThrow();
    const [again] = await provisioning(1);
    expect(await marker.mark(again!)).toBe(false);
  });
});
