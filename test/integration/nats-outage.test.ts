import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials } from "@grpc/grpc-js";
import { followEvents, type ReceivedEvent } from "@drover/events";
import { VmServiceClient, type Event } from "@drover/proto";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { freePort } from "../support/ports.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// A NATS server of this test's own, so it can be down at first.
describe("events survive NATS being down", () => {
  let cluster: TestCluster;
  let nats: ChildProcess | undefined;
  let url: string;
  const storeDir = mkdtempSync(join(tmpdir(), "drover-nats-"));

  beforeAll(async () => {
    url = `nats://127.0.0.1:${await freePort()}`;
    cluster = await startTestCluster([{ name: "h", vcpus: 8, memoryMib: 16384 }], { natsUrl: url });
  });
  afterAll(async () => {
    await cluster?.stop();
    nats?.kill();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it("keeps events in the outbox, serves them on WatchEvents, and publishes them once NATS is up", async () => {
    const res = await cluster.api.createVms({
      template: vmSpec("o", 1, 256),
      count: 5,
    });
    const ids = new Set(res.vms.map((v) => v.id));

    // WatchEvents reads Postgres, so it sees them with NATS down.
    const client = new VmServiceClient(cluster.scheduler.address, credentials.createInsecure());
    const watched: Event[] = [];
    const stream = client.watchEvents({ afterId: 0, fromStart: true, subjectPrefix: "drover.vm." });
    stream.on("data", (r: { event: Event }) => watched.push(r.event));
    stream.on("error", () => {});
    await waitFor("running events on WatchEvents", async () =>
      watched.filter((e) => e.subject === "drover.vm.running" && ids.has(e.vmId)).length === 5 ? true : undefined,
    );
    stream.cancel();
    client.close();
    const seqs = watched.map((e) => e.id);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    // Now NATS comes up; the relay reconnects and publishes what waited.
    nats = spawn("/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", new URL(url).port, "-js", "-sd", storeDir], { stdio: "ignore" });
    const received: ReceivedEvent[] = [];
    const sub = await waitFor("NATS up", async () => followEvents(url, (e) => received.push(e), { since: new Date(0) }), 10_000, 200);
    await waitFor(
      "all 5 VMs' events on JetStream",
      async () => (received.filter((e) => e.subject === "drover.vm.running" && ids.has(e.data.vmId as string)).length === 5 ? true : undefined),
      20_000,
    );
    await sub.stop();
    const published = received.map((e) => e.data.id as number);
    expect(new Set(published).size).toBe(published.length);
    expect(published).toEqual(expect.arrayContaining(watched.map((e) => e.id)));
  });
});
