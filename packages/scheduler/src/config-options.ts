// The scheduler's options, each declared once: defaults, parsing, `drover-scheduler --help`,
// the README table and deploy/config/scheduler.env.example come from here (npm run docs:config).
import { SCORER_NAMES } from "@drover/placement";
import type { SchedulerConfig } from "./config.js";
import { parseScorers } from "./scorer-list.js";
import { choice, decimal, givenIn, hostPort, integer, parseHostPort, text, type OptionTable } from "@drover/options";

const DAY_MS = 86_400_000;

export const SCHEDULER_OPTIONS: OptionTable<SchedulerConfig> = {
  databaseUrl: {
    env: "DROVER_DATABASE_URL",
    ...text("URL", (v) => {
      if (!/^postgres(ql)?:\/\//.test(v)) throw new Error("expected a postgres:// URL");
    }),
    default: "",
    help:
      "Postgres URL (postgres://user:pass@host:5432/drover); empty runs embedded Postgres (PGlite, one replica only). " +
      "`?host=/var/run/postgresql` connects through that Unix-socket directory, as with libpq (cheaper than TCP when Postgres is on the same host). " +
      "TLS as with libpq: `?sslmode=verify-full&sslrootcert=/etc/drover/pg-ca.pem` (also verify-ca, require; sslcert/sslkey for a client certificate).",
  },
  dataDir: {
    env: "DROVER_DATA_DIR",
    ...text("path"),
    default: "",
    help: "Where embedded Postgres keeps its data; empty keeps it in memory (lost on restart).",
  },
  natsUrl: {
    env: "DROVER_NATS_URL",
    ...text("URL"),
    default: "nats://127.0.0.1:4222",
    emptyIsValue: true,
    help: "NATS server for JetStream events; empty disables publishing (the Postgres outbox still keeps every event for WatchEvents).",
  },
  natsTlsCa: {
    env: "DROVER_NATS_TLS_CA",
    ...text("path"),
    default: "",
    help: "CA certificate (PEM) that signs the NATS server's certificate; set, or a tls:// DROVER_NATS_URL, turns TLS to NATS on.",
  },
  natsTlsCert: {
    env: "DROVER_NATS_TLS_CERT",
    ...text("path"),
    default: "",
    help: "Client certificate (PEM) for a NATS server that verifies clients (with DROVER_NATS_TLS_KEY).",
  },
  natsTlsKey: {
    env: "DROVER_NATS_TLS_KEY",
    ...text("path"),
    default: "",
    help: "Private key (PEM) of DROVER_NATS_TLS_CERT.",
  },
  listen: {
    env: "DROVER_LISTEN",
    ...hostPort,
    default: "0.0.0.0:7400",
    help: "gRPC listen address; clients and agents connect here (TLS from the cluster CA unless DROVER_INSECURE=1), port 0 picks a free one.",
  },
  metricsListen: {
    env: "DROVER_METRICS_LISTEN",
    ...text("host:port", (v) => {
      if (v !== "") parseHostPort(v);
    }),
    default: "0.0.0.0:9400",
    emptyIsValue: true,
    help: "Prometheus listen address, serves GET /metrics; empty disables it.",
  },
  heartbeatIntervalMs: {
    env: "DROVER_HEARTBEAT_INTERVAL_MS",
    ...integer(1000, 3_600_000, "ms"),
    default: 2000,
    deprecated: [{ env: "DROVER_HEARTBEAT_INTERVAL_SECONDS", ...givenIn("seconds") }],
    help:
      "Heartbeat interval asked of agents when they register, sent in whole seconds (rounded down); " +
      "an agent beats at the shorter of this and its own DROVER_HEARTBEAT_MS, or slower when DROVER_MAX_HEARTBEATS_PER_SECOND asks it to.",
  },
  heartbeatTimeoutMs: {
    env: "DROVER_HEARTBEAT_TIMEOUT_MS",
    ...integer(100, DAY_MS, "ms"),
    default: 10_000,
    help:
      "Silence after which a node is DOWN and its VMs LOST; for an agent slowed down by DROVER_MAX_HEARTBEATS_PER_SECOND, " +
      "scaled by the same factor as its interval (timeout / interval stays as configured).",
  },
  maxHeartbeatsPerSecond: {
    env: "DROVER_MAX_HEARTBEATS_PER_SECOND",
    ...integer(0, 1_000_000),
    default: 1000,
    help:
      "Heartbeats a second this replica takes at most: with more nodes on its heartbeat streams than this × the interval, " +
      "it tells their agents to beat every ⌈nodes / this⌉ s instead (2 s up to 2,000 nodes, 10 s at 10,000: docs/architecture.md, 'The beat-rate cap'); 0: no cap.",
  },
  cpuAllocationRatio: {
    env: "DROVER_CPU_ALLOCATION_RATIO",
    ...decimal(0.01, 1000),
    default: 4,
    help: "vCPU overcommit ratio given to a node when it first registers (UpdateNode changes it later).",
  },
  memoryAllocationRatio: {
    env: "DROVER_MEMORY_ALLOCATION_RATIO",
    ...decimal(0.01, 1000),
    default: 1,
    help: "Memory overcommit ratio given to a node when it first registers.",
  },
  diskAllocationRatio: {
    env: "DROVER_DISK_ALLOCATION_RATIO",
    ...decimal(0.01, 1000),
    default: 1,
    help: "Disk overcommit ratio given to a node when it first registers.",
  },
  reservedVcpus: {
    env: "DROVER_RESERVED_VCPUS",
    ...integer(0, 1_000_000),
    default: 0,
    help: "vCPUs held back for the host on each newly registered node.",
  },
  reservedMemoryMib: {
    env: "DROVER_RESERVED_MEMORY_MIB",
    ...integer(0, 1_073_741_824, "MiB"),
    default: 0,
    help: "Memory held back for the host on each newly registered node.",
  },
  reservedDiskGib: {
    env: "DROVER_RESERVED_DISK_GIB",
    ...integer(0, 1_048_576, "GiB"),
    default: 0,
    help: "Disk held back for the host on each newly registered node.",
  },
  defaultStrategy: {
    env: "DROVER_DEFAULT_STRATEGY",
    ...choice(["spread", "pack"] as const),
    default: "spread",
    help: "Placement strategy when a request names none.",
  },
  defaultNetwork: {
    env: "DROVER_DEFAULT_NETWORK",
    ...text("name", (v) => {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(v)) throw new Error("expected a catalog network's name (letters, digits, '.', '_' or '-')");
    }),
    default: "",
    help: "Catalog network (drover network list) for VMs whose spec names none; empty gives such VMs no NIC. `npm run cluster` sets drover-nat.",
  },
  scorers: {
    env: "DROVER_SCORERS",
    type: "name:weight,…",
    range: `(weight ≥ 0; scorers: ${SCORER_NAMES.join(", ")})`,
    parse: parseScorers,
    show: (scorers) => scorers.map((s) => `${s.name}:${s.weight}`).join(","),
    default: [],
    help:
      "Extra scorers and weights by registry name, added to the strategy's own (weight 1), " +
      "e.g. label-preference:3,soft-anti-affinity:1; weight 0 turns one off.",
  },
  placementCandidates: {
    env: "DROVER_PLACEMENT_CANDIDATES",
    ...integer(0, 1_000_000),
    default: 0,
    help:
      "Feasible nodes scored per VM (a Nomad-style limit); 0 = the engine default: " +
      "spread scores 64 sampled nodes on clusters above 256 nodes, pack scores every feasible node.",
  },
  dispatchAttempts: {
    env: "DROVER_DISPATCH_ATTEMPTS",
    ...integer(1, 100),
    default: 3,
    help: "Dispatch attempts (on distinct nodes) before a VM is FAILED.",
  },
  dispatchConcurrency: {
    env: "DROVER_DISPATCH_CONCURRENCY",
    ...integer(1, 10_000),
    default: 256,
    help: "Concurrent EnsureDomain calls to agents per scheduler replica.",
  },
  dispatchPerNode: {
    env: "DROVER_DISPATCH_PER_NODE",
    ...integer(1, 10_000),
    default: 8,
    help:
      "Concurrent EnsureDomain calls per node per replica (like Nova's max_concurrent_builds), " +
      "so a bulk packed onto few hosts does not start hundreds of domains on one at once.",
  },
  dispatchWaitMs: {
    env: "DROVER_DISPATCH_WAIT_MS",
    ...integer(0, 86_400_000, "ms"),
    default: 120_000,
    help:
      "How long a VM whose node is DOWN or DEGRADED, with no other node to take it, waits for one " +
      "before it is FAILED (0: FAILED at once).",
  },
  restartLimit: {
    env: "DROVER_RESTART_LIMIT",
    ...integer(0, 1000),
    default: 5,
    help:
      "Automatic restarts of a VM (restart policy on-crash or always) within DROVER_RESTART_WINDOW_MS; " +
      "the crash after them ends the VM FAILED with the reason (a guest that keeps powering off under always stays STOPPED).",
  },
  restartBackoffMs: {
    env: "DROVER_RESTART_BACKOFF_MS",
    ...integer(0, 3_600_000, "ms"),
    default: 1000,
    help: "Wait before a VM's first automatic restart; each next one within the window waits twice as long, up to 5 minutes.",
  },
  restartWindowMs: {
    env: "DROVER_RESTART_WINDOW_MS",
    ...integer(1000, 86_400_000, "ms"),
    default: 600_000,
    help: "Automatic restarts are counted within this time from the first; a VM that stays up longer starts a fresh count.",
  },
  stopTimeoutMs: {
    env: "DROVER_STOP_TIMEOUT_MS",
    ...integer(100, 86_400_000, "ms"),
    default: 120_000,
    help:
      "How long a graceful StopVm waits for the guest to power off (the VM is STOPPING meanwhile); " +
      "after it the VM is RUNNING again with the reason, and a forced stop is needed.",
  },
  agentTimeoutMs: {
    env: "DROVER_AGENT_TIMEOUT_MS",
    ...integer(100, 3_600_000, "ms"),
    default: 60_000,
    help: "Deadline of one call to an agent.",
  },
  maxMessageMib: {
    env: "DROVER_MAX_MESSAGE_MIB",
    ...integer(1, 64, "MiB"),
    default: 4,
    help:
      "Largest gRPC message the scheduler's server accepts or sends (the API, and agents' NodeRegistry calls and heartbeat streams); " +
      "a larger request fails with RESOURCE_EXHAUSTED before it is parsed. Answers from agents are taken up to 4 MiB whatever it is.",
  },
  claimRetries: {
    env: "DROVER_CLAIM_RETRIES",
    ...integer(0, 1000),
    default: 8,
    help: "Placement retries after claim conflicts with other writers before the request fails with ABORTED.",
  },
  tickMs: {
    env: "DROVER_TICK_MS",
    ...integer(10, 60_000, "ms"),
    default: 250,
    help:
      "Period of the background loops: dispatcher poll, outbox relay, VM timers (at least 200 ms) and WatchEvents' poll of Postgres. " +
      "The liveness check has its own period: DROVER_HEARTBEAT_TIMEOUT_MS / 4, at most 1 s.",
  },
  snapshotTtlMs: {
    env: "DROVER_SNAPSHOT_TTL_MS",
    ...integer(0, 60_000, "ms"),
    default: 500,
    help: "How stale this replica's cached view of node capacity may get (claims are still checked in Postgres); its view of (anti-)affinity group members keeps 10× as long (the claim's statement checks the groups too).",
  },
  eventRetentionMs: {
    env: "DROVER_EVENT_RETENTION_MS",
    ...integer(0, 3650 * DAY_MS, "ms"),
    default: 7 * DAY_MS,
    deprecated: [{ env: "DROVER_EVENT_RETENTION_HOURS", ...givenIn("hours") }],
    help:
      "How long events stay in Postgres for WatchEvents (7 days; only once published, if NATS is configured); " +
      "0 keeps them forever. The NATS stream keeps its own 7 days.",
  },
  vmRetentionMs: {
    env: "DROVER_VM_RETENTION_MS",
    ...integer(0, 3650 * DAY_MS, "ms"),
    default: 7 * DAY_MS,
    deprecated: [{ env: "DROVER_VM_RETENTION_HOURS", ...givenIn("hours") }],
    help:
      "How long DELETED and FAILED VMs stay after their last change (7 days): GetVm and ListVms show them, and a retry " +
      "with their create's idempotency key answers with them; then they are purged (GetVm: NOT_FOUND; the key is " +
      "forgotten with its request's last VM, so a retry after that creates anew). Never one whose events NATS has " +
      "not got yet. 0 keeps them forever.",
  },
  auditDeniedPerWindow: {
    env: "DROVER_AUDIT_DENIED_PER_WINDOW",
    ...integer(0, 10_000),
    default: 20,
    help:
      "Refused API calls (bad or no token, missing role) recorded one drover.audit.denied event each per window and replica; " +
      "later ones in the window are folded into one event per method and result, with a count.",
  },
  auditDeniedWindowMs: {
    env: "DROVER_AUDIT_DENIED_WINDOW_MS",
    ...integer(1000, 3_600_000, "ms"),
    default: 10_000,
    help: "The window of DROVER_AUDIT_DENIED_PER_WINDOW; folded events are written when it ends.",
  },
  insecure: {
    env: "DROVER_INSECURE",
    type: "0|1",
    parse(text) {
      if (text !== "0" && text !== "1") throw new Error("expected 0 or 1");
      return text === "1";
    },
    show: (v) => (v ? "1" : "0"),
    default: false,
    help:
      "1 turns security off: no TLS and no token check, every caller acts as admin of project default (logged loudly at start). " +
      "For a laptop or a test cluster only.",
  },
  tlsDir: {
    env: "DROVER_TLS_DIR",
    ...text("path"),
    default: "",
    help:
      "Directory holding the cluster CA (ca.pem, ca-key.pem; `drover-scheduler ca create` makes them). " +
      "The scheduler issues its own serving certificate from it, and node certificates through JoinNode. Required unless DROVER_INSECURE=1.",
  },
  tlsHosts: {
    env: "DROVER_TLS_HOSTS",
    type: "name,…",
    parse: (v) => v.split(",").map((h) => h.trim()).filter((h) => h !== ""),
    show: (hosts) => hosts.join(","),
    default: ["localhost", "127.0.0.1", "::1"],
    help: "DNS names and IP addresses clients and agents dial this scheduler by; they go into its certificate's subjectAltName.",
  },
  nodeCertTtlMs: {
    env: "DROVER_NODE_CERT_TTL_MS",
    ...integer(1000, 365 * DAY_MS, "ms"),
    default: 7 * DAY_MS,
    help: "Lifetime of a node certificate; agents renew at 2/3 of it (RenewCertificate), without a restart.",
  },
  schedulerCertTtlMs: {
    env: "DROVER_SCHEDULER_CERT_TTL_MS",
    ...integer(1000, 365 * DAY_MS, "ms"),
    default: 7 * DAY_MS,
    help: "Lifetime of the certificate the scheduler issues itself at start; it renews it at 2/3 of it, without a restart.",
  },
  databasePoolSize: {
    env: "DROVER_DATABASE_POOL_SIZE",
    ...integer(1, 1000),
    default: 20,
    help: "Postgres connections per replica, besides the 2 that heartbeats have to themselves (embedded Postgres: one connection for everything).",
  },
  shutdownGraceMs: {
    env: "DROVER_SHUTDOWN_GRACE_MS",
    ...integer(100, 600_000, "ms"),
    default: 10_000,
    help:
      "After SIGTERM or SIGINT, how long open calls and background work may go on; past it the database connections are cut (what waits on " +
      "them fails) and open calls are cancelled. The process exits by 5 s after it at the latest (status 1 if work was still open); a second signal exits at once.",
  },
};
