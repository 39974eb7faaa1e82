// Wires one agent together: libvirt, the AgentService gRPC server, registration
// with heartbeats, and metrics.
import { join } from "node:path";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { AgentServiceService, type DomainStatus, type RegisterNodeRequest } from "@drover/proto";
import { createAgentService } from "./agent-service.js";
import { capacityOf, diskCapacityGib } from "./capacity.js";
import { ClusterIdentity } from "./cluster-identity.js";
import { unboundedConsoleLogs } from "./console-log.js";
import { type AgentConfig, formatHostPort, parseHostPort, withDefaults } from "./config.js";
import { AddressWatcher } from "./addresses.js";
import { readLeases } from "./dhcp-leases.js";
import { type DomainType, type DomainTypeChoice, chooseDomainType, isTestUri } from "./domain-type.js";
import { type ProbeResult, probeCapabilities, slowProbeWarning } from "./libvirt-probe.js";
import { DomainStates } from "./domain-states.js";
import { LibvirtHost } from "./libvirt.js";
import { withCrashes } from "./shutoff-reasons.js";
import { AgentMetrics } from "./metrics.js";
import { OwnedDomains } from "./owned-domains.js";
import { qemuUser } from "./qemu-user.js";
import { newBootId, Registration } from "./registration.js";
import { stateDirProblem } from "./storage.js";
import { strayDestroyer } from "./stray-destroyer.js";
import { NodeIdentity } from "./tls/node-identity.js";
import { schedulerOnly } from "./tls/scheduler-only.js";

export interface RunningAgent {
  /** Node name announced to the scheduler. */
  readonly name: string;
  /** host:port of the AgentService, as advertised to the scheduler. */
  readonly address: string;
  /** host:port of /metrics when metricsListen is set. */
  readonly metricsAddress: string | undefined;
  readonly domainType: DomainType;
  /** Why domainType, with the fix when KVM exists but QEMU cannot use it. */
  readonly domainTypeReason: string;
  /** How long libvirtd took at start to answer a domain capabilities lookup; undefined for test:// or without virsh. */
  readonly libvirtProbe: ProbeResult | undefined;
  /** The warnings logged at start (KVM unusable by QEMU, slow libvirtd, state dir QEMU cannot enter), each with its fix. */
  readonly warnings: readonly string[];
  /** Resolves once the scheduler has accepted RegisterNode (startAgent does not wait for it). */
  registered(): Promise<void>;
  stop(): Promise<void>;
  /** While stop() runs: the step it waits on, e.g. "libvirt connection (3.2 s)". */
  shutdownOpen(): string[];
  /** Stops registration and heartbeats (simulates a dead node for liveness tests); the gRPC server keeps serving. */
  pauseHeartbeats(): void;
  /** Resumes them, with one heartbeat at once. */
  resumeHeartbeats(): void;
  /** The interval it heartbeats at now (its own, the scheduler's, or the scheduler's beat-rate floor: beat-interval.ts). */
  readonly heartbeatIntervalMs: number;
  /** One full listing of the domains now, as the agent's own timer makes them (tests: a listing at a chosen moment). */
  relistDomains(): Promise<void>;
  /** The node's certificate (undefined when insecure): renewals so far, expiry, renew now. */
  readonly tls: { readonly renewals: number; readonly notAfter: Date; renew(): Promise<void> } | undefined;
}

export interface StartOptions {
  /** Where log lines go; default stderr with a "[drover-agent <name>]" prefix. */
  log?: (message: string) => void;
  /** Device probed for KVM (tests point it elsewhere). */
  kvmPath?: string;
  /** Where the kernel lists its modules (tests; default /sys/module): kvm_pvm alone means emulation. */
  sysModulesPath?: string;
  /** Also export Node.js process metrics (the drover-agent binary does; tests don't). */
  processMetrics?: boolean;
}

/** Node label carrying the domain type the agent uses, so requests can ask for KVM hosts. */
export const DOMAIN_TYPE_LABEL = "drover.io/domain-type";

function advertised(config: AgentConfig, boundPort: number): string {
  if (config.advertiseAddress) return config.advertiseAddress;
  const { host } = parseHostPort(config.listen, "listen");
  // A wildcard bind has no dialable address of its own; loopback is right for a
  // single-host cluster, and multi-host setups must set advertiseAddress.
  const wildcard = host === "" || host === "0.0.0.0" || host === "::";
  return formatHostPort(wildcard ? "127.0.0.1" : host, boundPort);
}

