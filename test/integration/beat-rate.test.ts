// The beat-rate cap end to end: a real scheduler with a low DROVER_MAX_HEARTBEATS_PER_SECOND and
// real agents (libvirt's test driver). As agents join past the cap's threshold they are told a
// floor and slow down with no node going DOWN; a slowed node that stops beating goes DOWN within
// its scaled timeout; as agents leave, the rest speed up again, still with none DOWN. A second
// replica on the same database runs with no cap at all (it would tell nobody to slow down): its
// liveness passes judge the same nodes, by the timeout each beat was recorded with.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningAgent } from "@drover/agent";
import { defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { connect, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { startTestAgents, type HostSpec } from "../support/test-agents.js";
import { waitFor } from "../support/wait.js";

const INTERVAL_MS = 1000;
const TIMEOUT_MS = 2500;
/** 3 beats a second: 2 agents keep 1 s, 8 must keep ⌈8 / 3⌉ = 3 s (timeout 7.5 s). */
const CAP = 3;
const quiet = process.env.DROVER_TEST_LOG ? (m: string) => console.log(m) : () => {};
const host = (name: string): HostSpec => ({ name, vcpus: 4, memoryMib: 8192 });

describe("beat-rate cap: agents slow down past the threshold and speed up again, none DOWN", () => {
  let scheduler: RunningScheduler;
  let uncapped: RunningScheduler;
  let sql: Sql;
  let drop: () => Promise<void>;
  let first: RunningAgent[] = [];
  let more: RunningAgent[] = [];
  const downs = async (names: string[]) =>
    (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE subject = 'drover.node.down' AND payload->>'node' = ANY(${names})`)[0]!.n;
  const beats = async (names: string[]) => (await sql<{ n: number }[]>`SELECT coalesce(sum(seq), 0)::int AS n FROM node_heartbeats WHERE name = ANY(${names})`)[0]!.n;

  beforeAll(async () => {
    const db = await createTestDatabase();
    sql = connect(db.url, { max: 2 });
    drop = () => db.drop();
    const config = {
      ...defaultConfig,
      insecure: true,
      databaseUrl: db.url,
      natsUrl: "",
      listen: "127.0.0.1:0",
      metricsListen: "",
      tickMs: 50,
      heartbeatIntervalMs: INTERVAL_MS,
      heartbeatTimeoutMs: TIMEOUT_MS,
      maxHeartbeatsPerSecond: CAP,
    };
    scheduler = await startScheduler(config, quiet);
    uncapped = await startScheduler({ ...config, maxHeartbeatsPerSecond: 0 }, quiet);
    first = await startTestAgents(["b1", "b2"].map(host), { scheduler: scheduler.address, heartbeatIntervalMs: INTERVAL_MS, log: quiet });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([...first, ...more].map((a) => a.stop()));
    await scheduler?.stop();
    await uncapped?.stop();
    await sql?.end();
    await drop?.();
  });

  it("below the threshold, agents keep their own interval", async () => {
    await sleep(2 * INTERVAL_MS);
    expect(first.map((a) => a.heartbeatIntervalMs)).toEqual([INTERVAL_MS, INTERVAL_MS]);
  });

  it("past it, every agent is told 3 s and keeps it, and no node goes DOWN", async () => {
    more = await startTestAgents(["b3", "b4", "b5", "b6", "b7", "b8"].map(host), { scheduler: scheduler.address, heartbeatIntervalMs: INTERVAL_MS, log: quiet });
    const all = [...first, ...more];
    const names = all.map((a) => a.name);
    await waitFor("every agent slowed to 3 s", async () => (all.every((a) => a.heartbeatIntervalMs === 3000) ? true : undefined), 15_000);
    // Longer than the configured timeout many times over: the slowed nodes' silences are judged by the interval they said.
    const b0 = await beats(names);
    await sleep(9000);
    const rate = ((await beats(names)) - b0) / 9;
    expect(rate).toBeLessThanOrEqual(CAP * 1.2);
    expect(await downs(names)).toBe(0);
    const [timeout] = await sql<{ ms: number }[]>`SELECT min(timeout_ms)::int AS ms FROM node_heartbeats WHERE name = ANY(${names})`;
    expect(timeout!.ms).toBe(7500);
  }, 60_000);

  it("a slowed node that stops beating is DOWN within its scaled timeout (7.5 s) and a liveness pass, not at the configured one", async () => {
    const doomed = more.at(-1)!;
    doomed.pauseHeartbeats();
    const pausedAt = Date.now();
    await waitFor("b8 DOWN", async () => ((await downs([doomed.name])) > 0 ? true : undefined), 15_000, 50);
    const tookMs = Date.now() - pausedAt;
    // Its last beat came at most one interval (3 s) before the pause; the configured 2.5 s would have taken it by 3.2 s at the latest.
    expect(tookMs).toBeGreaterThan(7500 - 3000 - 100);
    expect(tookMs).toBeLessThan(7500 + TIMEOUT_MS / 4 + 1000);
    expect(await downs(["b1", "b2", "b3", "b4", "b5", "b6", "b7"])).toBe(0);
  }, 30_000);

  it("as agents leave, the rest are told the shorter interval and keep it, none DOWN", async () => {
    await Promise.all(more.map((a) => a.stop()));
    await waitFor("b1 and b2 back at 1 s", async () => (first.every((a) => a.heartbeatIntervalMs === INTERVAL_MS) ? true : undefined), 15_000);
    // The beat already due keeps its time (up to 3 s away, the interval it said): the shorter one follows it.
    await sleep(3500);
    const b0 = await beats(["b1", "b2"]);
    await sleep(4000);
    expect(((await beats(["b1", "b2"])) - b0) / 4).toBeGreaterThan(1.4); // two nodes at 1 s again
    expect(await downs(["b1", "b2"])).toBe(0);
    const [timeout] = await sql<{ ms: number }[]>`SELECT max(timeout_ms)::int AS ms FROM node_heartbeats WHERE name IN ('b1', 'b2')`;
    expect(timeout!.ms).toBe(TIMEOUT_MS);
  }, 30_000);
});
