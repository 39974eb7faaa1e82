import { getScorer, type ScorerWeight, type Strategy } from "@drover/placement";

export interface SchedulerConfig {
  /** postgres:// URL; empty runs the embedded Postgres (PGlite) in dataDir. */
  databaseUrl: string;
  /** Where embedded Postgres keeps its data; empty keeps it in memory. */
  dataDir: string;
  /** NATS server for events; empty disables publishing (the outbox still keeps every event). */
  natsUrl: string;
  /** gRPC listen address host:port (port 0 picks a free one). */
  listen: string;
  /** Prometheus /metrics listen address; empty disables it. */
  metricsListen: string;
  heartbeatIntervalSeconds: number;
  /** A node whose last heartbeat is older than this is DOWN. */
  heartbeatTimeoutMs: number;
  /** Allocation ratios and reservations given to a node when it first registers. */
  cpuAllocationRatio: number;
  memoryAllocationRatio: number;
  diskAllocationRatio: number;
  reservedVcpus: number;
  reservedMemoryMib: number;
  reservedDiskGib: number;
  defaultStrategy: Strategy;
  /** Extra scorers and weights by registry name, added to the strategy's own (weight 1). */
  scorers: ScorerWeight[];
  /** Feasible nodes scored per VM; 0 scores them all. */
  placementCandidates: number;
  /** Dispatch attempts (distinct nodes) before a VM is FAILED. */
  dispatchAttempts: number;
  /** Concurrent EnsureDomain calls per scheduler. */
  dispatchConcurrency: number;
  /** Concurrent EnsureDomain calls per node per scheduler (Nova's max_concurrent_builds). */
  dispatchPerNode: number;
  /** How long one agent call may take. */
  agentTimeoutMs: number;
  /** Placement retries after claim conflicts before giving up with ABORTED. */
  claimRetries: number;
  /** Background loop period (dispatcher poll, liveness, relay). */
  tickMs: number;
  /** How old this replica's cached view of node capacity may get before a re-read. */
  snapshotTtlMs: number;
  /** How long events stay in the outbox (WatchEvents history) after publishing; 0 keeps them forever. */
  eventRetentionHours: number;
  /** Postgres connections per replica. */
  databasePoolSize: number;
}

export const defaultConfig: SchedulerConfig = {
  databaseUrl: "",
  dataDir: "",
  natsUrl: "nats://127.0.0.1:4222",
  listen: "0.0.0.0:7400",
  metricsListen: "0.0.0.0:9400",
  heartbeatIntervalSeconds: 2,
  heartbeatTimeoutMs: 10_000,
  cpuAllocationRatio: 4.0,
  memoryAllocationRatio: 1.0,
  diskAllocationRatio: 1.0,
  reservedVcpus: 0,
  reservedMemoryMib: 0,
  reservedDiskGib: 0,
  defaultStrategy: "spread",
  scorers: [],
  placementCandidates: 0,
  dispatchAttempts: 3,
  dispatchConcurrency: 256,
  dispatchPerNode: 8,
  agentTimeoutMs: 60_000,
  claimRetries: 8,
  tickMs: 250,
  snapshotTtlMs: 500,
  eventRetentionHours: 168,
  databasePoolSize: 20,
};

type Env = Record<string, string | undefined>;

const num = (env: Env, key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) {
    throw new Error(`${key}=${raw}: must be a number between ${min} and ${max}`);
  }
  return v;
};

/** "label-preference:2,soft-anti-affinity:3" → scorer weights; throws naming a bad entry. */
export function parseScorers(raw: string | undefined): ScorerWeight[] {
  if (!raw) return [];
  return raw.split(",").map((entry) => {
    const [name = "", weightText = "1"] = entry.trim().split(":");
    const weight = Number(weightText);
    try {
      getScorer(name);
    } catch (e) {
      throw new Error(`DROVER_SCORERS: ${(e as Error).message}`);
    }
    if (!Number.isFinite(weight) || weight < 0) throw new Error(`DROVER_SCORERS: weight of ${name} must be a number >= 0, got ${weightText}`);
    return { name, weight };
  });
}

