// Prometheus metrics. Each agent gets its own Registry: several agents share one
// process in tests, and the global default registry would mix (and reject) them.
import { type Server, createServer } from "node:http";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { DomainState } from "@drover/proto";
import type { DomainSnapshot } from "./libvirt.js";
import { formatHostPort, parseHostPort } from "./config.js";

const STATE_LABEL: Record<number, string> = {
  [DomainState.DOMAIN_STATE_RUNNING]: "running",
  [DomainState.DOMAIN_STATE_PAUSED]: "paused",
  [DomainState.DOMAIN_STATE_SHUTOFF]: "shutoff",
  [DomainState.DOMAIN_STATE_CRASHED]: "crashed",
  [DomainState.DOMAIN_STATE_OTHER]: "other",
};

const PREFIX = "drover_agent_";

/** Heartbeat timing, in seconds: a beat is due every few seconds and its node DOWN after ~10. */
const HEARTBEAT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10];

/**
 * prom-client's Node.js and process metrics, less the three gauges it names
 * *_total (nodejs_active_{handles,requests,resources}_total): that suffix is
 * for counters, so promtool check metrics fails on them. Their per-type
 * gauges without the suffix stay, and sum to the same totals.
 */
function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: PREFIX });
  for (const m of registry.getMetricsAsArray()) {
    if (m.name.endsWith("_total") && m instanceof Gauge) registry.removeSingleMetric(m.name);
  }
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly hostVcpus: Gauge;
  private readonly hostMemory: Gauge;
  private readonly hostDisk: Gauge;
  private readonly domains: Gauge<"state">;
  private readonly domainType: Gauge<"type">;
  private readonly libvirtProbe: Gauge;
  private readonly libvirtOps: Histogram<"op" | "result">;
  private readonly schedulerCalls: Counter<"result">;
  private readonly heartbeatLate: Histogram;
  private readonly heartbeatCall: Histogram;
  private readonly authRefusals: Counter<"surface" | "reason">;
  private readonly certRenewals: Counter;
  private server: Server | undefined;

  /** listDomains is called on each scrape so the state gauge is current even between heartbeats. */
  constructor(node: string, opts: { processMetrics?: boolean; listDomains?: () => Promise<readonly DomainSnapshot[]> } = {}) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- collect() runs with `this` = the gauge
    const metrics = this;
    this.registry.setDefaultLabels({ node });
    if (opts.processMetrics) collectProcessMetrics(this.registry);
    this.hostVcpus = new Gauge({ name: "drover_agent_host_vcpus", help: "Host logical CPUs as libvirt reports them.", registers: [this.registry] });
    this.hostMemory = new Gauge({ name: "drover_agent_host_memory_bytes", help: "Host memory as libvirt reports it.", registers: [this.registry] });
    this.hostDisk = new Gauge({ name: "drover_agent_host_disk_bytes", help: "Disk capacity announced to the scheduler.", registers: [this.registry] });
    this.domains = new Gauge({
      name: "drover_agent_domains",
      help: "Drover-managed libvirt domains by state.",
      labelNames: ["state"],
      registers: [this.registry],
      async collect() {
        if (opts.listDomains) metrics.setDomains(await opts.listDomains().catch(() => []));
      },
    });
    this.domainType = new Gauge({
      name: "drover_agent_domain_type",
      help: "1 for the libvirt domain type the agent defines VMs with (kvm, qemu = software emulation, test), 0 for the others.",
      labelNames: ["type"],
      registers: [this.registry],
    });
    this.libvirtProbe = new Gauge({
      name: "drover_agent_libvirt_probe_seconds",
      help: "Time libvirtd took at agent start to answer a domain capabilities lookup; seconds mean every domain start is slow.",
      registers: [this.registry],
    });
    this.libvirtOps = new Histogram({
      name: "drover_agent_libvirt_operation_duration_seconds",
      help: "Duration of libvirt calls by operation and result.",
      labelNames: ["op", "result"],
      buckets: [0.001, 0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30],
      registers: [this.registry],
    });
    this.schedulerCalls = new Counter({
      name: "drover_agent_scheduler_calls_total",
      help: "RegisterNode/Heartbeat calls by result (ok, error).",
      labelNames: ["result"],
      registers: [this.registry],
    });
    this.heartbeatLate = new Histogram({
      name: "drover_agent_heartbeat_late_seconds",
      help: "How much later than due each heartbeat was sent (due: one interval after the previous one was sent).",
      buckets: HEARTBEAT_BUCKETS,
      registers: [this.registry],
    });
    this.heartbeatCall = new Histogram({
      name: "drover_agent_heartbeat_call_seconds",
      help: "Duration of Heartbeat calls to the scheduler that it answered.",
      buckets: HEARTBEAT_BUCKETS,
      registers: [this.registry],
    });
    this.authRefusals = new Counter({
      name: "drover_auth_refusals_total",
      help: "Calls refused for the caller's identity: surface agent-service, reason (no-certificate, not-scheduler, other-node, expired).",
      labelNames: ["surface", "reason"],
      registers: [this.registry],
    });
    this.certRenewals = new Counter({
      name: "drover_agent_certificate_renewals_total",
      help: "Node certificates renewed (RenewCertificate) without a restart.",
      registers: [this.registry],
    });
  }

  authRefused(reason: string): void {
    this.authRefusals.inc({ surface: "agent-service", reason });
  }

  certificateRenewed(): void {
    this.certRenewals.inc();
  }

  setHost(vcpus: number, memoryMib: number, diskGib: number): void {
    this.hostVcpus.set(vcpus);
    this.hostMemory.set(memoryMib * 2 ** 20);
    this.hostDisk.set(diskGib * 2 ** 30);
  }

  setDomainType(type: "kvm" | "qemu" | "test"): void {
    for (const t of ["kvm", "qemu", "test"]) this.domainType.set({ type: t }, t === type ? 1 : 0);
  }

  setLibvirtProbe(seconds: number): void {
    this.libvirtProbe.set(seconds);
  }

  setDomains(domains: readonly DomainSnapshot[]): void {
    const counts: Record<string, number> = Object.fromEntries(Object.values(STATE_LABEL).map((s) => [s, 0]));
    for (const d of domains) {
      const label = STATE_LABEL[d.state] ?? "other";
      counts[label] = (counts[label] ?? 0) + 1;
    }
    for (const [state, n] of Object.entries(counts)) this.domains.set({ state }, n);
  }

  observeLibvirt(op: string, seconds: number, ok: boolean): void {
    this.libvirtOps.observe({ op, result: ok ? "ok" : "error" }, seconds);
  }

  /** `callMs` only for Heartbeat calls: a beat on the stream has no answer of its own. */
  heartbeatTimed(lateMs: number, callMs?: number): void {
    this.heartbeatLate.observe(lateMs / 1000);
    if (callMs !== undefined) this.heartbeatCall.observe(callMs / 1000);
  }

  schedulerCall(ok: boolean): void {
    this.schedulerCalls.inc({ result: ok ? "ok" : "error" });
  }

  /** Serves GET /metrics on host:port; resolves with the bound address. */
  async listen(address: string): Promise<string> {
    const { host, port } = parseHostPort(address, "metrics listen address");
    const server = createServer((req, res) => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: try GET /metrics\n");
        return;
      }
      this.registry.metrics().then(
        (body) => res.writeHead(200, { "content-type": this.registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`${(err as Error).message}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host || undefined, () => resolve());
    });
    this.server = server;
    const bound = server.address();
    return typeof bound === "object" && bound ? formatHostPort(host || "0.0.0.0", bound.port) : address;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
