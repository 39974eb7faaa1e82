// CPU per single create through the scheduler's own create path (CreateBatcher: placed on the
// node and group caches, committed in the one statement that makes the claims and checks the
// groups), on real Postgres, without gRPC, authentication, the fleet's heartbeats or dispatch:
// what a grouped create costs the scheduler and Postgres, measured where a loaded machine moves
// only the wall clock. This process's CPU (process.cpuUsage: its main thread, postgres.js, GC)
// and the CPU of the Postgres backends serving its database (schedstat), per create.
//   node --import tsx benchmarks/group-creates.ts [--hosts=5000] [--creates=3000] [--concurrency=32] [--rounds=3] [--cases=none,anti,affinity]
// Cases: no group; hard anti-affinity, 10 groups, each starting with a member on 20% of the nodes
// (1,000 at 5,000 nodes, as in group-decision.ts); affinity, a group of its own per request.
// Run the same file in a tree of another commit (it imports that tree's sources) to compare.
import { readFileSync } from "node:fs";
import { CreateVmsRequest, PlacementPolicy } from "@drover/proto";
import { defaultConfig } from "@drover/scheduler";
import { connect, migrate } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { validateCreate } from "../packages/scheduler/src/api/validation.js";
import { CreateBatcher } from "../packages/scheduler/src/create/batcher.js";
import { GroupCache } from "../packages/scheduler/src/create/group-cache.js";
import { NodeCache } from "../packages/scheduler/src/create/node-cache.js";
import { placementOptionsFor } from "../packages/scheduler/src/create/placement-options.js";
import { createMetrics } from "../packages/scheduler/src/metrics.js";
import { vmSpec } from "../test/support/requests.js";
import { median, prng, table } from "./common.js";
import { backendsCpuNs, backendsMsSince } from "./backend-cpu.js";
import { insertBenchHosts } from "./bench-hosts.js";
import { flag, numberFlag } from "./flags.js";

const HOSTS = numberFlag("hosts", 5000);
const CREATES = numberFlag("creates", 3000);
const CONCURRENCY = numberFlag("concurrency", 32);
const ROUNDS = numberFlag("rounds", 3);
const ONLY = (flag("cases") ?? "none,anti,affinity").split(",");

type Kind = "none" | "anti" | "affinity";
const CASES: { kind: Kind; groups: number; words: string }[] = [
  { kind: "none", groups: 0, words: "no group" },
  { kind: "anti", groups: 10, words: "hard anti-affinity, 10 groups (1 member on 20% of the nodes each at start)" },
  { kind: "affinity", groups: 0, words: "affinity, own group" },
];


function policy(kind: Kind, name: string): PlacementPolicy | undefined {
  if (kind === "none") return undefined;
  return PlacementPolicy.fromPartial(kind === "anti" ? { antiAffinityGroup: name } : { affinityGroup: name });
}

const db = await createTestDatabase();
const sql = connect(db.url);
try {
  await migrate(sql);
  const names = await insertBenchHosts(sql, HOSTS);
  await sql`INSERT INTO node_heartbeats (name) SELECT name FROM nodes`;
  const config = { ...defaultConfig };
  const metrics = createMetrics(sql);
  const deps = {
    sql,
    metrics,
    claimRetries: config.claimRetries,
    placementOptions: placementOptionsFor(config),
    nodes: new NodeCache(sql, config.snapshotTtlMs),
    groups: new GroupCache(sql, config.snapshotTtlMs * 10),
    onScheduled: () => {},
  };
  const batcher = new CreateBatcher(deps);

  const round = async (c: (typeof CASES)[number], r: number) => {
    const tag = `${c.kind}-r${r}`;
    if (c.kind === "anti") {
      // Each group starts with 1,000 members (at 5,000 nodes) on random nodes, as rows the claim statement and group cache read.
      const rnd = prng(11 + r);
      const g: string[] = [];
      const n: string[] = [];
      for (let k = 0; k < c.groups; k++) {
        for (const name of names) {
          if (rnd() >= 0.2) continue;
          g.push(`${tag}-${k}`);
          n.push(name);
        }
      }
      await sql`INSERT INTO group_members (group_name, node, members) SELECT * FROM unnest(${g}::text[], ${n}::text[], ${g.map(() => 1)}::int[])`;
      await sql`INSERT INTO placement_groups (name, nodes) SELECT group_name, count(*) FROM group_members WHERE group_name LIKE ${tag + "-%"} GROUP BY 1`;
    }
    let next = 0;
    let ok = 0;
    const errors = new Map<string, number>();
    const one = async () => {
      for (let i = next++; i < CREATES; i = next++) {
        const raw = CreateVmsRequest.fromPartial({
          template: vmSpec(`${tag}-${i}`, 1, 1024),
          count: 1,
          project: "default",
          ...(c.kind === "none" ? {} : { policy: policy(c.kind, c.groups > 0 ? `${tag}-${i % c.groups}` : `${tag}-${i}`) }),
        });
        try {
          await batcher.create(raw, validateCreate(raw, config.defaultStrategy, config.defaultNetwork));
          ok++;
        } catch (err) {
          const m = (err as Error).constructor.name;
          errors.set(m, (errors.get(m) ?? 0) + 1);
        }
      }
    };
    await deps.nodes.get(true);
    const conflicts0 = (await metrics.claimConflicts.get()).values[0]?.value ?? 0;
    const placed0 = (await metrics.placementSeconds.get()).values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
    const b0 = await backendsCpuNs(sql);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, one));
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const pg = backendsMsSince(b0, await backendsCpuNs(sql));
    const conflicts = ((await metrics.claimConflicts.get()).values[0]?.value ?? 0) - conflicts0;
    const placements = ((await metrics.placementSeconds.get()).values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0) - placed0;
    console.error(`${tag}: ${ok} created, ${conflicts} conflicts, ${placements} engine calls`);
    if (errors.size > 0) console.error(`${tag}: errors ${[...errors].map(([k, v]) => `${v}× ${k}`).join(", ")}`);
    return { schedMs: (cpu.user + cpu.system) / 1000 / ok, pgMs: pg / ok, rate: ok / (wall / 1000), ok };
  };

  const rows: (string | number)[][] = [];
  console.log(`node ${process.version}; ${HOSTS} nodes, ${CREATES} single creates per round, ${CONCURRENCY} in flight, median of ${ROUNDS} rounds; load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  await round(CASES[0]!, -1); // warm-up (JIT, caches)
  for (const c of CASES.filter((x) => ONLY.includes(x.kind))) {
    const rs = [];
    for (let r = 0; r < ROUNDS; r++) rs.push(await round(c, r));
    const sched = median(rs.map((x) => x.schedMs));
    const pg = median(rs.map((x) => x.pgMs));
    const row = [c.words, sched.toFixed(3), pg.toFixed(3), (sched + pg).toFixed(3), Math.round(2000 / (sched + pg)), Math.round(median(rs.map((x) => x.rate)))];
    console.error(row.join("  "));
    rows.push(row);
  }
  console.log(table(["request", "scheduler CPU ms / create", "Postgres CPU ms / create", "sum", "creates/s 2 cores could give", "creates/s here (wall, noise)"], rows));
  console.log(`load at the end ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
} finally {
  await sql.end();
  await db.drop();
}
