import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, getNode, migrate, upsertNode, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { livenessGapMs, livenessTick } from "./liveness.js";

const defaults = { cpuRatio: 1, memoryRatio: 1, diskRatio: 1, reservedVcpus: 0, reservedMemoryMib: 0, reservedDiskGib: 0 };
const TIMEOUT_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("livenessTick judges silence only while the scheduler could hear (real Postgres)", () => {
  let db: { url: string; drop(): Promise<void> };
  let sql: Sql;
  const logged: string[] = [];
  const tick = () => livenessTick(sql, TIMEOUT_MS, (m) => logged.push(m));
  const stateOf = async (name: string) => (await getNode(sql, name))!.state;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = connect(db.url);
    await migrate(sql);
    for (const name of ["a", "b"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, defaults);
    }
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it("after an outage (no tick for longer than the gap) marks no node DOWN, however old its last beat", async () => {
    // As after 10 s without the database: the last beats and the last tick are all 10 s old.
    await sql`UPDATE node_heartbeats SET at = now() - interval '10 seconds'`;
    await sql`UPDATE liveness_window SET started_at = now() - interval '1 hour', last_tick_at = now() - interval '10 seconds'`;
    await tick();
    expect([await stateOf("a"), await stateOf("b")]).toEqual(["READY", "READY"]);
    const [w] = await sql<{ fresh: boolean }[]>`SELECT started_at > now() - interval '1 second' AS fresh FROM liveness_window`;
    expect(w!.fresh).toBe(true);
  });

  it("marks DOWN, a timeout into the fresh window, the node that never beat in it, and not the one that did", async () => {
    const until = Date.now() + TIMEOUT_MS + 300;
    while (Date.now() < until) {
      await sql`UPDATE node_heartbeats SET at = now() WHERE name = 'a'`;
      await tick();
      await sleep(100);
    }
    expect(await stateOf("a")).toBe("READY");
    expect(await stateOf("b")).toBe("DOWN");
    expect(logged.some((m) => m.startsWith(`nodes DOWN (no heartbeat for ${TIMEOUT_MS} ms`) && m.includes(": b;"))).toBe(true);
  });

  it("treats a pause shorter than the gap as watching: a silent node still goes DOWN on time", async () => {
    await sql`UPDATE nodes SET state = 'READY', state_before_down = NULL WHERE name = 'b'`;
    await sql`UPDATE node_heartbeats SET at = now() - interval '5 seconds' WHERE name = 'b'`;
    await sql`UPDATE liveness_window SET started_at = now() - interval '1 hour', last_tick_at = now() - make_interval(secs => ${livenessGapMs(TIMEOUT_MS) / 2000})`;
    await tick();
    expect(await stateOf("b")).toBe("DOWN");
  });
});
