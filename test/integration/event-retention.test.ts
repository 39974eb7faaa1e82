import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { VmServiceClient, type Event } from "@drover/proto";
import { latestSeq, prunedThrough } from "@drover/store";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// Retention of two seconds, so the relay deletes events (once NATS has them) while the test watches.
describe("event retention", () => {
  let cluster: TestCluster;
  let client: VmServiceClient;
  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "h", vcpus: 8, memoryMib: 16384 }], { eventRetentionMs: 2000 });
    client = new VmServiceClient(cluster.scheduler.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await cluster?.stop();
  });

  const watch = (req: { afterId: number; fromStart: boolean }) => {
    const events: Event[] = [];
    const stream = client.watchEvents({ ...req, subjectPrefix: "drover.vm." });
    const ended = new Promise<ServiceError | undefined>((resolve) => {
      stream.on("error", (e: ServiceError) => resolve(e));
      stream.on("end", () => resolve(undefined));
    });
    stream.on("data", (r: { event: Event }) => events.push(r.event));
    return { events, ended, cancel: () => stream.cancel() };
  };

  it("deletes published events past retention and refuses to resume from before them, saying why", async () => {
    await cluster.api.createVms({ template: vmSpec("old", 1, 256), count: 3 });
    const gone = await waitFor("old events deleted", async () => {
      const seq = await prunedThrough(cluster.scheduler.sql);
      return seq >= 2 ? seq : undefined;
    });

    const stale = watch({ afterId: gone - 1, fromStart: false });
    const err = await Promise.race([stale.ended, sleep(10_000).then(() => "still streaming after 10 s" as const)]);
    stale.cancel();
    expect(err).not.toBe("still streaming after 10 s");
    expect((err as ServiceError).code).toBe(status.FAILED_PRECONDITION);
    expect((err as ServiceError).details).toMatch(new RegExp(`events up to id \\d+ were deleted .*cannot resume after ${gone - 1}`));
    expect(stale.events).toEqual([]);

    // Resuming from what is kept works: the watcher sees a new VM's events, none of the deleted ones.
    const kept = watch({ afterId: await prunedThrough(cluster.scheduler.sql), fromStart: false });
    const fresh = await cluster.api.createVms({ template: vmSpec("new", 1, 256), count: 1 });
    await waitFor("the new VM's scheduled event", async () => (kept.events.some((e) => e.vmId === fresh.vms[0]!.id) ? true : undefined));
    kept.cancel();
    expect(kept.events.every((e) => e.id > gone)).toBe(true);
  });

  it("refuses an after_id beyond the last event, naming after_id and the last id, instead of waiting forever", async () => {
    const last = Math.max(await latestSeq(cluster.scheduler.sql), await prunedThrough(cluster.scheduler.sql));
    const ahead = watch({ afterId: 999_999_999, fromStart: false });
    const err = await Promise.race([ahead.ended, sleep(10_000).then(() => "still streaming after 10 s" as const)]);
    ahead.cancel();
    expect(err).not.toBe("still streaming after 10 s");
    expect((err as ServiceError).code).toBe(status.INVALID_ARGUMENT);
    const named = /^after_id: is 999999999, beyond the last event id (\d+); use an id a watch delivered, from_start, or 0 for new events$/.exec(
      (err as ServiceError).details,
    );
    expect(named, (err as ServiceError).details).not.toBeNull();
    expect(Number(named![1])).toBeGreaterThanOrEqual(last); // events may be sequenced meanwhile
    expect(ahead.events).toEqual([]);
  });
});
