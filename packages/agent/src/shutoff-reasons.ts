// Why a domain is shut off, as libvirt records it: "shut off (crashed)" when QEMU died without being
// asked (kill -9, OOM killer, a QEMU abort) tells a crash from a guest's own power-off. Through
// `virsh domstats --state`, because @unraid/libvirt 2.2.1 binds virDomainGetInfo (the state alone)
// but not virDomainGetState (state and reason). One virsh call for all the domains asked about.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { DomainState } from "@drover/proto";
import type { DomainStates } from "./domain-states.js";
import type { DomainSnapshot } from "./libvirt.js";

const run = promisify(execFile);

/** libvirt's virDomainShutoffReason numbers, as virsh domstate --reason words them. */
const SHUTOFF_REASONS: Record<number, string> = {
  0: "unknown",
  1: "shutdown",
  2: "destroyed",
  3: "crashed",
  4: "migrated",
  5: "saved",
  6: "failed",
  7: "from snapshot",
  8: "daemon",
};

/** VIR_DOMAIN_SHUTOFF_CRASHED */
export const SHUTOFF_CRASHED = 3;

/** Domain name -> shut-off reason number, from `virsh domstats --state` output (shut-off domains only). */
export function parseShutoffReasons(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let name: string | undefined;
  let state: number | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const domain = /^Domain: '(.*)'$/.exec(line);
    if (domain) {
      name = domain[1];
      state = undefined;
      continue;
    }
    const kv = /^state\.(state|reason)=(\d+)$/.exec(line);
    if (!kv || name === undefined) continue;
    if (kv[1] === "state") state = Number(kv[2]);
    else if (state === 5) out.set(name, Number(kv[2]));
  }
  return out;
}

export function describeShutoffReason(reason: number): string {
  return `shut off (${SHUTOFF_REASONS[reason] ?? `reason ${reason}`})`;
}

/**
 * Reads the shut-off reasons of the given domains (by UUID; virsh accepts them), answered by
 * domain name. A failing virsh (not installed, the domain went meanwhile) gives no reasons: the
 * domains then count as plainly shut off.
 */
export async function readShutoffReasons(uri: string, uuids: readonly string[]): Promise<Map<string, number>> {
  if (uuids.length === 0) return new Map();
  try {
    const { stdout } = await run("virsh", ["-q", "-c", uri, "domstats", "--state", ...uuids], { encoding: "utf8", timeout: 10_000 });
    return parseShutoffReasons(stdout);
  } catch (err) {
    // virsh fails as a whole when one domain is gone: ask for each then (rare: it went mid-listing).
    if (uuids.length === 1) return new Map();
    const each = await Promise.all(uuids.map((u) => readShutoffReasons(uri, [u])));
    void err;
    return new Map(each.flatMap((m) => [...m]));
  }
}

/**
 * A listing with crashed domains told from shut-off ones: libvirt lists a domain whose QEMU died
 * unasked as shut off, with the reason "crashed" that only virsh shows. Asked only for domains that
 * were not shut off when last recorded in `states` (newly off, or first seen) or were recorded shut
 * off without a reason (by the agent's own call, which reads no reason, or by a listing whose virsh
 * failed: such a domain kept no reason for good), so once every stopped domain has its reason a
 * listing of N of them costs nothing more. One recorded as CRASHED stays so until it runs again,
 * and one recorded shut off keeps its reason (before, the next listing dropped it). With
 * `realHost` false (libvirt's test driver, inside the agent's process: no QEMU, and virsh cannot
 * see it) nothing is asked.
 */
export async function withCrashes(states: DomainStates, uri: string, realHost: boolean, listed: DomainSnapshot[]): Promise<DomainSnapshot[]> {
  const SHUTOFF = DomainState.DOMAIN_STATE_SHUTOFF;
  const CRASHED = DomainState.DOMAIN_STATE_CRASHED;
  const ask: string[] = [];
  const out = listed.map((s) => {
    if (s.state !== SHUTOFF) return s;
    const before = states.get(s.uuid);
    if (before?.state === CRASHED) return { ...s, state: CRASHED, reason: before.reason };
    // Still off: the reason recorded goes on (a listing reads none, and the states would take its
    // absence for a change and drop the reason the report had).
    if (before?.state === SHUTOFF && before.reason !== "") return { ...s, reason: before.reason };
    if (realHost) ask.push(s.uuid);
    return s;
  });
  if (ask.length === 0) return out;
  const reasons = await readShutoffReasons(uri, ask);
  return out.map((s) => {
    const reason = reasons.get(s.name);
    if (s.state !== SHUTOFF || reason === undefined) return s;
    return { ...s, state: reason === SHUTOFF_CRASHED ? CRASHED : SHUTOFF, reason: describeShutoffReason(reason) };
  });
}
