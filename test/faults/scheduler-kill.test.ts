import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "@drover/agent";
import { testHostUri } from "@drover/agent/testing";
import type { CreateVmsResponse } from "@drover/proto";
import { connect, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "../support/clients.js";
import { freePort } from "../support/ports.js";
import { vmSpec } from "../support/requests.js";
import { startSchedulerProcess } from "../support/scheduler-process.js";
import { waitFor } from "../support/wait.js";
import { expectInvariants, expectPreciseOutcomes, settle } from "./invariants.js";
import { privateNats } from "./services.js";

type SchedulerProcess = Awaited<ReturnType<typeof startSchedulerProcess>>;

// The scheduler is killed with SIGKILL in the middle of bulk creates, and in
// the middle of dispatching them; a new process on the same address and
// database resumes. Nothing may be half done: each request committed whole or
// not at all, each VM ends RUNNING with one domain, claims match the rows, and
// each event is on the stream once.
describe("kill -9 of the scheduler", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let nats: Awaited<ReturnType<typeof privateNats>>;
  let sql: Sql;
  let env: Record<string, string>;
  let scheduler: SchedulerProcess;
  let agents: RunningAgent[] = [];
  let api: ApiClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    nats = await privateNats();
    sql = connect(db.url, { max: 2 });
    env = {
      DROVER_LISTEN: `127.0.0.1:${await freePort()}`,
      DROVER_DATABASE_URL: db.url,
      DROVER_NATS_URL: nats.url,
      DROVER_TICK_MS: "50",
      // The dispatch lease is twice this: work a killed replica had taken is due again after it.
      DROVER_AGENT_TIMEOUT_MS: "3000",
      DROVER_HEARTBEAT_INTERVAL_MS: "1000",
      DROVER_HEARTBEAT_TIMEOUT_MS: "3000",
    };
    scheduler = await startSchedulerProcess(env);
    agents = await Promise.all(
      ["a", "b", "c", "d"].map((name) =>
        startAgent(
          {
            insecure: true,
            nodeName: name,
            libvirtUri: testHostUri({ vcpus: 128, memoryMib: 262144 }),
            listen: "127.0.0.1:0",
            schedulerAddress: env.DROVER_LISTEN!,
            heartbeatIntervalMs: 200,
            labels: {},
            diskGib: 1000,
          },
          { log: () => {} },
        ),
      ),
    );
    await Promise.all(agents.map((a) => a.registered()));
    api = apiClient(env.DROVER_LISTEN!);
  });
  afterAll(async () => {
    api?.close();
    await Promise.all(agents.map((a) => a.stop()));
    await scheduler?.stop();
    await sql?.end();
    await nats?.stop();
    await db?.drop();
  });

  async function restart(): Promise<void> {
    await scheduler.kill();
    scheduler = await startSchedulerProcess(env);
  }

  /** A restart of the only replica is an outage of the scheduler, not silence of the nodes. */
  async function expectNoNodeDown(): Promise<void> {
    const [bad] = await sql<{ down: number; lost: number }[]>`
      SELECT count(*) FILTER (WHERE subject = 'drover.node.down')::int AS down, count(*) FILTER (WHERE subject = 'drover.vm.lost')::int AS lost FROM outbox`;
    expect(bad, "node.down and vm.lost events").toEqual({ down: 0, lost: 0 });
  }

  it("in the middle of bulk creates: each request is committed whole or not at all, and the rest resumes", async () => {
    const outcomes = Array.from({ length: 6 }, (_, i) => settle(api.createVms({ template: vmSpec(`bulk${i}`, 1, 64), count: 100 })));
    // Killed once the first bulk is committed, while the others are still placed or committed (a
    // fixed 150 ms mostly killed it before any commit, which tested little).
    await waitFor("a bulk committed", async () => {
      const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM create_requests`;
      return row!.n > 0 ? true : undefined;
    }, 30_000, 5);
    await restart();
    const settled = await Promise.all(outcomes);
    expectPreciseOutcomes(settled, scheduler.output().split("\n"));
    const [committed] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM create_requests`;
    console.log(
      `scheduler killed mid-bulk: ${settled.filter((o) => o.status === "fulfilled").length} of 6 bulks answered with VMs, the rest UNAVAILABLE; ${committed!.n} committed`,
    );
    const answered = settled.flatMap((o) => (o.status === "fulfilled" ? o.value.vms.map((v) => v.id) : []));
    const [row] = await sql<{ found: number }[]>`SELECT count(*)::int AS found FROM vms WHERE id = ANY(${answered}::uuid[])`;
    expect(row!.found).toBe(answered.length);
    // A request is all of its VMs or none, no half-committed bulk: expectNoVmPlacedTwice.
    await expectInvariants(sql, agents, nats.url);
    await expectNoNodeDown();
  }, 120_000);

  it("in the middle of dispatching: the VMs a killed replica was starting end RUNNING, each with one domain", async () => {
    const res: CreateVmsResponse = await api.createVms({ template: vmSpec("dispatch", 1, 64), count: 200 });
    const ids = res.vms.map((v) => v.id);
    await waitFor("some of the 200 started, not all", async () => {
      const [row] = await sql<{ running: number }[]>`SELECT count(*)::int AS running FROM vms WHERE id = ANY(${ids}::uuid[]) AND state = 'RUNNING'`;
      return row!.running > 0 ? true : undefined;
    }, 20_000, 20);
    const [mid] = await sql<{ unsettled: number }[]>`SELECT count(*)::int AS unsettled FROM vms WHERE id = ANY(${ids}::uuid[]) AND state <> 'RUNNING'`;
    await restart();
    await expectInvariants(sql, agents, nats.url);
    const [after] = await sql<{ running: number }[]>`SELECT count(*)::int AS running FROM vms WHERE id = ANY(${ids}::uuid[]) AND state = 'RUNNING'`;
    expect(after!.running).toBe(200);
    await expectNoNodeDown();
    // Report how much was in flight when the replica died (the test is only meaningful with some).
    console.log(`scheduler killed with ${mid!.unsettled} of 200 VMs not yet RUNNING`);
  }, 120_000);
});
