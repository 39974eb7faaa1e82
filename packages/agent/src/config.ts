// Agent configuration: plain data, plus a parser for the environment and command line.

export interface AgentConfig {
  /** Node name announced to the scheduler; defaults to the libvirt host's hostname. */
  nodeName?: string;
  /** libvirt connection URI, e.g. qemu:///system or test:///abs/path/host.xml. */
  libvirtUri: string;
  /** host:port the AgentService binds; port 0 picks a free one. */
  listen: string;
  /** host:port the scheduler dials; defaults to the bound port on 127.0.0.1 (or the listen host when it is not a wildcard). */
  advertiseAddress?: string;
  /** host:port of the scheduler's NodeRegistryService. */
  schedulerAddress: string;
  labels: Record<string, string>;
  heartbeatIntervalMs: number;
  /** host:port for the Prometheus /metrics endpoint; off when unset. */
  metricsListen?: string;
  /** Where VM disks and cloud-init seeds live (<stateDir>/disks, <stateDir>/seeds). */
  stateDir: string;
  /**
   * Disk capacity to announce, in GiB. Unset: the size of the filesystem holding
   * stateDir, or 1024 for test:// URIs (nothing is written to disk there).
   */
  diskGib?: number;
}

export const DEFAULTS = {
  libvirtUri: "qemu:///system",
  listen: "0.0.0.0:7401",
  schedulerAddress: "127.0.0.1:7400",
  heartbeatIntervalMs: 2000,
  stateDir: "/var/lib/drover",
} as const;

/** Fills the defaults in around a partial config. */
export function withDefaults(partial: Partial<AgentConfig>): AgentConfig {
  const config: AgentConfig = {
    libvirtUri: partial.libvirtUri ?? DEFAULTS.libvirtUri,
    listen: partial.listen ?? DEFAULTS.listen,
    schedulerAddress: partial.schedulerAddress ?? DEFAULTS.schedulerAddress,
    labels: partial.labels ?? {},
    heartbeatIntervalMs: partial.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs,
    stateDir: partial.stateDir ?? DEFAULTS.stateDir,
  };
  if (partial.nodeName !== undefined) config.nodeName = partial.nodeName;
  if (partial.advertiseAddress !== undefined) config.advertiseAddress = partial.advertiseAddress;
  if (partial.metricsListen !== undefined) config.metricsListen = partial.metricsListen;
  if (partial.diskGib !== undefined) config.diskGib = partial.diskGib;
  return config;
}

/** Splits "host:port" (IPv6 as "[::1]:port"); throws with the setting's name on bad input. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(`${what}: expected host:port (e.g. 127.0.0.1:7401 or [::1]:7401), got ${JSON.stringify(value)}`);
  }
  return { host: m[1] ?? m[2] ?? "", port };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses "k=v,k2=v2"; empty input gives no labels. */
export function parseLabels(value: string, what = "DROVER_NODE_LABELS"): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const raw of value.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    const key = eq < 0 ? "" : item.slice(0, eq).trim();
    if (key === "") throw new Error(`${what}: expected k=v,k2=v2, got item ${JSON.stringify(item)}`);
    labels[key] = item.slice(eq + 1).trim();
  }
  return labels;
}

