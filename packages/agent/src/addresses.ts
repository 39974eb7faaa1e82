// The addresses heartbeats report for each VM's NIC, discovered on a schedule of their own: libvirt's
// DHCP leases are read by a loop that nothing waits for (a `virsh net-dhcp-leases` that hangs or takes
// seconds never delays a heartbeat, which reads only what the last lookup found), and a VM created
// with a static address reports that address (source STATIC: what the guest was told to use).
import { AddressSource, type VmInterface } from "@drover/proto";
import { macAddress } from "./domain-xml.js";

export interface AddressWatcherOptions {
  /** One lookup of every network's leases: MAC (lower case) -> CIDRs. */
  readLeases: () => Promise<Map<string, string[]>>;
  /** Pause between the end of one lookup and the start of the next. */
  intervalMs: number;
  /** Called when a lookup found other leases than the one before (to send a heartbeat now). */
  onChange?: () => void;
  /** Called when a lookup fails (the last leases are kept meanwhile). */
  onError?: (err: unknown) => void;
}

const sameLeases = (a: Map<string, string[]>, b: Map<string, string[]>) =>
  a.size === b.size && [...a].every(([mac, list]) => b.get(mac)?.join(" ") === list.join(" "));

export class AddressWatcher {
  private leases = new Map<string, string[]>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  /** Lookups finished so far (tests wait on it). */
  lookups = 0;

  constructor(private readonly opts: AddressWatcherOptions) {}

  /** Starts the first lookup now; it and the later ones run in the background. */
  start(): void {
    this.running = this.lookup();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * The VM's NICs as the last lookup saw them; synchronous on purpose, so a heartbeat cannot wait
   * for virsh. `staticIpv4` is the address its spec gave it, if any.
   */
  interfacesOf(vmId: string, staticIpv4: string | undefined): VmInterface[] {
    const mac = macAddress(vmId);
    if (staticIpv4) return [{ mac, addresses: [staticIpv4], source: AddressSource.ADDRESS_SOURCE_STATIC }];
    const addresses = this.leases.get(mac);
    return addresses ? [{ mac, addresses, source: AddressSource.ADDRESS_SOURCE_DHCP_LEASE }] : [];
  }

  private async lookup(): Promise<void> {
    if (this.stopped) return;
    try {
      const next = await this.opts.readLeases();
      const changed = !sameLeases(this.leases, next);
      this.leases = next;
      if (changed) this.opts.onChange?.();
    } catch (err) {
      this.opts.onError?.(err);
    } finally {
      this.lookups++;
      if (!this.stopped) {
        this.timer = setTimeout(() => {
          this.running = this.lookup();
        }, this.opts.intervalMs);
        this.timer.unref();
      }
    }
  }
}
