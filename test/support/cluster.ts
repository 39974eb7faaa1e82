import { startAgent, type RunningAgent } from "@drover/agent";
import { testHostUri } from "@drover/agent/testing";
import { defaultConfig, startScheduler, type RunningScheduler, type SchedulerConfig } from "@drover/scheduler";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "./clients.js";
import { waitFor } from "./wait.js";

export const NATS_URL = process.env.DROVER_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

export interface HostSpec {
  name: string;
  vcpus: number;
  memoryMib: number;
  diskGib?: number;
  labels?: Record<string, string>;
  /** The agent's image directory (catalog images resolve there); default <state dir>/images. */
  imageDir?: string;
  /** Another libvirt URI than an in-process test:// host of this size (e.g. test+unix:// through libvirtd). */
  libvirtUri?: string;
  /** The agent's state dir (a URI other than test:// keeps the cluster id there); default the agent's. */
  stateDir?: string;
  /** Where the agent listens; default a free port on 127.0.0.1. */
  listen?: string;
  /** The address the scheduler dials (e.g. a proxy in front of `listen`); default the bound one. */
  advertiseAddress?: string;
}

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
  const agents = await Promise.all(
    hosts.map((h) =>
      startAgent(
        {
          insecure: true,
          nodeName: h.name,
          libvirtUri: h.libvirtUri ?? testHostUri({ vcpus: h.vcpus, memoryMib: h.memoryMib }),
          listen: h.listen ?? "127.0.0.1:0",
          ...(h.advertiseAddress ? { advertiseAddress: h.advertiseAddress } : {}),
          schedulerAddress: scheduler.address,
          heartbeatIntervalMs: 200,
          labels: h.labels ?? {},
          diskGib: h.diskGib ?? 1000,
          ...(h.imageDir ? { imageDir: h.imageDir } : {}),
          ...(h.stateDir ? { stateDir: h.stateDir } : {}),
        },
        { log: quiet },
      ),
    ),
  );
  await Promise.all(agents.map((a) => a.registered()));
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
