import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitPlacements, getVms, insertProject, insertScheduledVms, rescheduleVm, takeDueProvisioning, upsertNode, type NewVm, type Sql } from "./index.js";
import { EXACT_CAPACITY, openTestDatabase, placedVms } from "./testing.js";
import { plainArrayLiteral, textArrayLiteral } from "./array-literal.js";

const noQuota = { vcpus: null, memoryMib: null, diskGib: null, vms: null };
// Names an array literal must quote (and one it must not take for NULL).
const AWKWARD = ["a,b", 'q"uote', "back\\slash", "sp ace", "{brace}", "NULL", "null", "", "ünï"];

// The bulk insert sends what VMs share once per kind and the rest as hand-built array literals
// (vms.ts, array-literal.ts): every row must still hold exactly what its NewVm says.
describe("scheduledVmsInsert", () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["n1", "n,2"]) await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 4096, memoryMib: 1 << 20, diskGib: 1000, labels: {} }, EXACT_CAPACITY);
    await insertProject(sql, "p 2", noQuota);
  });
  afterAll(async () => {
    await db?.close();
  });

  it("writes each row's own id, name, spec (named after the row as read), policy, sizes, node, placement, request, project and groups", async () => {
    const shared = { name: "template", vcpus: 2, labels: { a: "x,y" } };
    const policy = { strategy: "PLACEMENT_STRATEGY_PACK" };
    const r1 = randomUUID();
    const r2 = randomUUID();
    const vms: NewVm[] = [
      ...AWKWARD.map((name, i) => ({
        id: randomUUID(), name, spec: shared, policy, requestId: r1, vcpus: 2, memoryMib: 512, diskGib: 3,
        node: i % 2 ? "n1" : "n,2", placement: { node: "n1", totalScore: 0.5, scores: { spread: i } }, project: "default",
      })),
      // Other kinds: own spec object, other policy, request, project, sizes, groups; no placement, no request.
      { id: randomUUID(), name: "solo", spec: { name: "solo", image: 'i"m' }, policy: {}, requestId: r2, vcpus: 1, memoryMib: 1, diskGib: 0, node: "n1", placement: null, project: "p 2", groups: ["g1", "g2"] },
      { id: randomUUID(), name: "bare", spec: { name: "bare" }, policy: {}, requestId: null, vcpus: 4, memoryMib: 8, diskGib: 16, node: "n,2", placement: null, project: "default" },
    ];
    await sql.begin((tx) => insertScheduledVms(tx, ["dflt"], vms));
    const rows = await sql<{ id: string; name: string; spec: unknown; policy: unknown; vcpus: number; memory_mib: number; disk_gib: number; node: string; placement: unknown; request_id: string | null; project: string; groups: string[]; state: string; claimed: boolean }[]>`
      SELECT id, name, spec, policy, vcpus, memory_mib, disk_gib, node, explanation AS placement, request_id, project, groups, state, claimed FROM vms WHERE id = ANY(${vms.map((v) => v.id)}::uuid[])`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(rows).toHaveLength(vms.length);
    for (const v of vms) {
      // Stored without the name (the row's name column holds it); read with it.
      const unnamed = { ...(v.spec as Record<string, unknown>) };
      delete unnamed.name;
      expect(byId.get(v.id)).toEqual({
        id: v.id, name: v.name, spec: unnamed, policy: v.policy, vcpus: v.vcpus,
        memory_mib: v.memoryMib, disk_gib: v.diskGib, node: v.node, placement: v.placement,
        request_id: v.requestId, project: v.project, groups: v.groups ?? ["dflt"], state: "SCHEDULED", claimed: true,
      });
    }
    const read = await getVms(sql, vms.map((v) => v.id));
    expect(new Map(read.map((r) => [r.id, r.spec]))).toEqual(new Map(vms.map((v) => [v.id, { ...(v.spec as object), name: v.name }])));
  });

  it("commits a bulk whose VMs share one spec object through commitPlacements", async () => {
    const spec = { name: "bulk", vcpus: 1 };
    const requestId = randomUUID();
    const vms: NewVm[] = Array.from({ length: 3000 }, (_, i) => ({
      id: randomUUID(), name: `bulk-${i + 1}`, spec, policy: {}, requestId, vcpus: 1, memoryMib: 1, diskGib: 0,
      node: i % 2 ? "n1" : "n,2", placement: { i }, project: "default",
    }));
    await commitPlacements(sql, placedVms(vms));
    const [row] = await sql<{ ids: string[] }[]>`SELECT array_agg(id ORDER BY (explanation->>'i')::int) AS ids FROM vms WHERE request_id = ${requestId}`;
    const ids = row!.ids;
    const byId = new Map((await getVms(sql, ids)).map((r) => [r.id, r]));
    const read = ids.map((id: string) => byId.get(id)!);
    expect(read.map((r) => [r.name, (r.spec as { name: string }).name, (r.placement as { i: number }).i])).toEqual(vms.map((v, i) => [v.name, v.name, i]));
  });

  it("gives the dispatcher each VM's spec with its name (the row stores it without)", async () => {
    const vm: NewVm = { id: randomUUID(), name: "to-dispatch", spec: { name: "template", vcpus: 1 }, policy: {}, requestId: null, vcpus: 1, memoryMib: 1, diskGib: 0, node: "n1", placement: null, project: "default" };
    await sql.begin((tx) => insertScheduledVms(tx, [], [vm]));
    await sql`UPDATE vms SET due_at = now() - interval '1 hour' WHERE id = ${vm.id}`;
    const taken = (await takeDueProvisioning(sql, 10_000, 60_000)).find((d) => d.id === vm.id);
    expect(taken?.spec).toEqual({ name: "to-dispatch", vcpus: 1 });
  });

  it("reads a row from before (spec with its name, jsonb explanation) as it did", async () => {
    const id = randomUUID();
    const spec = { name: "before", vcpus: 1, labels: { a: "b" } };
    await sql`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, claimed, state, placement, project)
      VALUES (${id}, 'before', ${sql.json(spec)}, '{}', 1, 1, 0, 'n1', true, 'SCHEDULED', ${sql.json({ node: "n1" })}, 'default')`;
    const [vm] = await getVms(sql, [id]);
    expect(vm!.spec).toEqual(spec);
    expect(vm!.placement).toEqual({ node: "n1" });
  });

  it("keeps each VM's explanation as json, and reads rows from before migration 042 (jsonb placement) the same", async () => {
    const explanation = { node: "n1", totalScore: 98.73046875, scores: { spread: 98.73046875, pack: 1.5 }, feasibleNodes: 2, evaluatedNodes: 2 };
    const fresh: NewVm = { id: randomUUID(), name: "fresh", spec: { name: "fresh" }, policy: {}, requestId: null, vcpus: 1, memoryMib: 1, diskGib: 0, node: "n1", placement: explanation, project: "default" };
    await sql.begin((tx) => insertScheduledVms(tx, [], [fresh]));
    const [kinds] = await sql<{ explanation: string; placement: string }[]>`
      SELECT pg_typeof(explanation)::text AS explanation, coalesce(placement::text, 'NULL') AS placement FROM vms WHERE id = ${fresh.id}`;
    expect(kinds).toEqual({ explanation: "json", placement: "NULL" });
    // A row as an earlier version wrote it.
    const old = randomUUID();
    await sql`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, claimed, state, placement, project)
      VALUES (${old}, 'old', '{"name": "old"}', '{}', 1, 1, 0, 'n1', true, 'SCHEDULED', ${sql.json(explanation)}, 'default')`;
    const [a, b] = await getVms(sql, [fresh.id, old]);
    expect(a!.placement).toEqual(explanation);
    expect(b!.placement).toEqual(explanation);
    // Placed again: the explanation moves to the json column.
    await sql`UPDATE vms SET state = 'PROVISIONING' WHERE id = ${old}`;
    const moved = { ...explanation, node: "n,2" };
    await rescheduleVm(sql, old, { node: "n,2", placement: moved, failedNode: "n1", reason: "again" });
    const [c] = await getVms(sql, [old]);
    expect(c!.placement).toEqual(moved);
    const [row] = await sql<{ placement: unknown }[]>`SELECT placement FROM vms WHERE id = ${old}`;
    expect(row!.placement).toBeNull();
  });

  it("builds array literals Postgres reads back as the same values", async () => {
    const texts = [...AWKWARD, null, "plain-1.x:y@z+"];
    // As JSON, so the driver's own array parsing plays no part.
    const [row] = await sql<{ t: string; n: string }[]>`
      SELECT array_to_json(${textArrayLiteral(texts)}::text::text[])::text AS t, array_to_json(${plainArrayLiteral([1, -2, 30])}::text::int[])::text AS n`;
    expect(JSON.parse(row!.t)).toEqual(texts);
    expect(JSON.parse(row!.n)).toEqual([1, -2, 30]);
  });
});