function parsePositiveInt(value: string, what: string, allowZero = false): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || (!allowZero && n === 0)) {
    throw new Error(`${what}: expected a ${allowZero ? "non-negative" : "positive"} integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

// Command-line flag -> environment variable; a flag wins over the variable.
const FLAGS: Record<string, string> = {
  "--node-name": "DROVER_NODE_NAME",
  "--libvirt-uri": "DROVER_LIBVIRT_URI",
  "--listen": "DROVER_AGENT_LISTEN",
  "--advertise": "DROVER_AGENT_ADVERTISE",
  "--scheduler": "DROVER_SCHEDULER_ADDR",
  "--labels": "DROVER_NODE_LABELS",
  "--heartbeat-ms": "DROVER_HEARTBEAT_MS",
  "--metrics": "DROVER_AGENT_METRICS",
  "--state-dir": "DROVER_STATE_DIR",
  "--disk-gib": "DROVER_NODE_DISK_GIB",
};

export const USAGE = `usage: drover-agent [flags]
  --node-name NAME       DROVER_NODE_NAME        (default: libvirt hostname)
  --libvirt-uri URI      DROVER_LIBVIRT_URI      (default: ${DEFAULTS.libvirtUri})
  --listen HOST:PORT     DROVER_AGENT_LISTEN     (default: ${DEFAULTS.listen})
  --advertise HOST:PORT  DROVER_AGENT_ADVERTISE  (default: 127.0.0.1:<bound port>)
  --scheduler HOST:PORT  DROVER_SCHEDULER_ADDR   (default: ${DEFAULTS.schedulerAddress})
  --labels k=v,k2=v2     DROVER_NODE_LABELS
  --heartbeat-ms N       DROVER_HEARTBEAT_MS     (default: ${DEFAULTS.heartbeatIntervalMs})
  --metrics HOST:PORT    DROVER_AGENT_METRICS    (default: off)
  --state-dir DIR        DROVER_STATE_DIR        (default: ${DEFAULTS.stateDir})
  --disk-gib N           DROVER_NODE_DISK_GIB    (default: size of the state dir's filesystem)`;

/**
 * Reads the config from environment variables, overridden by `--flag value` or
 * `--flag=value` arguments (argv without the node/script prefix). Throws an Error
 * naming the setting on a bad value.
 */
export function configFromEnv(
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = [],
): AgentConfig {
  const vars: Record<string, string | undefined> = { ...env };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const name = FLAGS[flag];
    if (!name) throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value\n${USAGE}`);
    vars[name] = value;
  }
  const get = (name: string): string | undefined => {
    const v = vars[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };

  const partial: Partial<AgentConfig> = {};
  const nodeName = get("DROVER_NODE_NAME");
  if (nodeName !== undefined) partial.nodeName = nodeName;
  const uri = get("DROVER_LIBVIRT_URI");
  if (uri !== undefined) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
      throw new Error(`DROVER_LIBVIRT_URI: expected a libvirt URI like qemu:///system, got ${JSON.stringify(uri)}`);
    }
    partial.libvirtUri = uri;
  }
  const listen = get("DROVER_AGENT_LISTEN");
  if (listen !== undefined) {
    parseHostPort(listen, "DROVER_AGENT_LISTEN");
    partial.listen = listen;
  }
  const advertise = get("DROVER_AGENT_ADVERTISE");
  if (advertise !== undefined) {
    const { host, port } = parseHostPort(advertise, "DROVER_AGENT_ADVERTISE");
    if (host === "" || port === 0) {
      throw new Error(`DROVER_AGENT_ADVERTISE: needs a real host and port the scheduler can dial, got ${JSON.stringify(advertise)}`);
    }
    partial.advertiseAddress = advertise;
  }
  const scheduler = get("DROVER_SCHEDULER_ADDR");
  if (scheduler !== undefined) {
    parseHostPort(scheduler, "DROVER_SCHEDULER_ADDR");
    partial.schedulerAddress = scheduler;
  }
  const labels = get("DROVER_NODE_LABELS");
  if (labels !== undefined) partial.labels = parseLabels(labels);
  const hb = get("DROVER_HEARTBEAT_MS");
  if (hb !== undefined) partial.heartbeatIntervalMs = parsePositiveInt(hb, "DROVER_HEARTBEAT_MS");
  const metrics = get("DROVER_AGENT_METRICS");
  if (metrics !== undefined) {
    parseHostPort(metrics, "DROVER_AGENT_METRICS");
    partial.metricsListen = metrics;
  }
  const stateDir = get("DROVER_STATE_DIR");
  if (stateDir !== undefined) {
    if (!stateDir.startsWith("/")) throw new Error(`DROVER_STATE_DIR: expected an absolute path, got ${JSON.stringify(stateDir)}`);
    partial.stateDir = stateDir;
  }
  const disk = get("DROVER_NODE_DISK_GIB");
  if (disk !== undefined) partial.diskGib = parsePositiveInt(disk, "DROVER_NODE_DISK_GIB", true);
  return withDefaults(partial);
}
