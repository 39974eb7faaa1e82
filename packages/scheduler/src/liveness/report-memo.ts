import type { NodeStateName } from "@drover/store";
import type { Beat } from "./heartbeat.js";

/**
 * How long a node's unchanged reports may skip the reconcile. Changes the scheduler makes through
 * the agent show in its next report (a created, stopped or destroyed domain changes it); a change
 * to what the reconcile reads of the node's VM rows, by any replica or by hand, changes the node's
 * VM change count, which each beat reads (migrations 027 and 035). This bounds how long anything else (a lost DestroyDomain) goes unseen.
 */
export const FULL_CHECK_MS = 30_000;

/** What a beat says of its node: its report (reportKey), and the node's state and VM change count as recorded with it. */
export interface Seen {
  key: string;
  state: NodeStateName;
  vmChanges: string;
}

interface Memo extends Seen {
  /** When the reconcile ran that found this report and state in agreement with the VM rows. */
  checkedAt: number;
  /** When this replica last took a beat of the node. */
  seenAt: number;
}

/** What makes two reports the same: the agent's run and every domain's id, state, generation, reason and addresses. */
export function reportKey(beat: Beat): string {
  let key = beat.bootId;
  for (const d of beat.domains) key += `|${d.vmId} ${d.state} ${d.generation} ${d.reason ?? ""}${d.interfaces ? ` ${JSON.stringify(d.interfaces)}` : ""}`;
  return key;
}

/**
 * The memo of a replica: a node counts as unheard of only after the heartbeat timeout (it cannot
 * have gone DOWN sooner). A fixed 5 s made every beat of agents beating every 5 s (the agent's
 * DROVER_HEARTBEAT_MS, or DROVER_HEARTBEAT_INTERVAL_MS=5000) reconcile in full whenever it came a
 * little late: about half of 1,000 nodes' beats in bench:api, four statements each.
 */
export function reportMemoFor(config: { heartbeatTimeoutMs: number }, now?: () => number): ReportMemo {
  return new ReportMemo(config.heartbeatTimeoutMs, now);
}

/**
 * The fast path of a heartbeat: a node whose report (reportKey), state and VM change count are the
 * same as at its last reconcile in this replica, that left nothing to destroy, needs no reconcile
 * now: the four statements of one (states, addresses, vanished domains, strays) would change
 * nothing. (A reconcile that changed VM rows changed the count too: the next beat reconciles once
 * more, and finds nothing to do.) A node
 * this replica has not heard from for `staleMs` (it may have gone DOWN and its VMs LOST meanwhile,
 * or beaten to another replica), a revived one, and every node once per FULL_CHECK_MS reconcile in full.
 */
export class ReportMemo {
  private readonly memos = new Map<string, Memo>();

  constructor(
    private readonly staleMs = 5000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** True when this beat (its Seen, field by field: no object a beat) may skip the reconcile; counts as hearing from the node either way. */
  unchanged(node: string, key: string, state: NodeStateName, vmChanges: string): boolean {
    const m = this.memos.get(node);
    if (!m) return false;
    const now = this.now();
    const fresh = now - m.seenAt < this.staleMs;
    m.seenAt = now;
    const same = m.key === key && m.state === state && m.vmChanges === vmChanges;
    return fresh && same && now - m.checkedAt < FULL_CHECK_MS;
  }

  /** After a reconcile of this report: `settled` when it found nothing for the node to destroy. */
  checked(node: string, seen: Seen, settled: boolean): void {
    if (!settled) {
      this.memos.delete(node);
      return;
    }
    const now = this.now();
    this.memos.set(node, { ...seen, checkedAt: now, seenAt: now });
  }

  forget(node: string): void {
    this.memos.delete(node);
  }
}
