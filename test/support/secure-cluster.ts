import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, type ChannelCredentials } from "@grpc/grpc-js";
import { startAgent, type RunningAgent } from "@drover/agent";
import { testHostUri } from "@drover/agent/testing";
import { createClusterCa, createJoinToken, defaultConfig, issueToken, startScheduler, type RunningScheduler, type SchedulerConfig } from "@drover/scheduler";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "./clients.js";
import { waitFor } from "./wait.js";

const quiet = process.env.DROVER_TEST_LOG ? (m: string) => console.log(m) : () => {};

export interface SecureCluster {
  scheduler: RunningScheduler;
  agents: RunningAgent[];
  /** The public API over TLS that verifies the scheduler against the cluster CA, as an admin. */
  api: ApiClient;
  /** The admin token `api` presents. */
  adminToken: string;
  dir: string;
  caPem: Buffer;
  /** Server-authenticated TLS, no client certificate (what JoinNode and API clients use). */
  serverAuthOnly(): ChannelCredentials;
  /** mTLS with a joined agent's own key and certificate, as saved in its TLS dir. */
  asNode(name: string): ChannelCredentials;
  startNode(name: string, extra?: { joinToken?: string; stateDir?: string }): Promise<RunningAgent>;
  stop(): Promise<void>;
}

/**
 * A real scheduler serving TLS from a fresh cluster CA, and agents (libvirt test driver)
 * that join with one-time tokens bound to their names, all registered before it returns.
 */
export async function startSecureCluster(
  names: string[],
  overrides: Partial<SchedulerConfig> = {},
  host: { vcpus: number; memoryMib: number } = { vcpus: 8, memoryMib: 16384 },
): Promise<SecureCluster> {
  const dir = mkdtempSync(join(tmpdir(), "drover-tls-"));
  await createClusterCa(join(dir, "ca"));
  const caFile = join(dir, "ca", "ca.pem");
  const caPem = readFileSync(caFile);
  const db = await createTestDatabase();
  const scheduler = await startScheduler(
    { ...defaultConfig, databaseUrl: db.url, natsUrl: "", listen: "127.0.0.1:0", metricsListen: "127.0.0.1:0", tickMs: 50, heartbeatIntervalMs: 1000, tlsDir: join(dir, "ca"), ...overrides },
    quiet,
  );
  const tlsDirOf = (name: string) => join(dir, "nodes", name);
  const startNode = async (name: string, extra: { joinToken?: string; stateDir?: string } = {}) =>
    startAgent(
      {
        nodeName: name,
        libvirtUri: testHostUri(host),
        listen: "127.0.0.1:0",
        schedulerAddress: scheduler.address,
        heartbeatIntervalMs: 200,
        diskGib: 100,
        caFile,
        tlsDir: tlsDirOf(name),
        joinToken: extra.joinToken ?? (await createJoinToken(scheduler.sql, { nodeName: name, ttlMs: 60_000 })).token,
        ...(extra.stateDir ? { stateDir: extra.stateDir } : {}),
      },
      { log: quiet },
    );
  const agents = await Promise.all(names.map((n) => startNode(n)));
  await Promise.all(agents.map((a) => a.registered()));
  const adminToken = (await issueToken(scheduler.sql, { role: "admin", project: "default", description: "test cluster" })).bearer;
  const api = apiClient(scheduler.address, credentials.createSsl(caPem), adminToken);
  await waitFor("every agent registered", async () => ((await api.listNodes()).length === names.length ? true : undefined));
  return {
    scheduler,
    agents,
    api,
    adminToken,
    dir,
    caPem,
    serverAuthOnly: () => credentials.createSsl(caPem),
    asNode: (name) =>
      credentials.createSsl(caPem, readFileSync(join(tlsDirOf(name), "key.pem")), readFileSync(join(tlsDirOf(name), "cert.pem")), {
        // Agents are dialed by address, not by a name in their certificate.
        checkServerIdentity: () => undefined,
      }),
    startNode,
    async stop() {
      api.close();
      await Promise.all(agents.map((a) => a.stop()));
      await scheduler.stop();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
