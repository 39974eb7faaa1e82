// A benchmark-only fleet: many hosts simulated AT THE gRPC BOUNDARY.
//
// Each simulated host has an AgentService of its own (its own port, and in secure mode its own
// certificate) that answers EnsureDomain and the other calls at once from an in-memory map of
// that host's domains, and it reports those domains in its heartbeats, as an agent does: a host
// that reported none would have the scheduler re-create its VMs as vanished, over and over. It
// speaks gRPC through grpc-lite.ts rather than grpc-js, so that the fleet takes little of the CPU
// the scheduler under test needs; the scheduler's side is its real grpc-js client. Each host is
// registered with the real scheduler through NodeRegistryService.RegisterNode
// and sends real heartbeats on StreamHeartbeats. Nothing here runs libvirt: results obtained with
// it must say "agents simulated at the gRPC boundary". It is not a test fake;
// the test suites use real agents on libvirt's test driver.
import { BeatPacer } from "./beat-pacer.js";
import { pick, prng } from "./common.js";
import { randomUUID } from "node:crypto";
import type { TLSSocket } from "node:tls";
import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { createKeyAndCsr, identityOfSubject } from "@drover/pki";
import { GrpcLiteError, LiteClient, startLiteServer } from "./grpc-lite.js";
import { slotClock } from "./slot-clock.js";
import {
  AgentServiceService,
  DomainState,
  NodeRegistryServiceClient,
  NodeRegistryServiceService,
  type DomainStatus,
  type HeartbeatRequest,
  type JoinNodeResponse,
  type StreamHeartbeatsResponse,
  type RegisterNodeRequest,
} from "@drover/proto";

export interface FleetOptions {
  /** host:port of the scheduler's NodeRegistryService. */
  schedulerAddress: string;
  /** Number of simulated hosts (host-00001 …). */
  hosts: number;
  /** Seed of the PRNG that sizes the hosts. */
  seed: number;
  /** Heartbeat period per host; the hosts are spread evenly over it. Default 5000 ms. */
  heartbeatIntervalMs?: number;
  /** Concurrent RegisterNode calls while registering. Default 16. */
  registerConcurrency?: number;
  /**
   * Secure mode: each host joins with one of these one-time tokens (JoinNode, as an agent
   * does), then calls the registry over mTLS with its own certificate, and its AgentService
   * serves that certificate and answers only the scheduler's.
   */
  tls?: { caPem: string; joinTokens: string[] };
}

export interface FleetStats {
  hosts: number;
  registered: number;
  ensureDomain: number;
  destroyDomain: number;
  otherCalls: number;
  domains: number;
  heartbeatsSent: number;
  heartbeatErrors: number;
  /** Answers on the hosts' StreamHeartbeats streams. */
  heartbeatAnswers: number;
  /** Hosts beating slower than the fleet's interval, told so by the scheduler's beat-rate cap. */
  slowed: number;
}

export interface Fleet {
  /** host:port of the first host's AgentService (each host has its own). */
  address: string;
  /** Names and sizes of the simulated hosts. */
  hosts: RegisterNodeRequest[];
  /** Resolves once every host's RegisterNode succeeded. */
  registered: Promise<void>;
  stats(): FleetStats;
  stop(): Promise<void>;
}


const VCPU_CHOICES = [16, 24, 32, 48, 64, 96, 128];
const GIB_PER_VCPU = [2, 4, 8];
const DISK_CHOICES = [500, 1000, 2000, 4000];
const ZONES = ["a", "b", "c"];

/** Heterogeneous host sizes from the seed: 16–128 vCPUs, 2–8 GiB per vCPU, 0.5–4 TiB disk, 3 zones. */
export function fleetHosts(count: number, seed: number, address: string): RegisterNodeRequest[] {
  const rnd = prng(seed);
  return Array.from({ length: count }, (_, i) => {
    const vcpus = pick(rnd, VCPU_CHOICES);
    return {
      name: `host-${String(i + 1).padStart(5, "0")}`,
      address,
      capacity: { vcpus, memoryMib: vcpus * pick(rnd, GIB_PER_VCPU) * 1024, diskGib: pick(rnd, DISK_CHOICES) },
      labels: { zone: pick(rnd, ZONES), rack: `r${Math.floor(i / 40)}`, "drover.bench/simulated": "true" },
    };
  });
}

interface HostTls {
  keyPem: string;
  certificatePem: string;
}

