// CPU time of the Postgres backends serving a benchmark's database (/proc/<pid>/schedstat), sampled
// before and after a run: the Postgres side of what it cost.
import { readFileSync } from "node:fs";
import type { Sql } from "@drover/store";

/** CPU ns so far of every backend connected to this database, by pid (one gone meanwhile is left out). */
export async function backendsCpuNs(sql: Sql): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const { pid } of await sql<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`) {
    try {
      out.set(pid, Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** ms the backends of `b` used since `a` (a backend new since then counts from 0; one that ended meanwhile is lost). */
export function backendsMsSince(a: Map<number, number>, b: Map<number, number>): number {
  let ns = 0;
  for (const [pid, v] of b) ns += v - (a.get(pid) ?? 0);
  return ns / 1e6;
}
