// A cluster for fault tests: its own Postgres database (or a private cluster's
// URL), its own NATS, an in-process scheduler and test-driver agents.
import type { RunningAgent } from "@drover/agent";
import { defaultConfig, startScheduler, type RunningScheduler, type SchedulerConfig } from "@drover/scheduler";
import { apiClient, type ApiClient } from "../support/clients.js";
import { startTestAgents, type HostSpec } from "../support/test-agents.js";
import { waitFor } from "../support/wait.js";

const quiet = process.env.DROVER_TEST_LOG ? (m: string) => console.log(m) : () => {};

export interface FaultCluster {
  scheduler: RunningScheduler;
  agents: RunningAgent[];
  api: ApiClient;
  log: string[];
  stop(): Promise<void>;
}

export async function startFaultCluster(
  databaseUrl: string,
  natsUrl: string,
  hosts: HostSpec[],
  overrides: Partial<SchedulerConfig> = {},
  agentHeartbeatMs = 200,
): Promise<FaultCluster> {
  const log: string[] = [];
  const scheduler = await startScheduler(
    { ...defaultConfig, insecure: true, databaseUrl, natsUrl, listen: "127.0.0.1:0", metricsListen: "", tickMs: 50, heartbeatIntervalMs: Math.max(500, agentHeartbeatMs), ...overrides },
    (m) => (log.push(m), quiet(m)),
  );
  const agents = await startTestAgents(hosts, { scheduler: scheduler.address, heartbeatIntervalMs: agentHeartbeatMs, log: quiet });
  const api = apiClient(scheduler.address);
  await waitFor("every agent registered", async () => ((await api.listNodes()).length === hosts.length ? true : undefined));
  return {
    scheduler,
    agents,
    api,
    log,
    async stop() {
      api.close();
      await Promise.all(agents.map((a) => a.stop()));
      await scheduler.stop();
    },
  };
}
