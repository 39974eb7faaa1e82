import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import type { CreateVmsResponse } from "@drover/proto";
import { vmSpec } from "../support/requests.js";
import { startFaultCluster, type FaultCluster } from "./fault-cluster.js";
import { expectInvariants, expectPreciseOutcomes, settle } from "./invariants.js";
import { privateNats } from "./services.js";

// NATS is killed (-9) for 10 s while clients create VMs and the dispatcher
// starts them: creates must not notice, and afterwards every event of the
// outbox is on the stream exactly once (the relay re-sends what it could not
// confirm; JetStream drops the copies by Nats-Msg-Id).
describe("NATS down for 10 s during creates", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let nats: Awaited<ReturnType<typeof privateNats>>;
  let cluster: FaultCluster;
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    nats = await privateNats();
    cluster = await startFaultCluster(db.url, nats.url, [
      { name: "a", vcpus: 64, memoryMib: 65536 },
      { name: "b", vcpus: 64, memoryMib: 65536 },
    ]);
    sql = connect(db.url, { max: 2 });
  });
  afterAll(async () => {
    await sql?.end();
    await cluster?.stop();
    await nats?.stop();
    await db?.drop();
  });

  it("creates go on, and every event reaches the stream exactly once after NATS is back", async () => {
    const outcomes: Promise<PromiseSettledResult<CreateVmsResponse>>[] = [];
    let running = true;
    const load = (async () => {
      for (let i = 0; running; i++) {
        outcomes.push(settle(cluster.api.createVms({ template: vmSpec(`n${i}`, 1, 128), count: 3 })));
        await sleep(250);
      }
    })();
    await sleep(1500);
    await nats.kill();
    await sleep(10_000);
    await nats.start();
    await sleep(1500);
    running = false;
    await load;
    const settled = await Promise.all(outcomes);
    expectPreciseOutcomes(settled, cluster.log);
    // NATS is not on the create path: none of them may fail for it.
    expect(settled.filter((o) => o.status === "rejected")).toEqual([]);
    expect(settled.length).toBeGreaterThan(40);

    const events = await expectInvariants(sql, cluster.agents, nats.url);
    // Creates during the outage have their scheduled and running events there too.
    const vmIds = settled.flatMap((o) => (o.status === "fulfilled" ? o.value.vms.map((v) => v.id) : []));
    const running2 = new Set(events.filter((e) => e.subject === "drover.vm.running").map((e) => e.data.vmId as string));
    expect(vmIds.filter((id) => !running2.has(id))).toEqual([]);
  }, 120_000);
});
