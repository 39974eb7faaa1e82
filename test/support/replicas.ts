// Several scheduler processes on one fresh Postgres database, with test-driver agents spread over
// them: the set-up of the multi-replica tests.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, type ChannelCredentials } from "@grpc/grpc-js";
import type { RunningAgent } from "@drover/agent";
import { createClusterCa, createJoinToken, issueToken } from "@drover/scheduler";
import { connect, migrate, type Sql } from "@drover/store";
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
  /** One API client per replica (secure: over TLS, as the admin). */
  clients: ApiClient[];
  /** The shared database, for the test's own checks. */
  sql: Sql;
  /** Set when started secure. */
  tls?: {
    /** Server-authenticated TLS against the cluster CA (what API clients use). */
    credentials(): ChannelCredentials;
    /** An admin token of project "default". */
    adminToken: string;
  };
  stop(): Promise<void>;
}

export interface ReplicaOptions {
  /**
   * TLS from a fresh cluster CA and token checks (DROVER_INSECURE=0); the agents join with one-time
   * tokens. The database is migrated first (the admin token is issued before any replica starts).
   */
  secure?: boolean;
}

/**
 * `count` scheduler processes with `env` (DROVER_DATABASE_URL and DROVER_NATS_URL are set here,
 * env may override the latter), started one after the other (the later ones also run, and skip,
 * the migrations), and an agent per host, every one registered before it returns.
 */
export async function startReplicas(
  count: number,
  env: Record<string, string>,
  hosts: HostSpec[],
  heartbeatIntervalMs: number,
  options: ReplicaOptions = {},
): Promise<Replicas> {
  const db = await createTestDatabase();
  const sql = connect(db.url);
  const dir = options.secure ? mkdtempSync(join(tmpdir(), "drover-replicas-")) : undefined;
  const tls = dir ? await secureSetUp(sql, dir) : undefined;
  const common = { DROVER_DATABASE_URL: db.url, DROVER_NATS_URL: NATS_URL, ...(tls ? { DROVER_INSECURE: "0", DROVER_TLS_DIR: join(dir!, "ca") } : {}) };
  const probe = tls ? { creds: tls.credentials(), token: tls.adminToken } : {};
  const replicas: SchedulerProcess[] = [];
  for (let i = 0; i < count; i++) replicas.push(await startSchedulerProcess({ ...common, ...env }, probe));
  const agents = await startTestAgents(hosts, {
    scheduler: (i) => replicas[i % count]!.address,
    heartbeatIntervalMs,
    log: () => {},
    ...(dir ? { secure: { caFile: join(dir, "ca", "ca.pem"), nodesDir: join(dir, "nodes"), joinToken: async (node: string) => (await createJoinToken(sql, { nodeName: node, ttlMs: 60_000 })).token } } : {}),
  });
  const clients = replicas.map((r) => (tls ? apiClient(r.address, tls.credentials(), tls.adminToken) : apiClient(r.address)));
  return {
    replicas,
    agents,
    clients,
    sql,
    ...(tls ? { tls } : {}),
    async stop() {
      clients.forEach((c) => c.close());
      await Promise.all(agents.map((a) => a.stop()));
      await Promise.all(replicas.map((r) => r.stop()));
      await sql.end();
      await db.drop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A cluster CA in dir/ca and an admin token in the (now migrated) database. */
async function secureSetUp(sql: Sql, dir: string): Promise<NonNullable<Replicas["tls"]>> {
  await createClusterCa(join(dir, "ca"));
  const caPem = readFileSync(join(dir, "ca", "ca.pem"));
  await migrate(sql);
  const adminToken = (await issueToken(sql, { role: "admin", project: "default", description: "replicas" })).bearer;
  return { credentials: () => credentials.createSsl(caPem), adminToken };
}
