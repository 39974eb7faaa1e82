// What per-row JSON costs the VM insert: 2,500 rows into vms (indexes and triggers as migrated),
// each variant's Postgres CPU (the backend's /proc schedstat) as the median of --reps inserts,
// the table emptied and vacuumed between them. The variants differ only in the spec and
// explanation columns:
//   jsonb-per-row   the explanation parsed from one JSON array into a jsonb per row, and the spec a
//                   jsonb built per row with the row's name (scheduledVmsInsert before migration 042)
//   json-text       the explanation as json (the text of each element), the spec one shared jsonb (after)
//   none            no explanation, the shared spec (the floor)
//   node --import tsx benchmarks/vm-row-json.ts [--reps=12] [--rows=2500]
import { readFileSync } from "node:fs";
import { upsertNode } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase } from "@drover/store/testing";
import { newVmId } from "../packages/scheduler/src/create/vm-id.js";
import { median, table } from "./common.js";
import { numberFlag } from "./flags.js";

const REPS = numberFlag("reps", 12);
const ROWS = numberFlag("rows", 2500);
const db = await openTestDatabase();
const sql = db.sql;
try {
  for (let i = 0; i < 1000; i += 50) {
    await Promise.all(
      Array.from({ length: 50 }, (_, k) =>
        upsertNode(sql, { name: `host-${String(i + k).padStart(5, "0")}`, address: "127.0.0.1:1", vcpus: 64, memoryMib: 262144, diskGib: 100000, labels: {} }, EXACT_CAPACITY),
      ),
    );
  }
  const c = await sql.reserve();
  const [row] = await c<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
  const pid = row!.pid;
  const cpuMs = () => Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
  const node = (i: number) => `host-${String(i % 1000).padStart(5, "0")}`;
  const spec = JSON.stringify({ vcpus: 1, diskGib: 20, memoryMib: 1024, restartPolicy: "on-crash" });
  const explanations = (n: number) =>
    `[${Array.from({ length: n }, (_, i) => JSON.stringify({ node: node(i), totalScore: 98.73046875 + i / 1e4, scores: { spread: 98.73046875 + i / 1e4 }, feasibleNodes: 1000, evaluatedNodes: 64 })).join(",")}]`;
  const columns = (ids: string[]) => [ids, ids.map((_, i) => `bulk-${i}`), ids.map((_, i) => node(i))] as const;
  const variants: Record<string, (ids: string[]) => Promise<unknown>> = {
    "jsonb-per-row": (ids) => {
      const [id, name, at] = columns(ids);
      return c`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, claimed, state, placement, project)
        SELECT t.id, t.name, ${spec}::text::jsonb || jsonb_build_object('name', t.name), '{}', 1, 1024, 20, t.node, true, 'SCHEDULED', t.p, 'default'
        FROM ROWS FROM (unnest(${id}::uuid[], ${name}::text[], ${at}::text[]), jsonb_array_elements(${explanations(ids.length)}::text::jsonb)) AS t(id, name, node, p)`;
    },
    "json-text": (ids) => {
      const [id, name, at] = columns(ids);
      return c`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, claimed, state, explanation, project)
        SELECT t.id, t.name, ${spec}::text::jsonb, '{}', 1, 1024, 20, t.node, true, 'SCHEDULED', t.p, 'default'
        FROM ROWS FROM (unnest(${id}::uuid[], ${name}::text[], ${at}::text[]), json_array_elements(${explanations(ids.length)}::text::json)) AS t(id, name, node, p)`;
    },
    none: (ids) => {
      const [id, name, at] = columns(ids);
      return c`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, claimed, state, project)
        SELECT t.id, t.name, ${spec}::text::jsonb, '{}', 1, 1024, 20, t.node, true, 'SCHEDULED', 'default'
        FROM unnest(${id}::uuid[], ${name}::text[], ${at}::text[]) AS t(id, name, node)`;
    },
  };
  const order = ["jsonb-per-row", "json-text", "none", "none", "json-text", "jsonb-per-row"];
  const ms = new Map<string, number[]>();
  for (const v of order) {
    for (let r = 0; r < REPS; r++) {
      const ids = Array.from({ length: ROWS }, () => newVmId());
      const t = cpuMs();
      await variants[v]!(ids);
      (ms.get(v) ?? ms.set(v, []).get(v)!).push(cpuMs() - t);
      await c`DELETE FROM vms`;
      await c`DELETE FROM vm_changes`;
      await sql`VACUUM vms`;
    }
  }
  c.release();
  console.log(`node ${process.version}; ${ROWS} rows an insert, median of ${REPS * 2} inserts a variant (run in the order ${order.join(", ")})`);
  console.log(
    table(
      ["variant", "Postgres CPU ms", "µs per row"],
      Object.keys(variants).map((v) => {
        const m = median(ms.get(v)!);
        return [v, m.toFixed(1), ((m * 1000) / ROWS).toFixed(1)];
      }),
    ),
  );
} finally {
  await db.close();
}
