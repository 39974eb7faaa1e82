// The scheduler's bulk CreateVms path on real Postgres, without gRPC, the fleet or the dispatcher:
// validation, placement on the node cache, rows, the commit, the response's encoding (as the server
// does it: the bytes the create path encoded ahead, if it did).
// It reports the call's wall time, this process's CPU time and the CPU time of the Postgres
// backends that served it (from /proc/<pid>/schedstat, backend-cpu.ts: both hold on a loaded machine, where wall time does not);
// the API benchmark (api.ts, scenario a) measures the whole call through gRPC.
//   node --import tsx benchmarks/bulk-create.ts [--hosts=1000] [--vms=10000] [--rounds=5]
// Each round places --vms VMs of 1 vCPU / 1 GiB / 20 GiB with spread on --hosts READY nodes of
// 64 vCPUs / 256 GiB, then deletes them again (not timed). Reports the median round.
// After the call (not in its figures) it does the relay's Postgres side for the call's events:
// sequencing them and reading them out for NATS in the relay's batches of 500, and reports the
// Postgres CPU of that too ("relay Postgres CPU").
import { CreateVmsRequest, CreateVmsResponse, VmSpec } from "@drover/proto";
import { defaultConfig } from "@drover/scheduler";
import { markPublished, sequenceEvents, unpublishedEvents, upsertNode } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase } from "@drover/store/testing";
import { validateCreate } from "../packages/scheduler/src/api/validation.js";
import { encodedAhead } from "../packages/scheduler/src/api/encoded-ahead.js";
import { createVms } from "../packages/scheduler/src/create/create-vms.js";
import { GroupCache } from "../packages/scheduler/src/create/group-cache.js";
import { NodeCache } from "../packages/scheduler/src/create/node-cache.js";
import { placementOptionsFor } from "../packages/scheduler/src/create/placement-options.js";
import { createMetrics } from "../packages/scheduler/src/metrics.js";
import { backendsCpuNs, backendsMsSince } from "./backend-cpu.js";
import { median, table } from "./common.js";
import { numberFlag } from "./flags.js";

const HOSTS = numberFlag("hosts", 1000);
const VMS = numberFlag("vms", 10000);
const ROUNDS = numberFlag("rounds", 5);

const db = await openTestDatabase();
const sql = db.sql;
try {
  for (let i = 0; i < HOSTS; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, HOSTS - i) }, (_, k) =>
        upsertNode(sql, { name: `host-${String(i + k).padStart(5, "0")}`, address: "127.0.0.1:1", vcpus: 64, memoryMib: 262144, diskGib: 100000, labels: { zone: "a" } }, EXACT_CAPACITY),
      ),
    );
  }
  const config = { ...defaultConfig, databaseUrl: "unused" };
  const deps = {
    sql,
    metrics: createMetrics(sql),
    claimRetries: config.claimRetries,
    placementOptions: placementOptionsFor(config),
    nodes: new NodeCache(sql, config.snapshotTtlMs),
    groups: new GroupCache(sql, config.snapshotTtlMs * 10),
    onScheduled: () => {},
  };
  const template = VmSpec.fromPartial({ name: "bulk", vcpus: 1, memoryMib: 1024, diskGib: 20, image: "" });
  const rows: { wall: number; cpu: number; pg: number; encode: number; relayPg: number }[] = [];
  for (let r = 0; r < 1 + ROUNDS; r++) {
    const raw = CreateVmsRequest.fromPartial({ template: { ...template, name: `bulk-${r}` }, count: VMS });
    const pg0 = await backendsCpuNs(sql);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const valid = validateCreate(raw, config.defaultStrategy);
    const res = await createVms(deps, raw, { ...valid, project: "default" });
    const t1 = performance.now();
    // As the server does (checked-service.ts): bytes encoded ahead, if the create path encoded them.
    const bytes = (encodedAhead(res) ?? CreateVmsResponse.encode(res).finish()).length;
    const t2 = performance.now();
    const cpu = process.cpuUsage(c0);
    const pg = backendsMsSince(pg0, await backendsCpuNs(sql));
    if (res.vms.length !== VMS) throw new Error(`${res.vms.length} of ${VMS} placed: ${res.unplacedReason}`);
    const relay0 = await backendsCpuNs(sql);
    while ((await sequenceEvents(sql)) > 0);
    let events = 0;
    for (let batch = await unpublishedEvents(sql, 500); batch.length > 0; batch = await unpublishedEvents(sql, 500)) {
      events += batch.length;
      await markPublished(sql, batch.at(-1)!.seq);
    }
    const relayPg = backendsMsSince(relay0, await backendsCpuNs(sql));
    if (events < VMS) throw new Error(`${events} events for ${VMS} VMs`);
    if (r > 0) rows.push({ wall: t2 - t0, cpu: (cpu.user + cpu.system) / 1000, pg, encode: t2 - t1, relayPg });
    console.error(`round ${r}: ${(t2 - t0).toFixed(0)} ms (encode ${(t2 - t1).toFixed(0)} ms, ${(bytes / 1e6).toFixed(1)} MB), process CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, Postgres CPU ${pg.toFixed(0)} ms; relay Postgres CPU ${relayPg.toFixed(0)} ms for ${events} events`);
    // Not timed: give the room back for the next round.
    await sql`DELETE FROM outbox`;
    await sql`DELETE FROM vms`;
    await sql`DELETE FROM create_requests`;
    await sql`UPDATE nodes SET alloc_vcpus = 0, alloc_memory_mib = 0, alloc_disk_gib = 0`;
    await sql`UPDATE projects SET used_vcpus = 0, used_memory_mib = 0, used_disk_gib = 0, used_vms = 0`;
    deps.nodes.invalidate();
  }
  const wall = median(rows.map((x) => x.wall));
  const cpu = median(rows.map((x) => x.cpu));
  const encode = median(rows.map((x) => x.encode));
  const pg = median(rows.map((x) => x.pg));
  const relayPg = median(rows.map((x) => x.relayPg));
  console.log(`node ${process.version}; ${HOSTS} hosts, ${VMS} VMs per call, median of ${ROUNDS} rounds after one warm-up`);
  console.log(
    table(
      ["VMs", "wall ms", "placements/s (wall)", "scheduler-side CPU ms", "Postgres CPU ms", "placements per CPU-second", "encode ms (wall)", "relay Postgres CPU ms"],
      [[VMS, wall.toFixed(0), (VMS / (wall / 1000)).toFixed(0), cpu.toFixed(0), pg.toFixed(0), (VMS / ((cpu + pg) / 1000)).toFixed(0), encode.toFixed(0), relayPg.toFixed(0)]],
    ),
  );
} finally {
  await db.close();
}
