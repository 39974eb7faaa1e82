// The Postgres side alone of a bulk create's VM rows (issue 13), on 1,000 nodes, the backend's CPU
// from /proc/<pid>/schedstat, variants interleaved (their order reversed every other round):
// - insert: the rows' INSERT ... SELECT (vms.ts scheduledVmsInsert), in a transaction rolled back;
// - copy: the same rows by COPY FROM STDIN (text format), likewise;
// - `_v7`: with ids in creation order (create/vm-id.ts) instead of random v4 UUIDs;
// - `_noidx`: without the four secondary indexes a SCHEDULED row enters (dropped inside the transaction);
// - `_notrig`: without the statement triggers (024's reference check, 027's change count);
// - commit_insert(_v7): the whole commitPlacements statement, committed (cleaned up untimed), and
//   this process's CPU for it.
//   node --import tsx benchmarks/bulk-insert-pg.ts [--vms=10000] [--rounds=5] [--only=insert,insert_v7,...]
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { commitPlacements, connect, scheduledVmsInsert, upsertNode, type NewVm } from "@drover/store";
import { openTestDatabase, placedVms } from "@drover/store/testing";
import { median } from "./common.js";
import { flag, numberFlag } from "./flags.js";

const VMS = numberFlag("vms", 10_000, { positive: true });
const ROUNDS = numberFlag("rounds", 5, { positive: true });
const db = await openTestDatabase();
const sql = db.sql;
const defaults = { cpuRatio: 1, memoryRatio: 1, diskRatio: 1, reservedVcpus: 0, reservedMemoryMib: 0, reservedDiskGib: 0 };
for (let i = 0; i < 1000; i++) await upsertNode(sql, { name: `host-${String(i).padStart(5, "0")}`, address: "127.0.0.1:1", vcpus: 64, memoryMib: 262144, diskGib: 100000, labels: { zone: "a" } }, defaults);
const spec = { name: "bulk", vcpus: 1, memoryMib: 1024, diskGib: 20, image: "" };
const policy = { strategy: "PLACEMENT_STRATEGY_SPREAD" };
/** A time-ordered id (UUIDv7 layout): 48 bits of milliseconds, then a counter, then random bits. */
let seq = 0;
function orderedId(): string {
  const hex = Date.now().toString(16).padStart(12, "0") + "7" + (seq++ & 0xfff).toString(16).padStart(3, "0") + randomUUID().replace(/-/g, "").slice(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${"8" + hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
let ordered = false;
function rows(): NewVm[] {
  const req = randomUUID();
  return Array.from({ length: VMS }, (_, i) => {
    const node = `host-${String(i % 1000).padStart(5, "0")}`;
    return { id: ordered ? orderedId() : randomUUID(), name: `bulk-${i + 1}`, spec, policy, requestId: req, vcpus: 1, memoryMib: 1024, diskGib: 20, node, project: "default",
      placement: { node, totalScore: 98.4375, scores: { spread: 98.4375 }, feasibleNodes: 64, evaluatedNodes: 64 } };
  });
}
/** The rows as COPY text, as scheduledVmsInsert would write them (no value here needs COPY's escapes). */
function copyText(vms: NewVm[]): string {
  const specHead = `${JSON.stringify(spec).slice(0, -1)},"name":`;
  const policyText = JSON.stringify(policy);
  let out = "";
  for (const v of vms) {
    out += `${v.id}\t${v.name}\t${specHead}${JSON.stringify(v.name)}}\t${policyText}\t${v.vcpus}\t${v.memoryMib}\t${v.diskGib}\t{}\t${v.node}\tt\tSCHEDULED\t${JSON.stringify(v.placement)}\t${v.requestId}\t${v.project}\n`;
  }
  return out;
}
const cpuNs = (p: number) => Number(readFileSync(`/proc/${p}/schedstat`, "utf8").split(" ")[0]);
class Rollback extends Error {}
async function measure(name: string, run: (tx: any, vms: NewVm[], text: string) => Promise<unknown>): Promise<number> {
  ordered = name.endsWith("_v7");
  const vms = rows();
  const text = copyText(vms);
  let ms = 0;
  try {
    await sql.begin(async (tx) => {
      const p = (await tx<{ p: number }[]>`SELECT pg_backend_pid() AS p`)[0]!.p;
      await tx`SELECT 1 FROM vms LIMIT 1`; // warm catalog
      if (name.endsWith("_noidx")) await dropIdx(tx);
      if (name.endsWith("_notrig")) await tx`ALTER TABLE vms DISABLE TRIGGER USER`;
      const a = cpuNs(p);
      await run(tx, vms, text);
      ms = (cpuNs(p) - a) / 1e6;
      throw new Rollback();
    });
  } catch (e) {
    if (!(e instanceof Rollback)) throw e;
  }
  await sql`VACUUM vms`;
  return ms;
}
const cols = "id, name, spec, policy, vcpus, memory_mib, disk_gib, groups, node, claimed, state, placement, request_id, project";
const variants: Record<string, (tx: any, vms: NewVm[], text: string) => Promise<unknown>> = {
  insert: (tx, vms) => tx`WITH v AS (${scheduledVmsInsert(tx, [], vms)}) SELECT count(*) FROM v`,
  copy: async (tx, _vms, text) => {
    const w = await tx.unsafe(`COPY vms (${cols}) FROM STDIN`).writable();
    await new Promise<void>((res, rej) => { w.on("error", rej); w.on("finish", res); w.end(text); });
  },
  insert_v7: (tx, vms) => variants.insert!(tx, vms, ""),
  insert_noidx: (tx, vms) => variants.insert!(tx, vms, ""),
  copy_noidx: (tx, vms, text) => variants.copy!(tx, vms, text),
  copy_v7: (tx, vms, text) => variants.copy!(tx, vms, text),
  insert_notrig: (tx, vms) => variants.insert!(tx, vms, ""),
  copy_notrig: (tx, vms, text) => variants.copy!(tx, vms, text),
};
async function dropIdx(tx: any) {
  await tx`DROP INDEX vms_created_idx, vms_project_created_idx, vms_node_state_idx, vms_due_idx`;
}
// Whole commits (commitPlacements' one statement, committed, then cleaned up untimed) on a pool of one connection.
const one = connect(db.url, { max: 1 });
const onePid = (await one<{ p: number }[]>`SELECT pg_backend_pid() AS p`)[0]!.p;
const nodeCpu: Record<string, number[]> = {};
async function measureCommit(name: string): Promise<number> {
  ordered = name.endsWith("_v7");
  const vms = rows();
  const placed = placedVms(vms);
  const c0 = process.cpuUsage();
  const a = cpuNs(onePid);
  await commitPlacements(one, placed);
  const ms = (cpuNs(onePid) - a) / 1e6;
  const c = process.cpuUsage(c0);
  (nodeCpu[name] ??= []).push((c.user + c.system) / 1000);
  await one`DELETE FROM vms`;
  await one`DELETE FROM outbox`;
  await one`DELETE FROM create_requests`;
  await one`DELETE FROM vm_changes`;
  await one`UPDATE nodes SET alloc_vcpus = 0, alloc_memory_mib = 0, alloc_disk_gib = 0`;
  await one`UPDATE projects SET used_vcpus = 0, used_memory_mib = 0, used_disk_gib = 0, used_vms = 0`;
  await one`VACUUM vms`;
  return ms;
}
variants.commit_insert = () => Promise.resolve();
variants.commit_insert_v7 = () => Promise.resolve();
const extra = flag("only") ?? "";
const results: Record<string, number[]> = {};
for (let r = 0; r < 1 + ROUNDS; r++) {
  for (const [name, run] of r % 2 ? Object.entries(variants).reverse() : Object.entries(variants)) {
    if (extra && !extra.split(",").includes(name)) continue;
    const ms = name.startsWith("commit_") ? await measureCommit(name) : await measure(name, run);
    if (r > 0) (results[name] ??= []).push(ms);
    console.error(`round ${r} ${name}: ${ms.toFixed(1)} ms`);
  }
}
for (const [name, xs] of Object.entries(results)) console.log(`${name}: Postgres median ${median(xs).toFixed(1)} ms (${xs.map((x) => x.toFixed(0)).join(", ")})`);
for (const [name, xs] of Object.entries(nodeCpu)) console.log(`${name}: this process median ${median(xs.slice(1)).toFixed(1)} ms (${xs.slice(1).map((x) => x.toFixed(0)).join(", ")})`);
await one.end();
await db.close();