function bind(server: Server, address: string, creds: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(address, creds, (err, port) =>
      err ? reject(new Error(`cannot listen on ${address} for the AgentService: ${err.message}`)) : resolve(port),
    ),
  );
}

/** Clean-up steps, run in reverse order of registration; failures are ignored (best effort on the way out). */
class Cleanup {
  private readonly steps: Array<{ name: string; fn: () => Promise<void> }> = [];
  private current: { name: string; since: number } | undefined;
  push(name: string, fn: () => Promise<void>): void {
    this.steps.push({ name, fn });
  }
  async run(): Promise<void> {
    for (const { name, fn } of this.steps.reverse()) {
      this.current = { name, since: Date.now() };
      await fn().catch(() => {});
    }
    this.current = undefined;
  }
  /** The step run() waits on, with how long: "libvirt connection (3.2 s)"; for main.ts's last log line. */
  open(): string[] {
    return this.current ? [`${this.current.name} (${((Date.now() - this.current.since) / 1000).toFixed(1)} s)`] : [];
  }
}

/** What the agent's parts share once libvirt is connected. */
interface AgentParts {
  config: AgentConfig;
  libvirt: LibvirtHost;
  /** The cluster this node serves, learnt at registration (or pinned) and kept in the state dir. */
  cluster: ClusterIdentity;
  /** Drover's domains of that cluster: all the agent ever lists or acts on. */
  owned: OwnedDomains;
  name: string;
  metrics: AgentMetrics;
  log: (message: string) => void;
  capacity(): Promise<ReturnType<typeof capacityOf>>;
  /** The domains' states as the agent's own calls and its listings left them: what heartbeats send. */
  states: DomainStates;
  /** Why libvirt is unreachable ("" while it is reachable and the states were re-read since). */
  libvirtProblem: string;
  host: HostCheck;
  /** The VMs' addresses (DHCP leases, looked up on their own schedule); undefined on the test driver. */
  addresses: AddressWatcher | undefined;
  /** A real hypervisor (not libvirt's test driver, which lives inside this process): virsh can see its domains. */
  realHost: boolean;
  /** This node's certificate; undefined in insecure mode. */
  identity: NodeIdentity | undefined;
  cleanup: Cleanup;
}

/** What the agent found about its host at start; `choice` drops to qemu if a start shows KVM unusable after all. */
interface HostCheck {
  choice: DomainTypeChoice;
  probe: ProbeResult | undefined;
  /** Logged at start, each with its fix. */
  warnings: string[];
}

/**
 * Starts an agent: connects to libvirt, serves the AgentService, and begins
 * registering with the scheduler. Resolves after the first registration attempt,
 * whether or not it succeeded (the agent keeps retrying while the scheduler is down).
 */
