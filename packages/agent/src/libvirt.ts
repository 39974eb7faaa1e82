// Thin wrapper over @unraid/libvirt: the only module that touches the binding.
// The binding is an optionalDependency (it needs libvirt-dev to build), so it is
// imported lazily and its absence becomes one clear error at startup.
import { DomainState } from "@drover/proto";
import { DomainNotFoundError, LibvirtUnavailableError } from "./errors.js";

type Binding = typeof import("@unraid/libvirt");
type Hypervisor = InstanceType<Binding["Hypervisor"]>;
export type Domain = InstanceType<Binding["Domain"]>;

let binding: Promise<Binding> | undefined;

export async function loadBinding(): Promise<Binding> {
  binding ??= import("@unraid/libvirt").catch((err: unknown) => {
    binding = undefined;
    throw new Error(
      "the libvirt binding @unraid/libvirt is not installed: install libvirt-dev (Debian/Ubuntu; libvirt-devel on Fedora) " +
        `and a C++ toolchain, then run npm install in the repository root (cause: ${(err as Error).message})`,
    );
  });
  return binding;
}

// libvirt's virDomainState numbers.
const LIBVIRT_STATE: Record<number, DomainState> = {
  0: DomainState.DOMAIN_STATE_OTHER, // NOSTATE
  1: DomainState.DOMAIN_STATE_RUNNING,
  2: DomainState.DOMAIN_STATE_RUNNING, // BLOCKED on I/O: still running
  3: DomainState.DOMAIN_STATE_PAUSED,
  4: DomainState.DOMAIN_STATE_RUNNING, // SHUTDOWN in progress: still running until it is off
  5: DomainState.DOMAIN_STATE_SHUTOFF,
  6: DomainState.DOMAIN_STATE_CRASHED,
  7: DomainState.DOMAIN_STATE_PAUSED, // PMSUSPENDED
};

export function mapDomainState(libvirtState: number): DomainState {
  return LIBVIRT_STATE[libvirtState] ?? DomainState.DOMAIN_STATE_OTHER;
}

export function isActive(state: DomainState): boolean {
  return state === DomainState.DOMAIN_STATE_RUNNING || state === DomainState.DOMAIN_STATE_PAUSED;
}

export function isNotFound(err: unknown): boolean {
  // The binding reports code -1 for everything; the message is the only signal.
  return err instanceof Error && /domain not found|no domain with matching/i.test(err.message);
}

/**
 * Whether an error means the connection to libvirtd is gone (libvirtd restarted, or dropped this
 * client): the binding then fails every call with the same message until a new connection is opened.
 */
export function isConnectionLost(err: unknown): boolean {
  return (
    err instanceof Error &&
    /client socket is closed|end of file while reading data|cannot (write|recv|read) data|broken pipe|connection reset|invalid connection pointer|no connection driver|is not connected/i.test(
      err.message,
    )
  );
}

/** First and longest wait between reconnect attempts. */
const RECONNECT_FIRST_MS = 200;
const RECONNECT_MAX_MS = 5000;

export interface HostInfo {
  hostname: string;
  vcpus: number;
  memoryMib: number;
}

export interface DomainSnapshot {
  uuid: string;
  name: string;
  state: DomainState;
  /** How libvirt says it came to this state, when looked up (shutoff-reasons.ts), e.g. "shut off (crashed)". */
  reason?: string;
}

/** Called after every libvirt operation, for the duration histogram. */
export type OpObserver = (op: string, seconds: number, ok: boolean) => void;

/** Told when the connection is lost (`problem` says why) and when it is back (`problem` = ""). */
export type AvailabilityListener = (problem: string) => void;

async function open(uri: string): Promise<Hypervisor> {
  const { Hypervisor } = await loadBinding();
  const hv = new Hypervisor({ uri });
  await hv.connectOpen();
  return hv;
}

export class LibvirtHost {
  /** Why the connection is gone while the agent reconnects; undefined while connected. */
  private lost: string | undefined;
  private closed = false;
  private lastOkAt = performance.now();
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly listeners: AvailabilityListener[] = [];

  private constructor(
    private hv: Hypervisor,
    readonly uri: string,
    private readonly observe: OpObserver,
  ) {}

  static async connect(uri: string, observe: OpObserver = () => {}): Promise<LibvirtHost> {
    try {
      return new LibvirtHost(await open(uri), uri, observe);
    } catch (err) {
      throw new Error(`cannot connect to libvirt at ${uri}: ${(err as Error).message} (is libvirtd running and may this user use it?)`, { cause: err });
    }
  }

