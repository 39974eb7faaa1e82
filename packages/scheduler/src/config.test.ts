import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, SCHEDULER_OPTIONS, configFromEnv, defaultConfig, parseScorers, schedulerUsage, type SchedulerConfig } from "./config.js";
import { tsdocDefault } from "@drover/options";

const read = (env: Record<string, string>, warnings: string[] = []) => configFromEnv(env, (m) => warnings.push(m));

describe("scheduler configFromEnv", () => {
  it("gives the built-in defaults for an empty environment", () => {
    expect(read({})).toEqual({
      databaseUrl: "",
      dataDir: "",
      natsUrl: "nats://127.0.0.1:4222",
      natsTlsCa: "",
      natsTlsCert: "",
      natsTlsKey: "",
      listen: "0.0.0.0:7400",
      metricsListen: "0.0.0.0:9400",
      heartbeatIntervalMs: 2000,
      heartbeatTimeoutMs: 10_000,
      maxHeartbeatsPerSecond: 1000,
      cpuAllocationRatio: 4,
      memoryAllocationRatio: 1,
      diskAllocationRatio: 1,
      reservedVcpus: 0,
      reservedMemoryMib: 0,
      reservedDiskGib: 0,
      defaultStrategy: "spread",
      defaultNetwork: "",
      scorers: [],
      placementCandidates: 0,
      dispatchAttempts: 3,
      dispatchConcurrency: 256,
      dispatchPerNode: 8,
      dispatchWaitMs: 120_000,
      restartLimit: 5,
      restartBackoffMs: 1000,
      restartWindowMs: 600_000,
      stopTimeoutMs: 120_000,
      agentTimeoutMs: 60_000,
      maxMessageMib: 4,
      claimRetries: 8,
      tickMs: 250,
      snapshotTtlMs: 500,
      eventRetentionMs: 604_800_000,
      vmRetentionMs: 604_800_000,
      auditDeniedPerWindow: 20,
      auditDeniedWindowMs: 10_000,
      databasePoolSize: 20,
      shutdownGraceMs: 10_000,
      insecure: false,
      tlsDir: "",
      tlsHosts: ["localhost", "127.0.0.1", "::1"],
      nodeCertTtlMs: 604_800_000,
      schedulerCertTtlMs: 604_800_000,
    } satisfies SchedulerConfig);
    expect(defaultConfig).toEqual(read({}));
  });

  // [variable, text, field, value]
  it.each<[string, string, keyof SchedulerConfig, unknown]>([
    ["DROVER_DATABASE_URL", "postgres://u:p@db:5432/drover", "databaseUrl", "postgres://u:p@db:5432/drover"],
    ["DROVER_DATABASE_URL", "postgresql:///drover?host=/var/run/postgresql", "databaseUrl", "postgresql:///drover?host=/var/run/postgresql"],
    ["DROVER_DATA_DIR", "/var/lib/x", "dataDir", "/var/lib/x"],
    ["DROVER_NATS_URL", "nats://n:4222", "natsUrl", "nats://n:4222"],
    ["DROVER_NATS_URL", "", "natsUrl", ""],
    ["DROVER_LISTEN", "[::1]:0", "listen", "[::1]:0"],
    ["DROVER_LISTEN", "", "listen", "0.0.0.0:7400"],
    ["DROVER_METRICS_LISTEN", "", "metricsListen", ""],
    ["DROVER_METRICS_LISTEN", "127.0.0.1:9999", "metricsListen", "127.0.0.1:9999"],
    ["DROVER_HEARTBEAT_INTERVAL_MS", "1000", "heartbeatIntervalMs", 1000],
    ["DROVER_HEARTBEAT_INTERVAL_MS", "3600000", "heartbeatIntervalMs", 3_600_000],
    ["DROVER_HEARTBEAT_TIMEOUT_MS", " 100 ", "heartbeatTimeoutMs", 100],
    ["DROVER_CPU_ALLOCATION_RATIO", "0.01", "cpuAllocationRatio", 0.01],
    ["DROVER_CPU_ALLOCATION_RATIO", "1000", "cpuAllocationRatio", 1000],
    ["DROVER_MEMORY_ALLOCATION_RATIO", "1.5", "memoryAllocationRatio", 1.5],
    ["DROVER_DISK_ALLOCATION_RATIO", "2", "diskAllocationRatio", 2],
    ["DROVER_RESERVED_VCPUS", "2", "reservedVcpus", 2],
    ["DROVER_RESERVED_MEMORY_MIB", "4096", "reservedMemoryMib", 4096],
    ["DROVER_RESERVED_DISK_GIB", "50", "reservedDiskGib", 50],
    ["DROVER_DEFAULT_STRATEGY", "pack", "defaultStrategy", "pack"],
    ["DROVER_DEFAULT_NETWORK", "drover-nat", "defaultNetwork", "drover-nat"],
    ["DROVER_SCORERS", "label-preference:3,soft-anti-affinity", "scorers", [{ name: "label-preference", weight: 3 }, { name: "soft-anti-affinity", weight: 1 }]],
    ["DROVER_PLACEMENT_CANDIDATES", "1000000", "placementCandidates", 1_000_000],
    ["DROVER_DISPATCH_ATTEMPTS", "1", "dispatchAttempts", 1],
    ["DROVER_DISPATCH_CONCURRENCY", "10000", "dispatchConcurrency", 10_000],
    ["DROVER_DISPATCH_PER_NODE", "1", "dispatchPerNode", 1],
    ["DROVER_DISPATCH_WAIT_MS", "0", "dispatchWaitMs", 0],
    ["DROVER_RESTART_LIMIT", "0", "restartLimit", 0],
    ["DROVER_RESTART_BACKOFF_MS", "0", "restartBackoffMs", 0],
    ["DROVER_RESTART_WINDOW_MS", "1000", "restartWindowMs", 1000],
    ["DROVER_STOP_TIMEOUT_MS", "100", "stopTimeoutMs", 100],
    ["DROVER_AGENT_TIMEOUT_MS", "100", "agentTimeoutMs", 100],
    ["DROVER_MAX_MESSAGE_MIB", "64", "maxMessageMib", 64],
    ["DROVER_AUDIT_DENIED_PER_WINDOW", "0", "auditDeniedPerWindow", 0],
    ["DROVER_AUDIT_DENIED_WINDOW_MS", "60000", "auditDeniedWindowMs", 60_000],
    ["DROVER_CLAIM_RETRIES", "0", "claimRetries", 0],
    ["DROVER_TICK_MS", "10", "tickMs", 10],
    ["DROVER_TICK_MS", "60000", "tickMs", 60_000],
    ["DROVER_SNAPSHOT_TTL_MS", "0", "snapshotTtlMs", 0],
    ["DROVER_EVENT_RETENTION_MS", "0", "eventRetentionMs", 0],
    ["DROVER_VM_RETENTION_MS", "0", "vmRetentionMs", 0],
    ["DROVER_DATABASE_POOL_SIZE", "1000", "databasePoolSize", 1000],
    ["DROVER_INSECURE", "1", "insecure", true],
    ["DROVER_NATS_TLS_CA", "/etc/drover/nats-ca.pem", "natsTlsCa", "/etc/drover/nats-ca.pem"],
    ["DROVER_TLS_DIR", "/etc/drover/tls", "tlsDir", "/etc/drover/tls"],
    ["DROVER_TLS_HOSTS", "sched.example, 10.0.0.5", "tlsHosts", ["sched.example", "10.0.0.5"]],
    ["DROVER_NODE_CERT_TTL_MS", "5000", "nodeCertTtlMs", 5000],
  ])("%s=%j sets %s", (name, text, field, value) => {
    expect(read({ [name]: text })[field]).toEqual(value);
  });

  // [variable, text, what the message must say after the value]
  it.each<[string, string, string]>([
    ["DROVER_HEARTBEAT_INTERVAL_MS", "999", "expected an integer from 1000 to 3600000 (ms)"],
    ["DROVER_HEARTBEAT_INTERVAL_MS", "3600001", "expected an integer from 1000 to 3600000 (ms)"],
    ["DROVER_HEARTBEAT_INTERVAL_MS", "2s", "expected an integer from 1000 to 3600000 (ms)"],
    ["DROVER_HEARTBEAT_TIMEOUT_MS", "99", "expected an integer from 100 to 86400000 (ms)"],
    ["DROVER_TICK_MS", "9", "expected an integer from 10 to 60000 (ms)"],
    ["DROVER_TICK_MS", "60001", "expected an integer from 10 to 60000 (ms)"],
    ["DROVER_TICK_MS", "250.5", "expected an integer from 10 to 60000 (ms)"],
    ["DROVER_TICK_MS", "1e2", "expected an integer from 10 to 60000 (ms)"],
    ["DROVER_SNAPSHOT_TTL_MS", "-1", "expected an integer from 0 to 60000 (ms)"],
    ["DROVER_CPU_ALLOCATION_RATIO", "0", "expected a number from 0.01 to 1000"],
    ["DROVER_CPU_ALLOCATION_RATIO", "1000.5", "expected a number from 0.01 to 1000"],
    ["DROVER_MEMORY_ALLOCATION_RATIO", "lots", "expected a number from 0.01 to 1000"],
    ["DROVER_RESERVED_MEMORY_MIB", "-1", "expected an integer from 0 to 1073741824 (MiB)"],
    ["DROVER_RESERVED_DISK_GIB", "1048577", "expected an integer from 0 to 1048576 (GiB)"],
    ["DROVER_DISPATCH_ATTEMPTS", "0", "expected an integer from 1 to 100"],
    ["DROVER_DISPATCH_ATTEMPTS", "101", "expected an integer from 1 to 100"],
    ["DROVER_DISPATCH_CONCURRENCY", "0", "expected an integer from 1 to 10000"],
    ["DROVER_PLACEMENT_CANDIDATES", "-1", "expected an integer from 0 to 1000000"],
    ["DROVER_CLAIM_RETRIES", "1001", "expected an integer from 0 to 1000"],
    ["DROVER_EVENT_RETENTION_MS", "315360000001", "expected an integer from 0 to 315360000000 (ms)"],
    ["DROVER_DATABASE_POOL_SIZE", "0", "expected an integer from 1 to 1000"],
    ["DROVER_DEFAULT_STRATEGY", "binpack", "expected spread or pack"],
    ["DROVER_DATABASE_URL", "mysql://db", "expected a postgres:// URL"],
    ["DROVER_LISTEN", "7400", "expected host:port (e.g. 127.0.0.1:7401 or [::1]:7401)"],
    ["DROVER_METRICS_LISTEN", "localhost:99999", "expected host:port (e.g. 127.0.0.1:7401 or [::1]:7401)"],
    ["DROVER_SCORERS", "nope:1", 'unknown scorer "nope"'],
  ])("%s=%j is refused, naming the variable, the value and what is allowed", (name, text, expected) => {
    const error = (() => {
      try {
        read({ [name]: text });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(new RegExp(`^${name}=${JSON.stringify(text.trim()).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
    expect((error as ConfigError).message).toContain(expected);
    expect((error as ConfigError).setting).toBe(name);
  });

  it("keeps the default when a number is empty or blank", () => {
    expect(read({ DROVER_TICK_MS: "", DROVER_CLAIM_RETRIES: "  " })).toMatchObject({ tickMs: 250, claimRetries: 8 });
  });

  describe("deprecated names", () => {
    it.each<[Record<string, string>, Partial<SchedulerConfig>]>([
      [{ DROVER_HEARTBEAT_INTERVAL_SECONDS: "5" }, { heartbeatIntervalMs: 5000 }],
      [{ DROVER_HEARTBEAT_INTERVAL_SECONDS: "1.5" }, { heartbeatIntervalMs: 1500 }],
      [{ DROVER_EVENT_RETENTION_HOURS: "24" }, { eventRetentionMs: 86_400_000 }],
      [{ DROVER_EVENT_RETENTION_HOURS: "0" }, { eventRetentionMs: 0 }],
      [{ DROVER_VM_RETENTION_HOURS: "48" }, { vmRetentionMs: 172_800_000 }],
    ])("%o reads as %o, with one warning naming the new variable", (env, want) => {
      const warnings: string[] = [];
      expect(read(env, warnings)).toMatchObject(want);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(new RegExp(`^${Object.keys(env)[0]} is deprecated.*use DROVER_\\w+_MS \\(in ms, not (seconds|hours)\\)`));
    });

    it("lets the new name win over the old one, without a warning", () => {
      const warnings: string[] = [];
      expect(read({ DROVER_HEARTBEAT_INTERVAL_MS: "3000", DROVER_HEARTBEAT_INTERVAL_SECONDS: "9" }, warnings).heartbeatIntervalMs).toBe(3000);
      expect(warnings).toEqual([]);
    });

    it.each([
      ["DROVER_HEARTBEAT_INTERVAL_SECONDS", "0", " (read as 0 ms): expected an integer from 1000 to 3600000 (ms)"],
      ["DROVER_HEARTBEAT_INTERVAL_SECONDS", "soon", ": expected a number of seconds"],
      ["DROVER_EVENT_RETENTION_HOURS", "-1", ": expected a number of hours"],
    ])("%s=%j is refused in terms of the old name and the new range", (name, text, tail) => {
      expect(() => read({ [name]: text })).toThrow(`${name} (deprecated name of ${name.replace(/_(SECONDS|HOURS)$/, "_MS")})="${text}"${tail}`);
    });
  });

  it("has a @default in the SchedulerConfig TSDoc for every option, equal to the table's", () => {
    const source = readFileSync(new URL("./config.ts", import.meta.url), "utf8");
    const documented = Object.fromEntries([...source.matchAll(/@default (.+)\n\s*\*\/\n\s*(\w+)\??:/g)].map((m) => [m[2], m[1]!.trim()]));
    const declared = Object.fromEntries(Object.entries(SCHEDULER_OPTIONS).map(([k, o]) => [k, tsdocDefault(o)]));
    expect(documented).toEqual(declared);
  });

  it("--help lists every variable with its default", () => {
    const help = schedulerUsage();
    for (const option of Object.values(SCHEDULER_OPTIONS)) expect(help).toContain(`\n  ${option.env}\n`);
    const flat = help.replace(/\s+/g, " ");
    expect(flat).toContain("Concurrent EnsureDomain calls to agents per scheduler replica. (integer 1..10000; default: 256)");
    expect(flat).toContain("deprecated name: DROVER_EVENT_RETENTION_HOURS (in hours)");
  });
});

describe("parseScorers", () => {
  it.each<[string | undefined, { name: string; weight: number }[]]>([
    [undefined, []],
    ["", []],
    ["  ", []],
    ["first-fit", [{ name: "first-fit", weight: 1 }]],
    ["label-preference:2,soft-anti-affinity:3", [{ name: "label-preference", weight: 2 }, { name: "soft-anti-affinity", weight: 3 }]],
    [" label-preference : 0.5 , spread:0 ", [{ name: "label-preference", weight: 0.5 }, { name: "spread", weight: 0 }]],
  ])("%j gives %j", (raw, want) => {
    expect(parseScorers(raw)).toEqual(want);
  });

  it.each([
    ["nope", 'unknown scorer "nope" (known: spread, pack'],
    ["label-preference,,spread", 'unknown scorer ""'],
    ["label-preference:-1", 'weight of label-preference must be a number >= 0, got "-1"'],
    ["label-preference:heavy", 'weight of label-preference must be a number >= 0, got "heavy"'],
    ["label-preference:", 'weight of label-preference must be a number >= 0, got ""'],
    ["label-preference:1:2", 'expected name:weight, got "label-preference:1:2"'],
  ])("%j is refused: %s", (raw, message) => {
    expect(() => parseScorers(raw)).toThrow(message);
  });
});