/** Reads DROVER_* variables; anything unset keeps its default. Throws naming the bad variable. */
export function configFromEnv(env: Env): SchedulerConfig {
  const strategy = env.DROVER_DEFAULT_STRATEGY ?? defaultConfig.defaultStrategy;
  if (strategy !== "spread" && strategy !== "pack") {
    throw new Error(`DROVER_DEFAULT_STRATEGY=${strategy}: must be spread or pack`);
  }
  return {
    databaseUrl: env.DROVER_DATABASE_URL ?? defaultConfig.databaseUrl,
    dataDir: env.DROVER_DATA_DIR ?? defaultConfig.dataDir,
    natsUrl: env.DROVER_NATS_URL ?? defaultConfig.natsUrl,
    listen: env.DROVER_LISTEN ?? defaultConfig.listen,
    metricsListen: env.DROVER_METRICS_LISTEN ?? defaultConfig.metricsListen,
    heartbeatIntervalSeconds: num(env, "DROVER_HEARTBEAT_INTERVAL_SECONDS", defaultConfig.heartbeatIntervalSeconds, 1, 3600),
    heartbeatTimeoutMs: num(env, "DROVER_HEARTBEAT_TIMEOUT_MS", defaultConfig.heartbeatTimeoutMs, 100),
    cpuAllocationRatio: num(env, "DROVER_CPU_ALLOCATION_RATIO", defaultConfig.cpuAllocationRatio, 0.01, 1000),
    memoryAllocationRatio: num(env, "DROVER_MEMORY_ALLOCATION_RATIO", defaultConfig.memoryAllocationRatio, 0.01, 1000),
    diskAllocationRatio: num(env, "DROVER_DISK_ALLOCATION_RATIO", defaultConfig.diskAllocationRatio, 0.01, 1000),
    reservedVcpus: num(env, "DROVER_RESERVED_VCPUS", defaultConfig.reservedVcpus, 0),
    reservedMemoryMib: num(env, "DROVER_RESERVED_MEMORY_MIB", defaultConfig.reservedMemoryMib, 0),
    reservedDiskGib: num(env, "DROVER_RESERVED_DISK_GIB", defaultConfig.reservedDiskGib, 0),
    defaultStrategy: strategy,
    scorers: parseScorers(env.DROVER_SCORERS),
    placementCandidates: num(env, "DROVER_PLACEMENT_CANDIDATES", defaultConfig.placementCandidates, 0, 1_000_000),
    dispatchAttempts: num(env, "DROVER_DISPATCH_ATTEMPTS", defaultConfig.dispatchAttempts, 1, 100),
    dispatchConcurrency: num(env, "DROVER_DISPATCH_CONCURRENCY", defaultConfig.dispatchConcurrency, 1, 10_000),
    dispatchPerNode: num(env, "DROVER_DISPATCH_PER_NODE", defaultConfig.dispatchPerNode, 1, 10_000),
    agentTimeoutMs: num(env, "DROVER_AGENT_TIMEOUT_MS", defaultConfig.agentTimeoutMs, 100),
    claimRetries: num(env, "DROVER_CLAIM_RETRIES", defaultConfig.claimRetries, 0, 1000),
    tickMs: num(env, "DROVER_TICK_MS", defaultConfig.tickMs, 10, 60_000),
    snapshotTtlMs: num(env, "DROVER_SNAPSHOT_TTL_MS", defaultConfig.snapshotTtlMs, 0, 60_000),
    eventRetentionHours: num(env, "DROVER_EVENT_RETENTION_HOURS", defaultConfig.eventRetentionHours, 0, 87_600),
    databasePoolSize: num(env, "DROVER_DATABASE_POOL_SIZE", defaultConfig.databasePoolSize, 1, 1000),
  };
}
