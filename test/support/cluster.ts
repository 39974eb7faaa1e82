import type { RunningAgent } from "@drover/agent";
import { defaultConfig, startScheduler, type RunningScheduler, type SchedulerConfig } from "@drover/scheduler";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "./clients.js";
import { startTestAgents, type HostSpec } from "./test-agents.js";
import { waitFor } from "./wait.js";

export type { HostSpec } from "./test-agents.js";

export const NATS_URL = process.env.DROVER_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

export interface TestCluster {
  scheduler: RunningScheduler;
  agents: RunningAgent[];
  api: ApiClient;
  stop(): Promise<void>;
}

// DROVER_TEST_LOG=1 shows the scheduler and agent logs.
const quiet = process.env.DROVER_TEST_LOG ? (m: string) => console.log(m) : () => {};

/**
 * A real scheduler on a fresh Postgres database with real NATS, and one agent
 * per host on libvirt's test driver, all registered before it returns.
 */
export async function startTestCluster(hosts: HostSpec[], overrides: Partial<SchedulerConfig> = {}): Promise<TestCluster> {
  const db = await createTestDatabase();
  const scheduler = await startScheduler(
    {
      ...defaultConfig,
      insecure: true,
      databaseUrl: db.url,
      natsUrl: NATS_URL,
      listen: "127.0.0.1:0",
      metricsListen: "127.0.0.1:0",
      tickMs: 50,
      heartbeatIntervalMs: 1000,
      ...overrides,
    },
    quiet,
  );
  const agents = await startTestAgents(hosts, { scheduler: scheduler.address, heartbeatIntervalMs: 200, log: quiet });
  const api = apiClient(scheduler.address);
  await waitFor("every agent registered", async () => ((await api.listNodes()).length === hosts.length ? true : undefined));
  return {
    scheduler,
    agents,
    api,
    async stop() {
      api.close();
      await Promise.all(agents.map((a) => a.stop()));
      await scheduler.stop();
      await db.drop();
    },
  };
}
