// The scheduler's configuration. Every option is declared once, in config-options.ts;
// the @default tags below are checked against it by config.test.ts.
import type { ScorerWeight, Strategy } from "@drover/placement";
import { SCHEDULER_OPTIONS } from "./config-options.js";
import { defaultsOf, formatHelp, readOptions, warnOnceToStderr, type Warn } from "@drover/options";
import { TLS_COMMANDS_USAGE } from "./tls/commands-usage.js";

export { parseScorers } from "./scorer-list.js";
export { SCHEDULER_OPTIONS } from "./config-options.js";
export { ConfigError } from "@drover/options";

export interface SchedulerConfig {
  /**
   * No TLS and no token check: every caller acts as admin of project default.
   * @default false
   */
  insecure: boolean;
  /**
   * postgres:// URL; empty runs the embedded Postgres (PGlite) in dataDir.
   * @default ""
   */
  databaseUrl: string;
  /**
   * Where embedded Postgres keeps its data; empty keeps it in memory.
   * @default ""
   */
  dataDir: string;
  /**
   * NATS server for events; empty disables publishing (the outbox still keeps every event).
   * @default "nats://127.0.0.1:4222"
   */
  natsUrl: string;
  /**
   * CA file for TLS to NATS; empty: none (a tls:// URL still asks for TLS).
   * @default ""
   */
  natsTlsCa: string;
  /**
   * Client certificate file for NATS.
   * @default ""
   */
  natsTlsCert: string;
  /**
   * Client key file for NATS.
   * @default ""
   */
  natsTlsKey: string;
  /**
   * gRPC listen address host:port (port 0 picks a free one).
   * @default "0.0.0.0:7400"
   */
  listen: string;
  /**
   * Prometheus /metrics listen address; empty disables it.
   * @default "0.0.0.0:9400"
   */
  metricsListen: string;
  /**
   * Heartbeat interval asked of agents, in ms (sent to them in whole seconds).
   * @default 2000
   */
  heartbeatIntervalMs: number;
  /**
   * A node whose last heartbeat is older than this (ms) is DOWN.
   * @default 10000
   */
  heartbeatTimeoutMs: number;
  /**
   * Heartbeats a second this replica takes at most: agents are told to beat no more often than
   * every (its heartbeating nodes / this) seconds, and their timeout grows with their interval. 0: no cap.
   * @default 1000
   */
  maxHeartbeatsPerSecond: number;
  /**
   * vCPU allocation ratio given to a node when it first registers.
   * @default 4
   */
  cpuAllocationRatio: number;
  /**
   * Memory allocation ratio given to a node when it first registers.
   * @default 1
   */
  memoryAllocationRatio: number;
  /**
   * Disk allocation ratio given to a node when it first registers.
   * @default 1
   */
  diskAllocationRatio: number;
  /**
   * vCPUs reserved for the host on a newly registered node.
   * @default 0
   */
  reservedVcpus: number;
  /**
   * Memory (MiB) reserved for the host on a newly registered node.
   * @default 0
   */
  reservedMemoryMib: number;
  /**
   * Disk (GiB) reserved for the host on a newly registered node.
   * @default 0
   */
  reservedDiskGib: number;
  /**
   * Strategy of a request that names none.
   * @default "spread"
   */
  defaultStrategy: Strategy;
  /**
   * Catalog network for VMs whose spec names none; empty gives them no NIC.
   * @default ""
   */
  defaultNetwork: string;
  /**
   * Extra scorers and weights by registry name, added to the strategy's own (weight 1).
   * @default []
   */
  scorers: ScorerWeight[];
  /**
   * Feasible nodes scored per VM; 0 leaves it to the engine (defaultMaxCandidates).
   * @default 0
   */
  placementCandidates: number;
  /**
   * Dispatch attempts (distinct nodes) before a VM is FAILED.
   * @default 3
   */
  dispatchAttempts: number;
  /**
   * Concurrent EnsureDomain calls per scheduler.
   * @default 256
   */
  dispatchConcurrency: number;
  /**
   * Concurrent EnsureDomain calls per node per scheduler (Nova's max_concurrent_builds).
   * @default 8
   */
  dispatchPerNode: number;
  /**
   * How long a VM whose node is DOWN or DEGRADED waits for it or another node before FAILED (ms).
   * @default 120000
   */
  dispatchWaitMs: number;
  /**
   * Automatic restarts of a VM within restartWindowMs; the next crash makes it FAILED.
   * @default 5
   */
  restartLimit: number;
  /**
   * Wait before the first automatic restart (ms); doubles with each next one, up to 5 minutes.
   * @default 1000
   */
  restartBackoffMs: number;
  /**
   * Window in which automatic restarts are counted (ms).
   * @default 600000
   */
  restartWindowMs: number;
  /**
   * How long a graceful stop waits for the guest to power off (ms) before the VM is RUNNING again.
   * @default 120000
   */
  stopTimeoutMs: number;
  /**
   * How long one agent call may take (ms).
   * @default 60000
   */
  agentTimeoutMs: number;
  /**
   * Largest gRPC message the API accepts or sends, in MiB.
   * @default 4
   */
  maxMessageMib: number;
  /**
   * Placement retries after claim conflicts before giving up with ABORTED.
   * @default 8
   */
  claimRetries: number;
  /**
   * Background loop period in ms (dispatcher poll, liveness, relay).
   * @default 250
   */
  tickMs: number;
  /**
   * How old (ms) this replica's cached view of node capacity may get before a re-read.
   * @default 500
   */
  snapshotTtlMs: number;
  /**
   * How long (ms) events stay in the outbox (WatchEvents history) after publishing; 0 keeps them forever.
   * @default 604800000
   */
  eventRetentionMs: number;
  /**
   * How long (ms) a DELETED or FAILED VM stays (GetVm, ListVms, idempotent replays) after its last change; 0 keeps them forever.
   * @default 604800000
   */
  vmRetentionMs: number;
  /**
   * Refused API calls recorded one drover.audit.denied event each per window and replica.
   * @default 20
   */
  auditDeniedPerWindow: number;
  /**
   * The window (ms) of auditDeniedPerWindow; refusals past it are folded into counted events.
   * @default 10000
   */
  auditDeniedWindowMs: number;
  /**
   * Directory with the cluster CA (ca.pem, ca-key.pem); required unless insecure.
   * @default ""
   */
  tlsDir: string;
  /**
   * Names and addresses in the scheduler certificate's subjectAltName.
   * @default ["localhost","127.0.0.1","::1"]
   */
  tlsHosts: string[];
  /**
   * Lifetime (ms) of node certificates; agents renew at 2/3.
   * @default 604800000
   */
  nodeCertTtlMs: number;
  /**
   * Lifetime (ms) of the scheduler's own certificate; renewed at 2/3.
   * @default 604800000
   */
  schedulerCertTtlMs: number;
  /**
   * Postgres connections per replica.
   * @default 20
   */
  databasePoolSize: number;
  /**
   * How long (ms) a stopping scheduler lets open work go on before it cuts the database connections and open calls.
   * @default 10000
   */
  shutdownGraceMs: number;
}

/** Every option at its built-in value. */
export const defaultConfig: SchedulerConfig = defaultsOf(SCHEDULER_OPTIONS);

/**
 * Reads the DROVER_* variables; unset or empty keeps the default (except where empty
 * disables something). A deprecated variable still works and is warned about once.
 * Throws a ConfigError naming the variable, the value and what is allowed.
 */
export function configFromEnv(env: Record<string, string | undefined>, warn: Warn = warnOnceToStderr("drover-scheduler")): SchedulerConfig {
  return readOptions(SCHEDULER_OPTIONS, env, {}, warn);
}

/** `drover-scheduler --help`. */
export function schedulerUsage(): string {
  return formatHelp(
    SCHEDULER_OPTIONS,
    "usage: drover-scheduler [--help]\nConfigured by environment variables; unset or empty keeps the default, except where empty disables something.\n\n" +
      TLS_COMMANDS_USAGE,
  );
}
