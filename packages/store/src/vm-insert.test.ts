import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitPlacements, insertProject, insertScheduledVms, upsertNode, type NewVm, type Sql } from "./index.js";
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

  it("writes each row's own id, name, spec (named after the row), policy, sizes, node, placement, request, project and groups", async () => {
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
      SELECT id, name, spec, policy, vcpus, memory_mib, disk_gib, node, placement, request_id, project, groups, state, claimed FROM vms WHERE id = ANY(${vms.map((v) => v.id)}::uuid[])`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(rows).toHaveLength(vms.length);
    for (const v of vms) {
      expect(byId.get(v.id)).toEqual({
        id: v.id, name: v.name, spec: { ...(v.spec as object), name: v.name }, policy: v.policy, vcpus: v.vcpus,
        memory_mib: v.memoryMib, disk_gib: v.diskGib, node: v.node, placement: v.placement,
        request_id: v.requestId, project: v.project, groups: v.groups ?? ["dflt"], state: "SCHEDULED", claimed: true,
      });
    }
  });

  it("commits a bulk whose VMs share one spec object through commitPlacements", async () => {
    const spec = { name: "bulk", vcpus: 1 };
    const requestId = randomUUID();
    const vms: NewVm[] = Array.from({ length: 3000 }, (_, i) => ({
      id: randomUUID(), name: `bulk-${i + 1}`, spec, policy: {}, requestId, vcpus: 1, memoryMib: 1, diskGib: 0,
      node: i % 2 ? "n1" : "n,2", placement: { i }, project: "default",
    }));
    await commitPlacements(sql, placedVms(vms));
    const rows = await sql<{ name: string; spec: { name: string }; placement: { i: number } }[]>`
      SELECT name, spec, placement FROM vms WHERE request_id = ${requestId} ORDER BY (placement->>'i')::int`;
    expect(rows.map((r) => [r.name, r.spec.name, r.placement.i])).toEqual(vms.map((v, i) => [v.name, v.name, i]));
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
