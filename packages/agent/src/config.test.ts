import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AGENT_OPTIONS, ConfigError, DEFAULTS, USAGE, configFromEnv, parseLabels, withDefaults, type AgentConfig } from "./config.js";
import { tsdocDefault } from "@drover/options";

const read = (env: Record<string, string>, argv: string[] = [], warnings: string[] = []) => configFromEnv(env, argv, (m) => warnings.push(m));

describe("agent configFromEnv", () => {
  it("uses defaults for an empty environment", () => {
    expect(read({})).toEqual({
      libvirtUri: "qemu:///system",
      listen: "0.0.0.0:7401",
      schedulerAddress: "127.0.0.1:7400",
      labels: {},
      heartbeatIntervalMs: 2000,
      relistIntervalMs: 30_000,
      shutdownLimitMs: 15_000,
      stateDir: "/var/lib/drover",
      maxMessageMib: 4,
      insecure: false,
    });
    expect(withDefaults({})).toEqual(read({}));
    expect(DEFAULTS.libvirtUri).toBe("qemu:///system");
  });

  it("reads every variable", () => {
    const c = read({
      DROVER_NODE_NAME: "n1",
      DROVER_LIBVIRT_URI: "test:///default",
      DROVER_AGENT_LISTEN: "127.0.0.1:0",
      DROVER_AGENT_ADVERTISE: "10.0.0.5:7401",
      DROVER_SCHEDULER_ADDR: "10.0.0.1:7400",
      DROVER_NODE_LABELS: "zone=a, rack=r1,ssd=",
      DROVER_HEARTBEAT_MS: "500",
      DROVER_AGENT_METRICS: "127.0.0.1:9401",
      DROVER_STATE_DIR: "/srv/drover",
      DROVER_NODE_DISK_GIB: "100",
      DROVER_CLUSTER_ID: "5D0C3F0E-8a41-4c1e-9b7a-2f64c8d1e901",
      DROVER_AGENT_MAX_MESSAGE_MIB: "8",
      DROVER_INSECURE: "1",
      DROVER_CA_FILE: "/etc/drover/ca.pem",
      DROVER_JOIN_TOKEN: "0123abcd.0123456789abcdef0123456789abcdef",
      DROVER_AGENT_TLS_DIR: "/srv/drover/tls",
      DROVER_AGENT_SHUTDOWN_LIMIT_MS: "30000",
    });
    expect(c).toEqual({
      nodeName: "n1",
      libvirtUri: "test:///default",
      listen: "127.0.0.1:0",
      advertiseAddress: "10.0.0.5:7401",
      schedulerAddress: "10.0.0.1:7400",
      labels: { zone: "a", rack: "r1", ssd: "" },
      heartbeatIntervalMs: 500,
      relistIntervalMs: 30_000,
      shutdownLimitMs: 30_000,
      metricsListen: "127.0.0.1:9401",
      stateDir: "/srv/drover",
      diskGib: 100,
      clusterId: "5D0C3F0E-8a41-4c1e-9b7a-2f64c8d1e901",
      maxMessageMib: 8,
      insecure: true,
      caFile: "/etc/drover/ca.pem",
      joinToken: "0123abcd.0123456789abcdef0123456789abcdef",
      tlsDir: "/srv/drover/tls",
    } satisfies AgentConfig);
  });

  // Every flag, in both spellings, sets the same field as its variable.
  it.each<[string, string, keyof AgentConfig, unknown]>([
    ["--node-name", "n2", "nodeName", "n2"],
    ["--libvirt-uri", "test:///x.xml", "libvirtUri", "test:///x.xml"],
    ["--listen", "[::1]:0", "listen", "[::1]:0"],
    ["--advertise", "h:7401", "advertiseAddress", "h:7401"],
    ["--scheduler", "s:7400", "schedulerAddress", "s:7400"],
    ["--labels", "a=1", "labels", { a: "1" }],
    ["--heartbeat-ms", "1", "heartbeatIntervalMs", 1],
    ["--heartbeat-ms", "3600000", "heartbeatIntervalMs", 3_600_000],
    ["--relist-ms", "100", "relistIntervalMs", 100],
    ["--shutdown-limit-ms", "1000", "shutdownLimitMs", 1000],
    ["--metrics", "127.0.0.1:0", "metricsListen", "127.0.0.1:0"],
    ["--state-dir", "/d", "stateDir", "/d"],
    ["--cluster-id", "9a3e1b44-77c2-4f0e-8d6b-1c2d3e4f5a6b", "clusterId", "9a3e1b44-77c2-4f0e-8d6b-1c2d3e4f5a6b"],
    ["--max-message-mib", "64", "maxMessageMib", 64],
    ["--disk-gib", "0", "diskGib", 0],
    ["--insecure", "1", "insecure", true],
    ["--ca", "/ca.pem", "caFile", "/ca.pem"],
    ["--join-token", "t", "joinToken", "t"],
    ["--tls-dir", "/t", "tlsDir", "/t"],
    ["--disk-gib", "1048576", "diskGib", 1_048_576],
  ])("%s %j sets %s", (flag, value, field, want) => {
    expect(read({}, [flag, value])[field]).toEqual(want);
    expect(read({}, [`${flag}=${value}`])[field]).toEqual(want);
  });

  it("lets flags override variables", () => {
    const c = read({ DROVER_NODE_NAME: "env", DROVER_HEARTBEAT_MS: "900" }, ["--node-name", "flag", "--heartbeat-ms=250", "--listen", "[::1]:0"]);
    expect(c.nodeName).toBe("flag");
    expect(c.heartbeatIntervalMs).toBe(250);
    expect(c.listen).toBe("[::1]:0");
  });

  it("treats an empty variable or flag as unset", () => {
    expect(read({ DROVER_NODE_NAME: " ", DROVER_HEARTBEAT_MS: "" }, ["--metrics="])).toEqual(read({}));
  });

  // [env, argv, the whole message]
  it.each<[Record<string, string>, string[], string]>([
    [{ DROVER_HEARTBEAT_MS: "0" }, [], 'DROVER_HEARTBEAT_MS (--heartbeat-ms)="0": expected an integer from 1 to 3600000 (ms)'],
    [{ DROVER_HEARTBEAT_MS: "3600001" }, [], 'DROVER_HEARTBEAT_MS (--heartbeat-ms)="3600001": expected an integer from 1 to 3600000 (ms)'],
    [{ DROVER_HEARTBEAT_MS: "2s" }, [], 'DROVER_HEARTBEAT_MS (--heartbeat-ms)="2s": expected an integer from 1 to 3600000 (ms)'],
    [{}, ["--heartbeat-ms", "1.5"], '--heartbeat-ms (DROVER_HEARTBEAT_MS)="1.5": expected an integer from 1 to 3600000 (ms)'],
    [{ DROVER_AGENT_LISTEN: "7401" }, [], 'DROVER_AGENT_LISTEN (--listen)="7401": expected host:port (e.g. 127.0.0.1:7401 or [::1]:7401)'],
    [{ DROVER_SCHEDULER_ADDR: "host:99999" }, [], 'DROVER_SCHEDULER_ADDR (--scheduler)="host:99999": expected host:port (e.g. 127.0.0.1:7401 or [::1]:7401)'],
    [{ DROVER_AGENT_ADVERTISE: "0.0.0.0:0" }, [], 'DROVER_AGENT_ADVERTISE (--advertise)="0.0.0.0:0": expected a host and port the scheduler can dial (not empty, not port 0)'],
    [{ DROVER_AGENT_ADVERTISE: ":7401" }, [], 'DROVER_AGENT_ADVERTISE (--advertise)=":7401": expected a host and port the scheduler can dial (not empty, not port 0)'],
    [{ DROVER_NODE_LABELS: "zone" }, [], 'DROVER_NODE_LABELS (--labels)="zone": expected k=v,k2=v2, got item "zone"'],
    [{ DROVER_LIBVIRT_URI: "system" }, [], 'DROVER_LIBVIRT_URI (--libvirt-uri)="system": expected a libvirt URI like qemu:///system'],
    [{ DROVER_AGENT_METRICS: "metrics" }, [], 'DROVER_AGENT_METRICS (--metrics)="metrics": expected host:port (e.g. 127.0.0.1:7401 or [::1]:7401)'],
    [{ DROVER_STATE_DIR: "relative" }, [], 'DROVER_STATE_DIR (--state-dir)="relative": expected an absolute path'],
    [{ DROVER_NODE_DISK_GIB: "-1" }, [], 'DROVER_NODE_DISK_GIB (--disk-gib)="-1": expected an integer from 0 to 1048576 (GiB)'],
    [{}, ["--disk-gib=1048577"], '--disk-gib (DROVER_NODE_DISK_GIB)="1048577": expected an integer from 0 to 1048576 (GiB)'],
  ])("refuses %o %o", (env, argv, message) => {
    expect(() => read(env, argv)).toThrow(ConfigError);
    expect(() => read(env, argv)).toThrow(message);
  });

  it("rejects unknown flags and flags without values, with the usage", () => {
    expect(() => read({}, ["--bogus"])).toThrow(/unknown argument "--bogus"\nusage: drover-agent/);
    expect(() => read({}, ["--listen"])).toThrow(/--listen needs a value\nusage: drover-agent/);
  });

  it("has a @default in the AgentConfig TSDoc for every option, equal to the table's", () => {
    const source = readFileSync(new URL("./config.ts", import.meta.url), "utf8");
    const documented = Object.fromEntries([...source.matchAll(/@default (.+)\n\s*\*\/\n\s*(\w+)\??:/g)].map((m) => [m[2], m[1]!.trim()]));
    const declared = Object.fromEntries(Object.entries(AGENT_OPTIONS).map(([k, o]) => [k, tsdocDefault(o)]));
    expect(documented).toEqual(declared);
  });

  it("--help lists every flag with its variable and default", () => {
    const flat = USAGE.replace(/\s+/g, " ");
    for (const option of Object.values(AGENT_OPTIONS)) expect(USAGE).toContain(`\n  ${option.flag} <${option.type}>, ${option.env}\n`);
    expect(flat).toContain("(integer 1..3600000 ms; default: 2000)");
    expect(flat).toContain("default: the libvirt host's hostname");
  });
});

describe("parseLabels", () => {
  it.each<[string, Record<string, string>]>([
    ["", {}],
    ["zone=a", { zone: "a" }],
    [" zone = a , rack=r1,, ssd=", { zone: "a", rack: "r1", ssd: "" }],
    ["url=a=b", { url: "a=b" }],
  ])("%j gives %j", (raw, want) => {
    expect(parseLabels(raw)).toEqual(want);
  });

  it.each(["zone", "=a", "a=1,b"])("refuses %j", (raw) => {
    expect(() => parseLabels(raw)).toThrow(/expected k=v,k2=v2, got item/);
  });
});
