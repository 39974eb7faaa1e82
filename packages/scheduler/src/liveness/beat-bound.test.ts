import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getNode, upsertNode, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { beatBoundMs, beatTimeoutMs } from "./beat-rate.js";
import { livenessTick, type ReplicaBeatBound } from "./liveness.js";

// An agent says how often it beats, and its node's timeout is scaled from that (beat-rate.ts).
// Before the bound, an agent that said "hourly" kept its node READY for 2 h of silence here (5 h at the default 10 s / 2 s).
describe("liveness bounds a node's recorded timeout by the replicas' beat bounds (real Postgres)", () => {
  const config = { heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 2000 };
  let db: TestDatabase;
  let sql: Sql;
  const stateOf = async (name: string) => (await getNode(sql, name))!.state;
  /** The node's last beat `agoS` seconds ago, recorded with the timeout of an agent that said it beats every `saidMs`. */
  const beat = (name: string, agoS: number, saidMs: number) =>
    sql`UPDATE node_heartbeats SET at = now() - make_interval(secs => ${agoS}), unheard_ms = (SELECT unheard_ms FROM liveness_window),
      timeout_ms = ${beatTimeoutMs(config, saidMs)} WHERE name = ${name}`;
  const uncapped: ReplicaBeatBound = { replica: randomUUID(), timeoutMs: () => beatBoundMs(config, 0) };

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["liar", "slowed"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
  });
  beforeEach(async () => {
    await sql`DELETE FROM beat_bounds`;
    await sql`UPDATE nodes SET state = 'READY', state_before_down = NULL`;
    await sql`UPDATE liveness_window SET started_at = now() - interval '1 hour', last_tick_at = now()`;
  });
  afterAll(async () => {
    await db?.close();
  });

  it("marks DOWN after the configured timeout a node whose agent said it beats hourly, when no replica tells a floor", async () => {
    await beat("liar", 3, 3_600_000);
    await livenessTick(sql, config.heartbeatTimeoutMs, () => {}, () => [], uncapped);
    expect(await stateOf("liar")).toBe("DOWN");
    const [b] = await sql<{ timeout_ms: number }[]>`SELECT timeout_ms FROM beat_bounds WHERE replica = ${uncapped.replica}`;
    expect(b!.timeout_ms).toBe(2000);
  });

  it("keeps a node slowed by a capped replica's floor READY when an uncapped replica judges it", async () => {
    // The capped replica told its agents a 4 s floor: it allows twice that, a 16 s timeout.
    const capped: ReplicaBeatBound = { replica: randomUUID(), timeoutMs: () => beatBoundMs(config, 4000) };
    await livenessTick(sql, config.heartbeatTimeoutMs, () => {}, () => [], capped);
    await beat("slowed", 6, 4000); // 6 s silent: its 10 s timeout has not passed
    await beat("liar", 20, 3_600_000); // past even the capped replica's 16 s
    await livenessTick(sql, config.heartbeatTimeoutMs, () => {}, () => [], uncapped);
    expect(await stateOf("slowed")).toBe("READY");
    expect(await stateOf("liar")).toBe("DOWN");
  });

  it("forgets the bound of a replica that stopped ticking a minute ago", async () => {
    await sql`INSERT INTO beat_bounds (replica, timeout_ms, told_at) VALUES (${randomUUID()}, 3600000, now() - interval '61 seconds')`;
    await beat("liar", 3, 3_600_000);
    await livenessTick(sql, config.heartbeatTimeoutMs, () => {}, () => [], uncapped);
    expect(await stateOf("liar")).toBe("DOWN");
  });

  it("bounds nothing before any replica wrote a bound (the replica that judges writes its own first)", async () => {
    await beat("slowed", 6, 4000);
    await livenessTick(sql, config.heartbeatTimeoutMs, () => {});
    expect(await stateOf("slowed")).toBe("READY");
  });
});
