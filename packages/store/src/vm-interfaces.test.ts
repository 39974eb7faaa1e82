import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordVmInterfaces, upsertNode, type Sql } from "./index.js";
import { EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "./testing.js";

describe("recordVmInterfaces on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;
  const vmId = randomUUID();
  const events = async () =>
    (await sql<{ payload: { vmId: string; reason: string } }[]>`SELECT payload FROM outbox WHERE subject = 'drover.vm.address_changed' ORDER BY id`).map((r) => r.payload);

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["n1", "n2"]) await sql.begin((tx) => upsertNode(tx, { name, address: "127.0.0.1:1", vcpus: 4, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY));
    await sql`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, state)
      VALUES (${vmId}, 'nic', '{}', '{}', 1, 128, 0, 'n1', 'RUNNING')`;
  });
  afterAll(async () => {
    await db?.close();
  });

  it("stores a change with one address_changed event, and nothing when the addresses stay", async () => {
    const nic = { mac: "52:54:00:00:00:01", addresses: ["192.168.213.57/24"] };
    expect(await recordVmInterfaces(sql, "n1", [{ vmId, interfaces: [nic] }])).toBe(1);
    expect(await recordVmInterfaces(sql, "n1", [{ vmId, interfaces: [nic] }])).toBe(0);
    expect((await sql<{ interfaces: unknown }[]>`SELECT interfaces FROM vms WHERE id = ${vmId}`)[0]!.interfaces).toEqual([nic]);
    expect(await recordVmInterfaces(sql, "n1", [{ vmId, interfaces: [] }])).toBe(1);
    expect(await events()).toMatchObject([
      { vmId, reason: "52:54:00:00:00:01 192.168.213.57/24" },
      { vmId, reason: "no address" },
    ]);
  });

  it("leaves a VM on another node alone", async () => {
    expect(await recordVmInterfaces(sql, "n2", [{ vmId, interfaces: [{ mac: "52:54:00:00:00:09", addresses: [] }] }])).toBe(0);
  });
});
