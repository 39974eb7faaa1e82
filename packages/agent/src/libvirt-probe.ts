// Measures, at agent start, what every domain define waits for: libvirtd's lookup of QEMU's
// capabilities. Healthy, it comes from libvirtd's cache in tens of milliseconds. When libvirtd
// finds its cache stale on every lookup ("KVM was enabled when probing ..., but it is not
// available now") it re-probes QEMU each time: a domain capabilities lookup then takes ~4 s and a
// domain define ~33 s (libvirt 9.0, measured in docs/benchmarks.md). The binding has no
// virConnectGetDomainCapabilities, so this asks virsh, the cheapest call that shows the problem.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Slower than this, twice in a row, means libvirtd re-probes on every lookup (healthy: ~0.04 s). */
export const SLOW_PROBE_SECONDS = 1;

export interface ProbeResult {
  /** Duration of the last lookup. */
  seconds: number;
  /** Both lookups were slow: the first may fill an empty cache, the second should have hit it. */
  slow: boolean;
}

/** undefined when virsh is not installed or the lookup fails (nothing is known then). */
export async function probeCapabilities(
  uri: string,
  { virsh = "virsh", slowSeconds = SLOW_PROBE_SECONDS }: { virsh?: string; slowSeconds?: number } = {},
): Promise<ProbeResult | undefined> {
  const once = async (): Promise<number | undefined> => {
    const start = process.hrtime.bigint();
    try {
      await run(virsh, ["-c", uri, "domcapabilities"], { timeout: 120_000, maxBuffer: 16 << 20 });
    } catch {
      return undefined;
    }
    return Number(process.hrtime.bigint() - start) / 1e9;
  };
  const first = await once();
  if (first === undefined) return undefined;
  if (first < slowSeconds) return { seconds: first, slow: false };
  const second = await once();
  if (second === undefined) return undefined;
  return { seconds: second, slow: second >= slowSeconds };
}

/** The warning to log when the probe was slow; `fix` is the domain type's fix when it has one. */
export function slowProbeWarning(probe: ProbeResult, fix: string | undefined): string {
  const cause = fix
    ? `Fix: ${fix}`
    : "libvirtd's log should say why (look for \"is not available now\"); clearing /var/cache/libvirt/qemu/capabilities and restarting libvirtd may help";
  return (
    `libvirtd took ${probe.seconds.toFixed(1)} s, twice, to answer a domain capabilities lookup (healthy: under 0.1 s): ` +
    `it re-probes QEMU every time, so every domain start will take tens of seconds. ${cause}`
  );
}
