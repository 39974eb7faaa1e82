// The agent's options, each declared once: defaults, parsing, `drover-agent --help`, the
// README table and deploy/config/agent.env.example come from here (npm run docs:config).
import type { AgentConfig } from "./config.js";
import { hostPort, integer, parseHostPort, text, type OptionTable } from "@drover/options";

export const AGENT_OPTIONS: OptionTable<AgentConfig> = {
  nodeName: {
    env: "DROVER_NODE_NAME",
    flag: "--node-name",
    ...text("name"),
    default: undefined,
    defaultText: "the libvirt host's hostname",
    help: "Node name announced to the scheduler.",
  },
  libvirtUri: {
    env: "DROVER_LIBVIRT_URI",
    flag: "--libvirt-uri",
    ...text("URI", (v) => {
      if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) throw new Error("expected a libvirt URI like qemu:///system");
    }),
    default: "qemu:///system",
    help: "libvirt connection URI; test:///abs/path/host.xml simulates a host with libvirt's test driver.",
  },
  listen: {
    env: "DROVER_AGENT_LISTEN",
    flag: "--listen",
    ...hostPort,
    default: "0.0.0.0:7401",
    help: "Address the agent's gRPC service (AgentService) binds; port 0 picks a free one.",
  },
  advertiseAddress: {
    env: "DROVER_AGENT_ADVERTISE",
    flag: "--advertise",
    ...text("host:port", (v) => {
      const { host, port } = parseHostPort(v);
      if (host === "" || port === 0) throw new Error("expected a host and port the scheduler can dial (not empty, not port 0)");
    }),
    default: undefined,
    defaultText: "127.0.0.1:<bound port>, or the listen host when it is not a wildcard",
    help: "host:port the scheduler dials to reach this agent. Set it on multi-host clusters.",
  },
  schedulerAddress: {
    env: "DROVER_SCHEDULER_ADDR",
    flag: "--scheduler",
    ...hostPort,
    default: "127.0.0.1:7400",
    help: "Scheduler gRPC address (NodeRegistryService); with several replicas, a VIP, load balancer or DNS name.",
  },
  labels: {
    env: "DROVER_NODE_LABELS",
    flag: "--labels",
    type: "k=v,k2=v2",
    parse: parseLabels,
    show: (labels) => Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(","),
    default: {},
    help: "Node labels for placement constraints.",
  },
  heartbeatIntervalMs: {
    env: "DROVER_HEARTBEAT_MS",
    flag: "--heartbeat-ms",
    ...integer(1, 3_600_000, "ms"),
    default: 2000,
    help: "Heartbeat interval; the scheduler's DROVER_HEARTBEAT_INTERVAL_MS wins if it is shorter, and its beat-rate floor (DROVER_MAX_HEARTBEATS_PER_SECOND) if it is longer.",
  },
  relistIntervalMs: {
    env: "DROVER_RELIST_MS",
    flag: "--relist-ms",
    ...integer(100, 3_600_000, "ms"),
    default: 30_000,
    help: "How often all domains are listed again, to see what changed behind the agent's back (a crash, a pause, a vanished domain); never more than 10 % of the time, and never more than 10 intervals apart.",
  },
  shutdownLimitMs: {
    env: "DROVER_AGENT_SHUTDOWN_LIMIT_MS",
    flag: "--shutdown-limit-ms",
    ...integer(1000, 600_000, "ms"),
    default: 15_000,
    help:
      "After SIGTERM or SIGINT, how long the agent may take to stop before it kills itself (SIGKILL: a hung libvirtd would hold it for ever); " +
      "its server cuts calls after 2 s and its scheduler calls have 5 s deadlines, so a clean stop ends well inside the default. Its VMs keep running.",
  },
  metricsListen: {
    env: "DROVER_AGENT_METRICS",
    flag: "--metrics",
    ...hostPort,
    default: undefined,
    defaultText: "off",
    help: "Prometheus /metrics listen address; unset or empty turns metrics off.",
  },
  stateDir: {
    env: "DROVER_STATE_DIR",
    flag: "--state-dir",
    ...text("path", (v) => {
      if (!v.startsWith("/")) throw new Error("expected an absolute path");
    }),
    default: "/var/lib/drover",
    help: "Where VM disks (<dir>/disks) and cloud-init seeds (<dir>/seeds) live.",
  },
  imageDir: {
    env: "DROVER_IMAGE_DIR",
    flag: "--image-dir",
    ...text("path", (v) => {
      if (!v.startsWith("/")) throw new Error("expected an absolute path");
    }),
    default: undefined,
    defaultText: "<state dir>/images",
    help: "Where catalog images live: a VM's image name resolves to the file of that name here, and only here (symlinks may not leave it).",
  },
  clusterId: {
    env: "DROVER_CLUSTER_ID",
    flag: "--cluster-id",
    ...text("UUID", (v) => {
      if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v)) throw new Error("expected a UUID (the cluster id the scheduler reports)");
    }),
    default: undefined,
    defaultText: "learnt at the first registration and kept in <state dir>/cluster-id",
    help: "The cluster this node belongs to. The agent marks its domains with it and manages no other domain; it refuses a scheduler of another cluster.",
  },
  maxMessageMib: {
    env: "DROVER_AGENT_MAX_MESSAGE_MIB",
    flag: "--max-message-mib",
    ...integer(1, 64, "MiB"),
    default: 4,
    help: "Largest gRPC message the AgentService accepts or sends; larger ones fail with RESOURCE_EXHAUSTED.",
  },
  insecure: {
    env: "DROVER_INSECURE",
    flag: "--insecure",
    type: "0|1",
    parse(text) {
      if (text !== "0" && text !== "1") throw new Error("expected 0 or 1");
      return text === "1";
    },
    show: (v) => (v ? "1" : "0"),
    default: false,
    help: "1 turns TLS off: no certificate, AgentService answers anyone who reaches it (logged loudly at start). Test clusters only; the scheduler must be insecure too.",
  },
  caFile: {
    env: "DROVER_CA_FILE",
    flag: "--ca",
    ...text("path"),
    default: undefined,
    defaultText: "<DROVER_AGENT_TLS_DIR>/ca.pem once joined",
    help: "The cluster CA certificate (ca.pem from `drover-scheduler ca create`), trusted to verify the scheduler when joining.",
  },
  joinToken: {
    env: "DROVER_JOIN_TOKEN",
    flag: "--join-token",
    ...text("token"),
    default: undefined,
    defaultText: "none (needed only until the node has a certificate)",
    help: "One-time join token (`drover node join-token create`, or `drover-scheduler join-token create` on a scheduler host), traded through JoinNode for this node's certificate. " +
      "Keep it out of world-readable files: deploy/systemd reads it from /etc/drover/agent-join.env (0600).",
  },
  tlsDir: {
    env: "DROVER_AGENT_TLS_DIR",
    flag: "--tls-dir",
    ...text("path", (v) => {
      if (!v.startsWith("/")) throw new Error("expected an absolute path");
    }),
    default: undefined,
    defaultText: "<DROVER_STATE_DIR>/tls",
    help: "Where the node keeps its key, certificate and the CA (key.pem, cert.pem, ca.pem); renewed certificates replace them.",
  },
  diskGib: {
    env: "DROVER_NODE_DISK_GIB",
    flag: "--disk-gib",
    ...integer(0, 1_048_576, "GiB"),
    default: undefined,
    defaultText: "the size of the filesystem holding DROVER_STATE_DIR (1024 for test:// URIs)",
    help: "Disk capacity to announce.",
  },
};

/** Parses "k=v,k2=v2"; empty input gives no labels. */
export function parseLabels(value: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const raw of value.split(",")) {
    const item = raw.trim();
    if (item === "") continue;
    const eq = item.indexOf("=");
    const key = eq < 0 ? "" : item.slice(0, eq).trim();
    if (key === "") throw new Error(`expected k=v,k2=v2, got item ${JSON.stringify(item)}`);
    labels[key] = item.slice(eq + 1).trim();
  }
  return labels;
}