/** Joins every host with its token, 16 at a time, as agents do: a fresh key, a CSR, JoinNode. */
async function joinHosts(schedulerAddress: string, names: string[], tls: NonNullable<FleetOptions["tls"]>): Promise<Map<string, HostTls>> {
  const client = new NodeRegistryServiceClient(schedulerAddress, credentials.createSsl(Buffer.from(tls.caPem)));
  const out = new Map<string, HostTls>();
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      const name = names[i]!;
      const { keyPem, csrPem } = await createKeyAndCsr(name);
      const res = await new Promise<JoinNodeResponse>((resolve, reject) =>
        client.joinNode({ joinToken: tls.joinTokens[i]!, nodeName: name, csrPem }, new Metadata(), { deadline: new Date(Date.now() + 60_000) }, (e: ServiceError | null, r: JoinNodeResponse) =>
          e ? reject(e) : resolve(r),
        ),
      );
      out.set(name, { keyPem, certificatePem: res.certificatePem });
    }
  };
  try {
    await Promise.all(Array.from({ length: 16 }, worker));
  } finally {
    client.close();
  }
  return out;
}

/** TLS for one host's AgentService: its own certificate, client certificates required. */
function serverTls(caPem: string, host: HostTls) {
  return { key: host.keyPem, cert: host.certificatePem, ca: caPem, requestCert: true, rejectUnauthorized: true };
}

/** Sessions whose client certificate was found to be the scheduler's. */
const schedulerSessions = new WeakSet<object>();

/**
 * As the agents' interceptor: AgentService answers only the scheduler's certificate. Checked once
 * per connection (its certificate cannot change), not per call as a real agent does: the fleet
 * shares the scheduler's cores here, and getPeerCertificate() per call is CPU a real agent spends
 * on its own machine.
 */
function schedulerOnly(stream: { session?: object & { socket: unknown } }): void {
  const session = stream.session;
  if (session && schedulerSessions.has(session)) return;
  const cert = (session?.socket as TLSSocket | undefined)?.getPeerCertificate();
  if (identityOfSubject(cert?.subject)?.kind !== "scheduler") throw new GrpcLiteError(status.PERMISSION_DENIED, "only the scheduler's certificate");
  if (session) schedulerSessions.add(session);
}

/** One host's AgentService, answering from its own map of domains. */
async function startHostAgent(domains: Map<string, DomainStatus>, stats: FleetStats, tls?: { caPem: string; host: HostTls }) {
  const running = (vmId: string, name = ""): DomainStatus => ({
    vmId,
    name,
    state: DomainState.DOMAIN_STATE_RUNNING,
    reason: "",
    interfaces: [],
    reportInterfaces: false,
    generation: 0,
  });
  const withDomain = (vmId: string, state: DomainState) => {
    stats.otherCalls++;
    const d = domains.get(vmId);
    if (!d) throw new GrpcLiteError(status.NOT_FOUND, `no domain ${vmId}`);
    d.state = state;
    return { domain: { ...d } };
  };
  return startLiteServer(AgentServiceService, {
    getHostInfo: () => {
      stats.otherCalls++;
      return { name: "fleet", capacity: { vcpus: 0, memoryMib: 0, diskGib: 0 }, libvirtUri: "sim://fleet", domainType: "sim", hypervisor: "sim", domainTypeReason: "", libvirtProbeSeconds: 0 };
    },
    ensureDomain: (req) => {
      stats.ensureDomain++;
      let d = domains.get(req.vmId);
      if (!d) {
        d = running(req.vmId, req.spec?.name ?? "");
        domains.set(req.vmId, d);
      }
      return { domain: { ...d } };
    },
    startDomain: (req) => withDomain(req.vmId, DomainState.DOMAIN_STATE_RUNNING),
    stopDomain: (req) => withDomain(req.vmId, DomainState.DOMAIN_STATE_SHUTOFF),
    rebootDomain: (req) => withDomain(req.vmId, DomainState.DOMAIN_STATE_RUNNING),
    destroyDomain: (req) => {
      stats.destroyDomain++;
      domains.delete(req.vmId);
      return {};
    },
    listDomains: () => {
      stats.otherCalls++;
      return { domains: [...domains.values()] };
    },
  }, "127.0.0.1", tls ? serverTls(tls.caPem, tls.host) : undefined, tls ? schedulerOnly : undefined);
}

