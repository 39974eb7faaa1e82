// The hosts the group benchmarks place on, written straight into a migrated database.
import type { Sql } from "@drover/store";

/** Inserts `count` nodes host-00000… of 64 vCPUs (4:1), 256 GiB and 2 TB; returns their names in order. */
export async function insertBenchHosts(sql: Sql, count: number): Promise<string[]> {
  const names = Array.from({ length: count }, (_, i) => `host-${String(i).padStart(5, "0")}`);
  await sql`
    INSERT INTO nodes (name, address, vcpus, memory_mib, disk_gib, cpu_ratio, memory_ratio, disk_ratio)
    SELECT name, '127.0.0.1:1', 64, 262144, 2000, 4, 1, 1 FROM unnest(${names}::text[]) AS t(name)`;
  return names;
}
