// One refresh of the node cache (NodeCache.get(true)) at --hosts nodes, of this tree and of
// --before DIR (which reads every node each time), with --changed nodes claimed on from another
// connection before each refresh (not counted): this process's CPU (the scheduler's side: the
// read, postgres.js parsing the rows, the compare) and the CPU of the cache's one Postgres backend
// per refresh, median over --refreshes, the builds alternating over --rounds (ABBA).
//
//   npx tsc -b && node --import tsx benchmarks/node-refresh.ts --before DIR [--hosts 5000] [--changed 0,50,500] [--refreshes 40] [--rounds 2]
import { readFileSync } from "node:fs";
import { connect, migrate, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { insertBenchHosts } from "./bench-hosts.js";
import { median, table } from "./common.js";
import { flag, importBuilt, numberFlag, requiredBeforeDir } from "./flags.js";

interface Cache {
  get(fresh?: boolean): Promise<unknown>;
}
type CacheClass = new (sql: Sql, ttlMs: number) => Cache;

const cpuNs = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);

async function measure(NodeCache: CacheClass, url: string, writer: Sql, names: string[], changed: number, refreshes: number) {
  const sql = connect(url, { max: 1 });
  const pid = (await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
  const cache = new NodeCache(sql, 3_600_000);
  await cache.get(true);
  await cache.get(true);
  const scheduler: number[] = [];
  const postgres: number[] = [];
  for (let r = 0; r < refreshes; r++) {
    if (changed > 0) {
      const start = (r * changed) % names.length;
      const some = Array.from({ length: changed }, (_, k) => names[(start + k) % names.length]!);
      await writer`UPDATE nodes SET alloc_vcpus = (alloc_vcpus + 1) % 8 WHERE name = ANY(${some}::text[])`;
    }
    const pg0 = cpuNs(pid);
    const u0 = process.cpuUsage();
    await cache.get(true);
    const u = process.cpuUsage(u0);
    postgres.push((cpuNs(pid) - pg0) / 1e3);
    scheduler.push(u.user + u.system);
  }
  await sql.end();
  return { scheduler: median(scheduler), postgres: median(postgres) };
}

async function main(): Promise<void> {
  const before = requiredBeforeDir();
  const hosts = numberFlag("hosts", 5000, { positive: true });
  const changedList = (flag("changed") ?? "0,50,500").split(",").map(Number);
  const refreshes = numberFlag("refreshes", 40, { positive: true });
  const rounds = numberFlag("rounds", 2, { positive: true });
  const builds: [string, CacheClass][] = [
    ["before", (await importBuilt<{ NodeCache: CacheClass }>(before, "packages/scheduler/dist/create/node-cache.js")).NodeCache],
    ["after", (await importBuilt<{ NodeCache: CacheClass }>(".", "packages/scheduler/dist/create/node-cache.js")).NodeCache],
  ];
  const db = await createTestDatabase();
  const writer = connect(db.url, { max: 1 });
  try {
    await migrate(writer);
    const names = await insertBenchHosts(writer, hosts);
    await writer`VACUUM ANALYZE nodes`;
    const rows: (string | number)[][] = [];
    for (const changed of changedList) {
      for (let round = 0; round < rounds; round++) {
        // ABBA: before, after, after, before, ...
        const order = round % 2 === 0 ? builds : [...builds].reverse();
        for (const [label, NodeCache] of order) {
          const m = await measure(NodeCache, db.url, writer, names, changed, refreshes);
          rows.push([hosts, changed, label, round + 1, Math.round(m.scheduler), Math.round(m.postgres)]);
        }
      }
    }
    console.log(table(["hosts", "changed/refresh", "build", "round", "scheduler µs/refresh", "postgres µs/refresh"], rows));
  } finally {
    await writer.end();
    await db.drop();
  }
}

await main();