export async function startAgent(input: Partial<AgentConfig>, options: StartOptions = {}): Promise<RunningAgent> {
  const config = withDefaults(input);
  const bootTimeMs = Date.now();
  let metrics: AgentMetrics | undefined;
  const libvirt = await LibvirtHost.connect(config.libvirtUri, (op, s, ok) => metrics?.observeLibvirt(op, s, ok));
  const cleanup = new Cleanup();
  cleanup.push("libvirt connection", () => libvirt.close());
  try {
    const host = await libvirt.hostInfo();
    const name = config.nodeName ?? host.hostname;
    const log = options.log ?? ((m: string) => process.stderr.write(`[drover-agent ${name}] ${m}\n`));
    const hostCheck = await checkHost(config, options.kvmPath, log, options.sysModulesPath);
    const diskGib = await diskCapacityGib(config.libvirtUri, config.stateDir, config.diskGib);
    // test:// hosts lose their domains with the connection: nothing to remember across restarts.
    const cluster = new ClusterIdentity(isTestUri(config.libvirtUri) ? undefined : ClusterIdentity.inStateDir(config.stateDir), config.clusterId);
    const owned = new OwnedDomains(libvirt, () => cluster.id);
    const states = new DomainStates(bootTimeMs);
    const snapshots = async () => states.list().map((d) => ({ uuid: d.vmId, name: d.name, state: d.state }));
    metrics = new AgentMetrics(name, { processMetrics: options.processMetrics ?? false, listDomains: snapshots });
    metrics.setHost(host.vcpus, host.memoryMib, diskGib);
    metrics.setDomainType(hostCheck.choice.type);
    metrics.setLibvirtProbe(hostCheck.probe?.seconds ?? 0);
    const m = metrics;
    const identity = await nodeIdentity(config, name, log, m);
    if (identity) cleanup.push("certificate renewal", async () => identity.stop());
    const parts: AgentParts = {
      config,
      libvirt,
      cluster,
      owned,
      name,
      metrics: m,
      log,
      capacity: async () => capacityOf(await libvirt.hostInfo(), diskGib),
      states,
      libvirtProblem: "",
      host: hostCheck,
      addresses: undefined,
      realHost: !isTestUri(config.libvirtUri),
      identity,
      cleanup,
    };
    await relistDomains(parts);
    const service = await serveAgentService(parts);
    const metricsAddress = await serveMetrics(parts);
    const registration = register(parts, service.address, newBootId(bootTimeMs));
    keepDomainsCurrent(parts, registration);
    if (!isTestUri(config.libvirtUri)) watchAddresses(parts, registration);
    log(`serving AgentService on ${config.listen} (advertised as ${service.address}), libvirt ${config.libvirtUri} (${describeHost(hostCheck)}), ${host.vcpus} vCPUs, ${host.memoryMib} MiB, ${diskGib} GiB disk`);
    await registration.start();
    return running(name, service.address, hostCheck, metricsAddress, registration, cleanup, identity, () => relistDomains(parts));
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

/** The node's certificate (joining with the token if there is none yet), or none in insecure mode, said loudly. */
async function nodeIdentity(config: AgentConfig, name: string, log: (m: string) => void, m: AgentMetrics): Promise<NodeIdentity | undefined> {
  if (config.insecure) {
    log("WARNING: DROVER_INSECURE=1: no TLS; AgentService answers anyone who reaches it. Test clusters only.");
    return undefined;
  }
  return NodeIdentity.obtain({
    nodeName: name,
    schedulerAddress: config.schedulerAddress,
    tlsDir: config.tlsDir ?? join(config.stateDir, "tls"),
    caFile: config.caFile,
    joinToken: config.joinToken,
    log,
    onRenewed: () => m.certificateRenewed(),
  });
}

/**
 * Which domain type and why, how fast libvirtd answers, and whether QEMU can reach the state dir;
 * each problem is logged as a warning with its fix.
 */
async function checkHost(config: AgentConfig, kvmPath: string | undefined, log: (m: string) => void, sysModules?: string): Promise<HostCheck> {
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    log(`warning: ${m}`);
  };
  const choice = chooseDomainType(config.libvirtUri, kvmPath, undefined, sysModules);
  if (choice.fix) warn(`KVM is there but QEMU cannot use it: ${choice.reason}. Fix: ${choice.fix}`);
  const real = !isTestUri(config.libvirtUri);
  const probe = real ? await probeCapabilities(config.libvirtUri) : undefined;
  if (probe?.slow) warn(slowProbeWarning(probe, choice.fix));
  const user = real && config.libvirtUri.includes("/system") ? qemuUser() : undefined;
  const stateDirWarning = user && stateDirProblem(config.stateDir, user);
  if (stateDirWarning) warn(stateDirWarning);
  const unbounded = real && config.libvirtUri.startsWith("qemu") ? unboundedConsoleLogs() : undefined;
  if (unbounded) warn(unbounded);
  return { choice, probe, warnings };
}

function describeHost({ choice, probe }: HostCheck): string {
  return `domain type ${choice.type}: ${choice.reason}${probe ? `; capabilities lookup ${probe.seconds.toFixed(2)} s` : ""}`;
}

function domainTypeReason({ choice }: HostCheck): string {
  return choice.fix ? `${choice.reason}. Fix: ${choice.fix}` : choice.reason;
}

/** The AgentService on its port; a fallback from KVM updates parts.host.choice. */
async function serveAgentService(parts: AgentParts): Promise<{ address: string }> {
  const { config, log, host, identity } = parts;
  const maxBytes = config.maxMessageMib * 1024 * 1024;
  const server = new Server({
    "grpc.max_receive_message_length": maxBytes,
    "grpc.max_send_message_length": maxBytes,
    interceptors: identity ? [schedulerOnly(parts.name, (reason) => parts.metrics.authRefused(reason), (serial) => identity.revocations.has(serial))] : [],
  });
  server.addService(
    AgentServiceService,
    createAgentService({
      libvirt: parts.libvirt,
      clusterId: () => parts.cluster.id,
      owned: parts.owned,
      domainType: host.choice,
      onKvmUnavailable: (next) => {
        host.choice = next;
        parts.metrics.setDomainType(next.type);
        log(`KVM is not usable by QEMU: ${next.reason} (domain type qemu)`);
      },
      stateDir: config.stateDir,
      imageDir: config.imageDir ?? join(config.stateDir, "images"),
      hostInfo: async () => ({ name: parts.name, capacity: await parts.capacity(), libvirtProbeSeconds: host.probe?.seconds ?? 0 }),
      states: parts.states,
      log,
    }),
  );
  const port = await bind(server, config.listen, identity?.serverCredentials() ?? ServerCredentials.createInsecure());
  parts.cleanup.push(
    "AgentService server",
    () =>
      new Promise<void>((resolve) => {
        // Give in-flight calls a moment, then cut them off.
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  );
  return { address: advertised(config, port) };
}

/** Serves /metrics when metricsListen is set; its address, or undefined. */
async function serveMetrics(parts: AgentParts): Promise<string | undefined> {
  if (!parts.config.metricsListen) return undefined;
  const address = await parts.metrics.listen(parts.config.metricsListen);
  parts.cleanup.push("metrics server", () => parts.metrics.close());
  return address;
}

/**
 * All domains are listed again every config.relistIntervalMs (to see what changed behind the
 * agent's back), and at most this share of the time is spent listing (a listing costs a few calls
 * per domain)...
 */
const RELIST_MAX_SHARE = 0.1;
/**
 * ... but never waiting more than this many intervals: one listing slowed by domains starting (each
 * call waits for the domain's job while QEMU starts: 9 s for 4 domains under emulation) put off the
 * next by 90 s, and a crash meanwhile went unseen for that long.
 */
const RELIST_MAX_INTERVALS = 10;

/** One full listing into parts.states (and the domain metrics). */
async function relistDomains(parts: AgentParts): Promise<void> {
  const since = parts.states.mark();
  parts.states.replaceAll(await withCrashes(parts.states, parts.config.libvirtUri, parts.realHost, await parts.owned.list()), since);
  // A whole listing went through: libvirt is reachable and the states are re-read.
  if (!parts.libvirt.unavailable) parts.libvirtProblem = "";
  parts.metrics.setDomains(parts.states.list().map((d) => ({ uuid: d.vmId, name: d.name, state: d.state })));
}

/**
 * Keeps parts.states true without a listing after every call: a full listing on a timer of its own
 * (one at a time, at most RELIST_MAX_SHARE of the time), a probe of the libvirt connection, and,
 * after libvirt was unreachable, a listing before the node reports itself healthy again.
 */
function keepDomainsCurrent(parts: AgentParts, registration: Registration): void {
  const { libvirt, log } = parts;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const interval = parts.config.relistIntervalMs;
  const relistLater = (lastMs: number) => {
    if (stopped) return;
    timer = setTimeout(() => {
      const start = performance.now();
      relistDomains(parts)
        .catch((err: unknown) => log(`listing domains failed: ${(err as Error).message}`))
        .finally(() => relistLater(performance.now() - start));
    }, Math.max(interval, Math.min(lastMs / RELIST_MAX_SHARE, interval * RELIST_MAX_INTERVALS)));
    timer.unref();
  };
  relistLater(0);
  libvirt.watch(parts.config.heartbeatIntervalMs);
  libvirt.onAvailability((problem) => {
    if (problem) {
      parts.libvirtProblem = problem;
      log(`libvirt connection lost (${problem}): reconnecting; the node takes no new VMs meanwhile`);
      registration.beatNow();
      return;
    }
    relistDomains(parts).then(
      () => {
        parts.libvirtProblem = "";
        log(`libvirt reconnected: ${parts.states.size} domains re-read`);
        registration.beatNow();
      },
      // Lost again (a new reconnect is under way) or a listing error: stay unavailable until the next.
      (err: unknown) => log(`libvirt reconnected but listing domains failed: ${(err as Error).message}`),
    );
  });
  parts.cleanup.push("domain listing", async () => {
    stopped = true;
    clearTimeout(timer);
  });
}

/**
 * Looks up the DHCP leases every heartbeat interval (at least every second apart), on a loop of its
 * own: the heartbeat reads the last result. A change sends a heartbeat at once, so a new address
 * shows within a lookup, not a lookup plus a beat.
 */
function watchAddresses(parts: AgentParts, registration: Registration): void {
  let failing = false;
  const watcher = new AddressWatcher({
    readLeases: () => readLeases(parts.config.libvirtUri),
    intervalMs: Math.max(1000, parts.config.heartbeatIntervalMs),
    onChange: () => {
      failing = false;
      registration.beatNow();
    },
    onError: (err) => {
      if (!failing) parts.log(`looking up DHCP leases failed (addresses are not updated meanwhile): ${(err as Error).message}`);
      failing = true;
    },
  });
  parts.addresses = watcher;
  watcher.start();
  parts.cleanup.push("DHCP lease lookups", () => watcher.stop());
}

/** What a heartbeat sends: the kept states and the last addresses found; no libvirt or virsh call. */
export function heartbeatDomains(states: DomainStates, addresses: AddressWatcher | undefined, staticIpv4: (vmId: string) => string | undefined): DomainStatus[] {
  return states.list().map((d) => ({
    ...d,
    interfaces: addresses ? addresses.interfacesOf(d.vmId, staticIpv4(d.vmId)) : [],
    // Real hosts report each NIC (the MAC is the one the agent gave it); the test driver has none.
    reportInterfaces: addresses !== undefined,
  }));
}

/** Registration with the scheduler and the heartbeats after it (not started yet). */
function register(parts: AgentParts, address: string, bootId: string): Registration {
  const { config, name, metrics: m, log } = parts;
  const strays = strayDestroyer(parts, address);
  parts.cleanup.push("stray domain destroyer", async () => strays.close());
  const registration = new Registration({
    schedulerAddress: config.schedulerAddress,
    ...(parts.identity ? { credentials: parts.identity.schedulerCredentials() } : {}),
    nodeName: name,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    registerRequest: async (): Promise<RegisterNodeRequest> => ({ name, address, capacity: await parts.capacity(), labels: { ...config.labels, [DOMAIN_TYPE_LABEL]: parts.host.choice.type } }),
    domains: async () => heartbeatDomains(parts.states, parts.addresses, (vmId) => parts.owned.staticIpv4(vmId)),
    libvirtUnavailable: () => parts.libvirtProblem || (parts.libvirt.unavailable ?? ""),
    bootId,
    log,
    // Throwing refuses the registration (logged, retried): a node never joins a second cluster.
    onRegistered: (res) => {
      m.schedulerCall(true);
      parts.cluster.adopt(res.clusterId);
      parts.identity?.revocations.replace(res.revokedSerials);
      // Which domains are ours depends on the cluster id, known from now on: list them again.
      void relistDomains(parts).catch((err: unknown) => log(`listing domains failed: ${(err as Error).message}`));
    },
    onHeartbeat: (res) => {
      m.schedulerCall(true);
      parts.identity?.revocations.replace(res.revokedSerials);
      for (const vmId of res.destroyVmIds) strays.destroy(vmId);
    },
    onBeatTimed: (t) => m.heartbeatTimed(t.lateMs, t.callMs),
    onError: () => m.schedulerCall(false),
  });
  parts.identity?.whenRenewed(() => registration.reconnect());
  parts.cleanup.push("registration and heartbeats", () => registration.stop());
  return registration;
}

function running(
  name: string,
  address: string,
  host: HostCheck,
  metricsAddress: string | undefined,
  registration: Registration,
  cleanup: Cleanup,
  identity: NodeIdentity | undefined,
  relist: () => Promise<void>,
): RunningAgent {
  let stopping: Promise<void> | undefined;
  return {
    name,
    address,
    metricsAddress,
    // The type in use now: "qemu" after a fallback from KVM.
    get domainType() {
      return host.choice.type;
    },
    get domainTypeReason() {
      return domainTypeReason(host);
    },
    libvirtProbe: host.probe,
    warnings: host.warnings,
    registered: () => registration.whenRegistered(),
    pauseHeartbeats: () => registration.pause(),
    resumeHeartbeats: () => registration.resume(),
    get heartbeatIntervalMs() {
      return registration.heartbeatIntervalMs;
    },
    relistDomains: relist,
    stop: () => (stopping ??= cleanup.run()),
    shutdownOpen: () => cleanup.open(),
    tls: identity && {
      get renewals() {
        return identity.renewals;
      },
      get notAfter() {
        return identity.notAfter;
      },
      renew: () => identity.renew(),
    },
  };
}
