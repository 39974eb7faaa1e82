import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "./db.js";
import { upsertNode } from "./nodes.js";
import { insertProject } from "./projects.js";
import { EXACT_CAPACITY, openTestDatabase } from "./testing.js";

const noQuota = { vcpus: null, memoryMib: null, diskGib: null, vms: null };

/** The Postgres error code a query failed with, or "ok". */
async function code(q: Promise<unknown>): Promise<string> {
  return q.then(
    () => "ok",
    (err: { code?: string; message?: string }) => err.code ?? `no code: ${err.message}`,
  );
}

// vms.node and vms.project lost their foreign keys (migration 024: checked once per statement,
// not per row); no VM row may still point at a node or project that is not there.
describe("VM rows never refer to a missing node or project", () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  let sql: Sql;
  const insertVm = (s: Sql, node: string | null, project = "default") =>
    s`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, state, project)
      VALUES (${randomUUID()}, 'r', '{}', '{}', 1, 1, 0, ${node}, 'PENDING', ${project})`;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["kept", "free", "raced", "gone"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
    await insertProject(sql, "p", noQuota);
    await insertProject(sql, "empty", noQuota);
    await insertVm(sql, "kept", "p");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("refuses an insert or an update naming a node or project that does not exist", async () => {
    expect(await code(insertVm(sql, "nowhere"))).toBe("23503");
    expect(await code(insertVm(sql, "kept", "nobody"))).toBe("23503");
    // One bad row among good ones fails the whole statement.
    expect(
      await code(sql`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, state)
        SELECT gen_random_uuid(), 'r', '{}', '{}', 1, 1, 0, n, 'PENDING' FROM unnest(ARRAY['kept', 'free', 'nowhere']) AS n`),
    ).toBe("23503");
    expect(await code(sql`UPDATE vms SET node = 'nowhere' WHERE node = 'kept'`)).toBe("23503");
    expect(await code(sql`UPDATE vms SET project = 'nobody' WHERE node = 'kept'`)).toBe("23503");
    expect(await code(insertVm(sql, null))).toBe("ok");
    const [n] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE node = 'kept' AND project = 'p'`;
    expect(n!.n).toBe(1);
  });

  it("refuses to delete or rename a node or project a VM still refers to, and allows it otherwise", async () => {
    expect(await code(sql`DELETE FROM nodes WHERE name = 'kept'`)).toBe("23503");
    expect(await code(sql`UPDATE nodes SET name = 'renamed' WHERE name = 'kept'`)).toBe("23503");
    expect(await code(sql`DELETE FROM projects WHERE name = 'p'`)).toBe("23503");
    expect(await code(sql`UPDATE projects SET name = 'q' WHERE name = 'p'`)).toBe("23503");
    expect(await code(sql`UPDATE nodes SET address = '127.0.0.1:2' WHERE name = 'kept'`)).toBe("ok");
    expect(await code(sql`DELETE FROM nodes WHERE name = 'free'`)).toBe("ok");
    expect(await code(sql`DELETE FROM projects WHERE name = 'empty'`)).toBe("ok");
  });

  it("makes a delete of a node wait for an uncommitted VM on it, then refuses it", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let inserted!: () => void;
    const didInsert = new Promise<void>((r) => (inserted = r));
    const tx = sql.begin(async (t) => {
      await insertVm(t as unknown as Sql, "raced");
      inserted();
      await held;
    });
    await didInsert;
    const whileOpen = await code(
      sql.begin(async (t) => {
        await t`SET LOCAL lock_timeout = '300ms'`;
        await t`DELETE FROM nodes WHERE name = 'raced'`;
      }),
    );
    expect(whileOpen).toBe("55P03"); // it waited on the inserting transaction's lock
    release();
    await tx;
    expect(await code(sql`DELETE FROM nodes WHERE name = 'raced'`)).toBe("23503");
  });

  it("makes an insert onto a node being deleted wait, then refuses it", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let deleted!: () => void;
    const didDelete = new Promise<void>((r) => (deleted = r));
    const tx = sql.begin(async (t) => {
      await t`DELETE FROM nodes WHERE name = 'gone'`;
      deleted();
      await held;
    });
    await didDelete;
    const whileOpen = await code(
      sql.begin(async (t) => {
        await t`SET LOCAL lock_timeout = '300ms'`;
        await insertVm(t as unknown as Sql, "gone");
      }),
    );
    expect(whileOpen).toBe("55P03");
    release();
    await tx;
    expect(await code(insertVm(sql, "gone"))).toBe("23503");
  });
});