/** Starts every host's AgentService, registers every host and starts heartbeats. */
export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const intervalMs = opts.heartbeatIntervalMs ?? 5000;
  const stats: FleetStats = {
    hosts: opts.hosts,
    registered: 0,
    ensureDomain: 0,
    destroyDomain: 0,
    otherCalls: 0,
    domains: 0,
    heartbeatsSent: 0,
    heartbeatErrors: 0,
    heartbeatAnswers: 0,
    slowed: 0,
  };
  const sized = fleetHosts(opts.hosts, opts.seed, "");
  const certs = opts.tls ? await joinHosts(opts.schedulerAddress, sized.map((h) => h.name), opts.tls) : undefined;
  const domainsOf = sized.map(() => new Map<string, DomainStatus>());
  const servers = await Promise.all(
    sized.map((h, i) => startHostAgent(domainsOf[i]!, stats, certs ? { caPem: opts.tls!.caPem, host: certs.get(h.name)! } : undefined)),
  );
  const hosts = sized.map((h, i) => ({ ...h, address: `127.0.0.1:${servers[i]!.port}` }));

  // One connection per host, as each agent has its own (with its own certificate in secure mode).
  const clients = hosts.map(
    (h) =>
      new LiteClient(opts.schedulerAddress, certs ? { ca: opts.tls!.caPem, cert: certs.get(h.name)!.certificatePem, key: certs.get(h.name)!.keyPem } : undefined),
  );

  let stopped = false;
  // A host beats from its own registration on: registering 5,000 hosts on a loaded machine can
  // take longer than the heartbeat timeout, and the first ones went DOWN waiting for the last.
  const isRegistered = hosts.map(() => false);
  const registered = (async () => {
    let next = 0;
    const worker = async () => {
      while (!stopped && next < hosts.length) {
        const i = next++;
        const h = hosts[i]!;
        for (let attempt = 0; ; attempt++) {
          try {
            await clients[i]!.unary(NodeRegistryServiceService.registerNode, h, 30_000);
            stats.registered++;
            isRegistered[i] = true;
            break;
          } catch (err) {
            if (attempt >= 5 || stopped) throw err;
            await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: opts.registerConcurrency ?? 16 }, worker));
  })();

  // Heartbeats: every host once per interval, spread over it in 20 slots, each reporting the
  // host's domains under one boot id per fleet and a rising seq on a StreamHeartbeats stream of its
  // own, as an agent does; a host told a beat-rate floor beats slower (beat-pacer.ts).
  const SLOTS = 20;
  const bootId = `${Date.now()}-${randomUUID()}`;
  const pacer = new BeatPacer(hosts.length, intervalMs);
  const streams: ({ write(req: { beat: HeartbeatRequest }): void; end(): void } | undefined)[] = [];
  const streamOf = (i: number) =>
    (streams[i] ??= clients[i]!.bidi(
      NodeRegistryServiceService.streamHeartbeats,
      (res: StreamHeartbeatsResponse) => {
        stats.heartbeatAnswers++;
        pacer.told(i, res.minHeartbeatIntervalMs);
      },
      () => {
        streams[i] = undefined;
        if (!stopped) stats.heartbeatErrors++;
      },
    ));
  let seq = 0;
  const stopClock = slotClock(SLOTS, intervalMs, (s) => {
    if (stopped) return;
    seq++;
    for (let i = s; i < hosts.length; i += SLOTS) {
      if (!isRegistered[i] || !pacer.due(i)) continue;
      const domains = [...domainsOf[i]!.values()];
      streamOf(i).write({ beat: { name: hosts[i]!.name, domains, bootId, seq, libvirtUnavailable: "", intervalMs: pacer.saidMs(i) } });
      stats.heartbeatsSent++;
    }
  });

  return {
    address: hosts[0]?.address ?? "",
    hosts,
    registered,
    stats: () => ({ ...stats, domains: domainsOf.reduce((n, d) => n + d.size, 0), slowed: pacer.slowed() }),
    async stop() {
      stopped = true;
      stopClock();
      for (const st of streams) st?.end();
      await registered.catch(() => {});
      for (const c of clients) c.close();
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}

// Run as a child process (see api.ts), options in DROVER_BENCH_FLEET: the fleet gets an event loop
// and a table of open files of its own, so its work does not delay the scheduler's and its
// sockets do not count against the scheduler process's limit. Messages: {cmd: "stats"|"stop"}.
if (process.env.DROVER_BENCH_FLEET && process.send) {
  const send = (m: object) => process.send!(m);
  const fleet = await startFleet(JSON.parse(process.env.DROVER_BENCH_FLEET) as FleetOptions);
  send({ type: "started", address: fleet.address, hosts: fleet.hosts });
  fleet.registered.then(
    () => send({ type: "registered" }),
    (err) => send({ type: "error", error: String(err) }),
  );
  process.on("message", async (m: { cmd: string }) => {
    if (m.cmd === "stats") send({ type: "stats", stats: fleet.stats() });
    if (m.cmd === "stop") {
      await fleet.stop();
      send({ type: "stopped", stats: fleet.stats() });
      process.disconnect();
    }
  });
  // The parent gone (killed, or its watchdog's exit): nothing is left to serve.
  process.on("disconnect", () => process.exit(0));
}
