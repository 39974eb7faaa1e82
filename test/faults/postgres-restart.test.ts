import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { NodeState, type CreateVmsRequest, type CreateVmsResponse } from "@drover/proto";
import { connect, type Sql } from "@drover/store";
import { healthClient } from "../support/health-client.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";
import { startFaultCluster, type FaultCluster } from "./fault-cluster.js";
import { expectInvariants, expectPreciseOutcomes, settle } from "./invariants.js";
import { privateNats, privatePostgres } from "./services.js";

const HEARTBEAT_TIMEOUT_MS = 3000;
/** Longer than the heartbeat timeout: before liveness judged silence by its own window, every node went DOWN. */
const OUTAGE_MS = 6000;
/** A ListNodes deadline well past the prompt answer the scheduler owes during the outage. */
const LIST_DEADLINE_MS = 8000;
const PROMPT_MS = 2500;

// Postgres stops (fast shutdown: sessions cut) for longer than the heartbeat
// timeout while clients create VMs and agents heartbeat, then comes back. On a
// private cluster: the shared one serves every other suite.
describe("a Postgres restart under load", () => {
  let pg: Awaited<ReturnType<typeof privatePostgres>>;
  let nats: Awaited<ReturnType<typeof privateNats>>;
  let cluster: FaultCluster;
  let sql: Sql;

  beforeAll(async () => {
    pg = await privatePostgres();
    nats = await privateNats();
    cluster = await startFaultCluster(
      pg.url,
      nats.url,
      ["a", "b", "c"].map((name) => ({ name, vcpus: 64, memoryMib: 65536 })),
      { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS },
      // A third of the timeout, as in production (2 s of 10 s): after the outage a liveness
      // pass (every timeout/4) comes before most nodes' next beat.
      1000,
    );
    sql = connect(pg.url, { max: 2 });
  });
  afterAll(async () => {
    await sql?.end({ timeout: 1 });
    await cluster?.stop();
    await nats?.stop();
    pg?.drop();
  });

  function create(req: Partial<CreateVmsRequest>, ms: number): Promise<CreateVmsResponse> {
    const full = { count: 1, minCount: 0, idempotencyKey: "", groups: [], dryRun: false, project: "", ...req };
    return new Promise((resolve, reject) =>
      cluster.api.vms.createVms(full, new Metadata(), { deadline: Date.now() + ms }, (err: ServiceError | null, res: CreateVmsResponse) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  function listNodes(ms: number): Promise<unknown> {
    return new Promise((resolve, reject) =>
      cluster.api.nodes.listNodes({ state: 0, pageSize: 0, pageToken: "" }, new Metadata(), { deadline: Date.now() + ms }, (err: ServiceError | null, res: unknown) =>
        err ? reject(err) : resolve(res),
      ),
    );
  }

  it("answers UNAVAILABLE promptly and NOT_SERVING during it, recovers by itself, and marks no node DOWN", async () => {
    const first = await create({ template: vmSpec("before", 1, 256), count: 30 }, 10_000);
    expect(first.vms).toHaveLength(30);
    await waitFor("the first 30 RUNNING", async () => ((await cluster.api.listVms({ state: 4 })).vms.length === 30 ? true : undefined));

    const health = healthClient(cluster.scheduler.address);
    const seenHealth = new Set<string>();
    const seenErrors: ServiceError[] = [];
    /** How long each refused ListNodes took to be answered. */
    const refusedInMs: number[] = [];
    const outcomes: Promise<PromiseSettledResult<CreateVmsResponse>>[] = [];
    let running = true;
    const load = (async () => {
      for (let i = 0; running; i++) {
        outcomes.push(settle(create({ template: vmSpec(`during-${i}`, 1, 128), count: 2 }, 1500)));
        seenHealth.add(await health.check().catch(() => "no answer"));
        const asked = Date.now();
        await listNodes(LIST_DEADLINE_MS).catch((e: ServiceError) => {
          seenErrors.push(e);
          refusedInMs.push(Date.now() - asked);
        });
        await sleep(100);
      }
    })();

    await sleep(500);
    await pg.stop();
    await sleep(OUTAGE_MS);
    await pg.start();
    await waitFor("health SERVING again", async () => ((await health.check()) === "SERVING" ? true : undefined), 15_000, 100);
    await sleep(1500); // load on the recovered database, and liveness ticks past the outage
    running = false;
    await load;
    const settled = await Promise.all(outcomes);
    health.close();

    expect(seenHealth).toContain("NOT_SERVING");
    expect(seenErrors.length).toBeGreaterThan(0);
    expect(seenErrors.some((e) => e.code === status.UNAVAILABLE)).toBe(true);
    // Refused at once, not left to the client's deadline: UNAVAILABLE within a couple of seconds.
    console.log(`Postgres restart: ${seenErrors.length} ListNodes refused, in ${Math.min(...refusedInMs)}..${Math.max(...refusedInMs)} ms`);
    for (const e of seenErrors) {
      expect(e.code, e.details).toBe(status.UNAVAILABLE);
      expect(e.details).toBe("database unavailable; retry");
    }
    expect(Math.max(...refusedInMs)).toBeLessThan(PROMPT_MS);
    expectPreciseOutcomes(settled, cluster.log);
    expect(settled.some((o) => o.status === "rejected")).toBe(true);
    expect(settled.some((o) => o.status === "fulfilled")).toBe(true);

    // The agents kept beating; an outage of the database is no silence of theirs.
    expect((await cluster.api.listNodes()).map((n) => n.state)).toEqual([NodeState.NODE_STATE_READY, NodeState.NODE_STATE_READY, NodeState.NODE_STATE_READY]);
    const [bad] = await sql<{ down: number; lost: number }[]>`
      SELECT count(*) FILTER (WHERE subject = 'drover.node.down')::int AS down, count(*) FILTER (WHERE subject = 'drover.vm.lost')::int AS lost FROM outbox`;
    expect(bad).toEqual({ down: 0, lost: 0 });

    await expectInvariants(sql, cluster.agents, nats.url);
  }, 120_000);
});
