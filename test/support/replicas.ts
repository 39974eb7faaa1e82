// Several scheduler processes on one fresh Postgres database, with test-driver agents spread over
// them: the set-up of the multi-replica tests.
import type { RunningAgent } from "@drover/agent";
import { connect, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "./clients.js";
import { NATS_URL } from "./cluster.js";
import { startSchedulerProcess } from "./scheduler-process.js";
import { startTestAgents, type HostSpec } from "./test-agents.js";

export type SchedulerProcess = Awaited<ReturnType<typeof startSchedulerProcess>>;

export interface Replicas {
  replicas: SchedulerProcess[];
  /** Agent i beats to replica i % replicas. */
  agents: RunningAgent[];
  /** One API client per replica. */
  clients: ApiClient[];
  /** The shared database, for the test's own checks. */
  sql: Sql;
  stop(): Promise<void>;
}

/**
 * `count` insecure scheduler processes with `env` (DROVER_DATABASE_URL and DROVER_NATS_URL are
 * set here), started one after the other (the later ones also run, and skip, the migrations),
 * and an agent per host, every one registered before it returns.
 */
export async function startReplicas(
  count: number,
  env: Record<string, string>,
  hosts: HostSpec[],
  heartbeatIntervalMs: number,
): Promise<Replicas> {
  const db = await createTestDatabase();
  const replicas: SchedulerProcess[] = [];
  for (let i = 0; i < count; i++) replicas.push(await startSchedulerProcess({ DROVER_DATABASE_URL: db.url, DROVER_NATS_URL: NATS_URL, ...env }));
  const agents = await startTestAgents(hosts, { scheduler: (i) => replicas[i % count]!.address, heartbeatIntervalMs, log: () => {} });
  const clients = replicas.map((r) => apiClient(r.address));
  const sql = connect(db.url);
  return {
    replicas,
    agents,
    clients,
    sql,
    async stop() {
      clients.forEach((c) => c.close());
      await Promise.all(agents.map((a) => a.stop()));
      await Promise.all(replicas.map((r) => r.stop()));
      await sql.end();
      await db.drop();
    },
  };
}
