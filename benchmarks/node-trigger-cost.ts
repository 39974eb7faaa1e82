// The cost of migration 041's trigger (nodes_mark_changed) on a node row's update: one backend
// updates 20,000 times one row of 5,000 (a claim's update of alloc_* and generation), committing
// every 100, with the trigger disabled and enabled in turn (ABBA); that backend's CPU per update.
//
//   node --import tsx benchmarks/node-trigger-cost.ts
import { readFileSync } from "node:fs";
import { connect, migrate } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { insertBenchHosts } from "./bench-hosts.js";

const UPDATES = 20_000;
const RUN = /* sql */ `
CREATE PROCEDURE t_run() LANGUAGE plpgsql AS $$
DECLARE i int;
BEGIN
  FOR i IN 1..${UPDATES} LOOP
    UPDATE nodes SET alloc_vcpus = (alloc_vcpus + 1) % 8, generation = generation + 1 WHERE name = 'host-' || lpad((i % 5000)::text, 5, '0');
    IF i % 100 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$`;

const db = await createTestDatabase();
const sql = connect(db.url, { max: 1 });
try {
  await migrate(sql);
  await insertBenchHosts(sql, 5000);
  await sql.unsafe(RUN);
  const pid = (await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
  const cpuNs = () => Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
  for (const on of [false, true, true, false, false, true, true, false]) {
    await sql.unsafe(`ALTER TABLE nodes ${on ? "ENABLE" : "DISABLE"} TRIGGER nodes_mark_changed`);
    await sql.unsafe(`VACUUM nodes`);
    const c0 = cpuNs();
    await sql.unsafe(`CALL t_run()`);
    console.log(`trigger ${on ? "on " : "off"}: backend CPU ${((cpuNs() - c0) / 1e3 / UPDATES).toFixed(1)} µs per update`);
  }
} finally {
  await sql.end();
  await db.drop();
}
