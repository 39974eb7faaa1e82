import { describe, expect, it } from "vitest";
import { DEFAULTS, configFromEnv } from "./config.js";

describe("configFromEnv", () => {
  it("uses defaults for an empty environment", () => {
    expect(configFromEnv({}, [])).toEqual({
      libvirtUri: DEFAULTS.libvirtUri,
      listen: "0.0.0.0:7401",
      schedulerAddress: "127.0.0.1:7400",
      labels: {},
      heartbeatIntervalMs: 2000,
      stateDir: "/var/lib/drover",
    });
  });

  it("reads every variable", () => {
    const c = configFromEnv(
      {
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
      },
      [],
    );
    expect(c).toEqual({
      nodeName: "n1",
      libvirtUri: "test:///default",
      listen: "127.0.0.1:0",
      advertiseAddress: "10.0.0.5:7401",
      schedulerAddress: "10.0.0.1:7400",
      labels: { zone: "a", rack: "r1", ssd: "" },
      heartbeatIntervalMs: 500,
      metricsListen: "127.0.0.1:9401",
      stateDir: "/srv/drover",
      diskGib: 100,
    });
  });

  it("lets flags override variables", () => {
    const c = configFromEnv({ DROVER_NODE_NAME: "env" }, ["--node-name", "flag", "--heartbeat-ms=250", "--listen", "[::1]:0"]);
    expect(c.nodeName).toBe("flag");
    expect(c.heartbeatIntervalMs).toBe(250);
    expect(c.listen).toBe("[::1]:0");
  });

  it.each([
    [{ DROVER_HEARTBEAT_MS: "0" }, /DROVER_HEARTBEAT_MS/],
    [{ DROVER_HEARTBEAT_MS: "2s" }, /DROVER_HEARTBEAT_MS/],
    [{ DROVER_AGENT_LISTEN: "7401" }, /DROVER_AGENT_LISTEN: expected host:port/],
    [{ DROVER_SCHEDULER_ADDR: "host:99999" }, /DROVER_SCHEDULER_ADDR/],
    [{ DROVER_AGENT_ADVERTISE: "0.0.0.0:0" }, /DROVER_AGENT_ADVERTISE/],
    [{ DROVER_NODE_LABELS: "zone" }, /DROVER_NODE_LABELS: expected k=v/],
    [{ DROVER_LIBVIRT_URI: "system" }, /DROVER_LIBVIRT_URI/],
    [{ DROVER_STATE_DIR: "relative" }, /DROVER_STATE_DIR/],
    [{ DROVER_NODE_DISK_GIB: "-1" }, /DROVER_NODE_DISK_GIB/],
  ])("rejects %o", (env, message) => {
    expect(() => configFromEnv(env, [])).toThrow(message);
  });

  it("rejects unknown flags and flags without values", () => {
    expect(() => configFromEnv({}, ["--bogus"])).toThrow(/unknown argument/);
    expect(() => configFromEnv({}, ["--listen"])).toThrow(/needs a value/);
  });
});
