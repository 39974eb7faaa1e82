import { credentials } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeRegistryServiceClient, type RegisterNodeResponse } from "@drover/proto";
import { defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { createTestDatabase } from "@drover/store/testing";

// DROVER_HEARTBEAT_INTERVAL_MS is in ms; the wire field stays heartbeat_interval_seconds,
// so registration answers in whole seconds, rounded down (an agent beating early is harmless).
describe("heartbeat interval at registration", () => {
  let scheduler: RunningScheduler;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = () => db.drop();
    scheduler = await startScheduler(
      { ...defaultConfig, insecure: true, databaseUrl: db.url, natsUrl: "", listen: "127.0.0.1:0", metricsListen: "", heartbeatIntervalMs: 2500 },
      () => {},
    );
  });
  afterAll(async () => {
    await scheduler?.stop();
    await drop?.();
  });

  it("is sent to the agent in whole seconds", async () => {
    const client = new NodeRegistryServiceClient(scheduler.address, credentials.createInsecure());
    const res = await new Promise<RegisterNodeResponse>((resolve, reject) =>
      client.registerNode(
        { name: "h1", address: "127.0.0.1:1", capacity: { vcpus: 2, memoryMib: 1024, diskGib: 10 }, labels: {} },
        (err, r) => (err ? reject(err) : resolve(r)),
      ),
    );
    client.close();
    expect(res.heartbeatIntervalSeconds).toBe(2);
  });
});
