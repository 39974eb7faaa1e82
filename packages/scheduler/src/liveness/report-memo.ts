import type { NodeStateName } from "@drover/store";
import { beatTimeoutMs, type BeatRateConfig } from "./beat-rate.js";
import type { Beat } from "./heartbeat.js";

/**
 * How long a node's unchanged reports may skip the reconcile. Changes the scheduler makes through
 * the agent show in its next report (a created, stopped or destroyed domain changes it); a change
 * to what the reconcile reads of the node's VM rows, by any replica or by hand, changes the node's
 * VM change count, which each beat reads (migrations 027 and 035). This bounds how long anything else (a lost DestroyDomain) goes unseen.
 */
export const FULL_CHECK_MS = 30_000;

/**
 * A node beating slower than FULL_CHECK_MS / FULL_CHECK_BEATS (the beat-rate cap slowed it) is
 * checked in full every this many beats instead: a fixed 30 s made every third beat of 10,000
 * nodes slowed to 10 s a full reconcile, 333 a second, whatever the cap saved.
 */
export const FULL_CHECK_BEATS = 15;

/** The heartbeat settings the memo judges a beat by (those of beat-rate.ts's timeout). */
export type MemoTiming = Pick<BeatRateConfig, "heartbeatIntervalMs" | "heartbeatTimeoutMs">;

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
 * The memo of a replica: a node counts as unheard of only after the timeout its beat allows (it
 * cannot have gone DOWN sooner): the configured one, scaled as beat-rate.ts scales it for an agent
 * that says it beats slower. A fixed 5 s made every beat of agents beating every 5 s (the agent's
 * DROVER_HEARTBEAT_MS, or DROVER_HEARTBEAT_INTERVAL_MS=5000) reconcile in full whenever it came a
 * little late: about half of 1,000 nodes' beats in bench:api, four statements each; the configured
 * timeout alone did the same to agents the beat-rate cap slowed to it.
 */
export function reportMemoFor(config: MemoTiming, now?: () => number): ReportMemo {
  return new ReportMemo(config, now);
}

/**
 * The fast path of a heartbeat: a node whose report (reportKey), state and VM change count are the
 * same as at its last reconcile in this replica, that left nothing to destroy, needs no reconcile
 * now: the four statements of one (states, addresses, vanished domains, strays) would change
 * nothing. (A reconcile that changed VM rows changed the count too: the next beat reconciles once
 * more, and finds nothing to do.) A node
 * this replica has not heard from for the timeout its beat allows (it may have gone DOWN and its VMs LOST meanwhile,
 * or beaten to another replica), a revived one, and every node once per FULL_CHECK_MS (or
 * FULL_CHECK_BEATS of its beats, if longer) reconcile in full.
 */
export class ReportMemo {
  private readonly memos = new Map<string, Memo>();

  constructor(
    private readonly timing: MemoTiming = { heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 5000 },
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * True when this beat (its Seen, field by field: no object a beat) may skip the reconcile; counts
   * as hearing from the node either way. `intervalMs`: the interval the beat says its agent beats
   * at (0: it says none, and beats at most at the configured one).
   */
  unchanged(node: string, key: string, state: NodeStateName, vmChanges: string, intervalMs = 0): boolean {
    const m = this.memos.get(node);
    if (!m) return false;
    const now = this.now();
    const fresh = now - m.seenAt < beatTimeoutMs(this.timing, intervalMs);
    m.seenAt = now;
    const same = m.key === key && m.state === state && m.vmChanges === vmChanges;
    return fresh && same && now - m.checkedAt < Math.max(FULL_CHECK_MS, FULL_CHECK_BEATS * intervalMs);
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
