// The agent's configuration: plain data, read from flags and environment variables.
// Every option is declared once, in config-options.ts; the @default tags below are
// checked against it by config.test.ts.
import { AGENT_OPTIONS } from "./config-options.js";
import { defaultsOf, formatHelp, parseHostPort as splitHostPort, readFlags, readOptions, warnOnceToStderr, type Warn } from "@drover/options";

export { AGENT_OPTIONS, parseLabels } from "./config-options.js";
export { ConfigError } from "@drover/options";

export interface AgentConfig {
  /**
   * Node name announced to the scheduler.
   * @default the libvirt host's hostname
   */
  nodeName?: string;
  /**
   * libvirt connection URI, e.g. qemu:///system or test:///abs/path/host.xml.
   * @default "qemu:///system"
   */
  libvirtUri: string;
  /**
   * host:port the AgentService binds; port 0 picks a free one.
   * @default "0.0.0.0:7401"
   */
  listen: string;
  /**
   * host:port the scheduler dials.
   * @default 127.0.0.1:<bound port>, or the listen host when it is not a wildcard
   */
  advertiseAddress?: string;
  /**
   * host:port of the scheduler's NodeRegistryService.
   * @default "127.0.0.1:7400"
   */
  schedulerAddress: string;
  /**
   * Node labels for placement constraints.
   * @default {}
   */
  labels: Record<string, string>;
  /**
   * Heartbeat interval in ms; the scheduler's wins if it is shorter.
   * @default 2000
   */
  heartbeatIntervalMs: number;
  /**
   * How often all domains are listed again (crashes, pauses, vanished domains show then), in ms.
   * @default 30000
   */
  relistIntervalMs: number;
  /**
   * How long a stopping agent may take before it kills itself, in ms.
   * @default 15000
   */
  shutdownLimitMs: number;
  /**
   * host:port for the Prometheus /metrics endpoint.
   * @default off
   */
  metricsListen?: string;
  /**
   * Where VM disks and cloud-init seeds live (<stateDir>/disks, <stateDir>/seeds).
   * @default "/var/lib/drover"
   */
  stateDir: string;
  /**
   * No TLS: no certificate, AgentService answers anyone.
   * @default false
   */
  insecure: boolean;
  /**
   * The cluster CA certificate, trusted to verify the scheduler when joining.
   * @default <DROVER_AGENT_TLS_DIR>/ca.pem once joined
   */
  caFile?: string;
  /**
   * One-time join token traded for this node's certificate.
   * @default none (needed only until the node has a certificate)
   */
  joinToken?: string;
  /**
   * Where the node keeps key.pem, cert.pem and ca.pem.
   * @default <DROVER_STATE_DIR>/tls
   */
  tlsDir?: string;
  /**
   * Disk capacity to announce, in GiB.
   * @default the size of the filesystem holding DROVER_STATE_DIR (1024 for test:// URIs)
   */
  diskGib?: number;
  /**
   * Where catalog images live; an image name resolves to a file here and nowhere else.
   * @default <state dir>/images
   */
  imageDir?: string;
  /**
   * The cluster this node belongs to (a UUID); it manages no domain marked for another.
   * @default learnt at the first registration and kept in <state dir>/cluster-id
   */
  clusterId?: string;
  /**
   * Largest gRPC message the AgentService accepts or sends, in MiB.
   * @default 4
   */
  maxMessageMib: number;
}

/** The built-in values (the options worked out at start are absent). */
export const DEFAULTS: Readonly<AgentConfig> = defaultsOf(AGENT_OPTIONS);

/** Fills the defaults in around a partial config. */
export function withDefaults(partial: Partial<AgentConfig>): AgentConfig {
  const config: AgentConfig = { ...DEFAULTS, labels: { ...DEFAULTS.labels } };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
  }
  return config;
}

/** Splits "host:port" (IPv6 as "[::1]:port"); throws with the setting's name on bad input. */
export function parseHostPort(value: string, what: string): { host: string; port: number } {
  try {
    return splitHostPort(value);
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}, got ${JSON.stringify(value)}`, { cause: err });
  }
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

export const USAGE = formatHelp(
  AGENT_OPTIONS,
  "usage: drover-agent [flags]\n" +
    "Each flag can also be given as the environment variable after it; a flag wins over the variable.\n" +
    "Unset or empty keeps the default.",
);

/**
 * Reads the config from environment variables, overridden by `--flag value` or
 * `--flag=value` arguments (argv without the node/script prefix). A deprecated name still
 * works and is warned about once. Throws a ConfigError naming the variable and flag, the
 * value and what is allowed.
 */
export function configFromEnv(
  env: Record<string, string | undefined> = process.env,
  argv: readonly string[] = [],
  warn: Warn = warnOnceToStderr("drover-agent"),
): AgentConfig {
  return withDefaults(readOptions(AGENT_OPTIONS, env, readFlags(AGENT_OPTIONS, argv, USAGE), warn));
}