  /** Why libvirt cannot be used now (the agent is reconnecting), or undefined when it can. */
  get unavailable(): string | undefined {
    return this.lost;
  }

  onAvailability(listener: AvailabilityListener): void {
    this.listeners.push(listener);
  }

  /**
   * Checks the connection every `intervalMs` when no call has succeeded for that long, so a
   * connection that libvirtd dropped while the agent was idle is noticed (and reopened) too.
   */
  watch(intervalMs: number): void {
    clearInterval(this.probeTimer);
    this.probeTimer = setInterval(() => {
      if (this.lost || performance.now() - this.lastOkAt < intervalMs) return;
      void this.op("probe", () => this.hv.connectGetHostname()).catch(() => {});
    }, intervalMs);
    this.probeTimer.unref();
  }

  /**
   * Every libvirt call goes through here: timed, refused at once while reconnecting, and a lost
   * connection found by it starts the reconnect.
   */
  private async op<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (this.lost) throw new LibvirtUnavailableError(this.lost);
    const start = process.hrtime.bigint();
    let ok = false;
    try {
      const result = await fn();
      ok = true;
      this.lastOkAt = performance.now();
      return result;
    } catch (err) {
      if (!isConnectionLost(err)) throw err;
      this.connectionLost((err as Error).message);
      throw new LibvirtUnavailableError((err as Error).message, { cause: err });
    } finally {
      this.observe(name, Number(process.hrtime.bigint() - start) / 1e9, ok);
    }
  }

  private connectionLost(problem: string): void {
    if (this.lost || this.closed) return;
    this.lost = problem;
    for (const l of this.listeners) l(problem);
    void this.reconnect(problem);
  }

  /** Opens a new connection, with backoff, until one answers (or close()). */
  private async reconnect(first: string): Promise<void> {
    let delay = RECONNECT_FIRST_MS;
    while (!this.closed) {
      await new Promise((r) => setTimeout(r, delay).unref());
      if (this.closed) return;
      try {
        const hv = await open(this.uri);
        await hv.connectGetHostname();
        const old = this.hv;
        this.hv = hv;
        void old.connectClose().catch(() => {});
        this.lost = undefined;
        this.lastOkAt = performance.now();
        for (const l of this.listeners) l("");
        return;
      } catch (err) {
        this.lost = `${first}; reconnecting: ${(err as Error).message}`;
        delay = Math.min(delay * 2, RECONNECT_MAX_MS);
      }
    }
  }

  async hostInfo(): Promise<HostInfo> {
    const info = await this.op("node_info", () => this.hv.nodeGetInfo());
    const hostname = await this.op("hostname", () => this.hv.connectGetHostname());
    // nodeGetInfo reports memory in KiB.
    return { hostname, vcpus: info.cpus, memoryMib: Math.floor(info.memory / 1024) };
  }

  /** The domain with this UUID, or undefined when there is none. */
  async lookup(uuid: string): Promise<Domain | undefined> {
    try {
      return await this.op("lookup", () => this.hv.domainLookupByUUIDString(uuid));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Like lookup, but a missing domain is a DomainNotFoundError. */
  async get(uuid: string): Promise<Domain> {
    const dom = await this.lookup(uuid);
    if (!dom) throw new DomainNotFoundError(uuid);
    return dom;
  }

  define(xml: string): Promise<Domain> {
    return this.op("define", () => this.hv.domainDefineXML(xml));
  }

  start(dom: Domain): Promise<void> {
    return this.op("start", () => dom.create());
  }

  shutdown(dom: Domain): Promise<void> {
    return this.op("shutdown", () => dom.shutdown());
  }

  destroy(dom: Domain): Promise<void> {
    return this.op("destroy", () => dom.destroy());
  }

  undefine(dom: Domain): Promise<void> {
    return this.op("undefine", () => dom.undefine());
  }

  resume(dom: Domain): Promise<void> {
    return this.op("resume", () => dom.resume());
  }

  xml(dom: Domain): Promise<string> {
    return this.op("xml", () => dom.getXMLDesc());
  }

  async state(dom: Domain): Promise<DomainState> {
    const info = await this.op("info", () => dom.getInfo());
    return mapDomainState(info.state);
  }

  async snapshot(dom: Domain): Promise<DomainSnapshot> {
    const [uuid, name, state] = await Promise.all([dom.getUUIDString(), dom.getName(), this.state(dom)]);
    return { uuid, name, state };
  }

  /** Every domain on the host, Drover's or not (owned-domains.ts tells them apart). */
  listAll(): Promise<Domain[]> {
    return this.op("list", () => this.hv.connectListAllDomains());
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.probeTimer);
    await this.hv.connectClose().catch(() => {});
  }
}
