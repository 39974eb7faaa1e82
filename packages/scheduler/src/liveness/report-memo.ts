import type { MarkedOnNode, MarkedVm, NodeStateName } from "@drover/store";
import type { Beat, DomainReport } from "./heartbeat.js";

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

/** How long a RUNNING mark's note waits for its node's next beat (a node that beats to another replica never comes). */
export const MARK_NOTE_MS = 60_000;

/** What a beat says of its node: its report (reportKey), and the node's state and VM change count as recorded with it. */
export interface Seen {
  key: string;
  state: NodeStateName;
  vmChanges: string;
}

/** The report itself: a memo keeps it (no copy) to compare a later one with it but for the VMs this replica marked RUNNING. */
export type Report = Pick<Beat, "bootId" | "domains">;

interface Memo extends Seen {
  /** When the reconcile ran that found this report and state in agreement with the VM rows. */
  checkedAt: number;
  /** When this replica last took a beat of the node. */
  seenAt: number;
  report: Report | undefined;
}

/** What this replica's RUNNING marks wrote on a node since the count `countBefore` (store markRunningCounted). */
interface MarkNote {
  countBefore: string;
  /** countBefore plus one a VM marked: the count once the marks are all there is new. */
  countAfter: string;
  vms: Map<string, MarkedVm>;
  /** When the last of the marks was known committed: a beat's record after it sees them all. */
  at: number;
}

/** What makes two reports the same: the agent's run and every domain's id, state, generation, reason and addresses. */
export function reportKey(beat: Report): string {
  return reportKeyWithout(beat, undefined);
}

/** reportKey with the domains of the VMs in `skip` left out. */
function reportKeyWithout(beat: Report, skip: ReadonlyMap<string, unknown> | undefined): string {
  let key = beat.bootId;
  for (const d of beat.domains) {
    if (skip?.has(d.vmId)) continue;
    key += `|${d.vmId} ${d.state} ${d.generation} ${d.reason ?? ""}${d.interfaces ? ` ${JSON.stringify(d.interfaces)}` : ""}`;
  }
  return key;
}

/**
 * Whether the report lists each VM marked, and each as the reconcile would leave it: running
 * (running against RUNNING moves nothing, whatever libvirt's reason), at the generation marked,
 * and with no NICs or the very ones its row has (the reconcile writes NICs that differ).
 */
function marksReported(domains: readonly DomainReport[], marked: ReadonlyMap<string, MarkedVm>): boolean {
  const listed = new Set<string>();
  for (const d of domains) {
    const vm = marked.get(d.vmId);
    if (!vm) continue;
    if (d.state !== "running" || d.generation !== vm.generation) return false;
    if (d.interfaces !== undefined && JSON.stringify(d.interfaces) !== JSON.stringify(vm.interfaces)) return false;
    listed.add(d.vmId);
  }
  return listed.size === marked.size;
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
 *
 * Nor does the beat after this replica's own RUNNING marks (marked()): its count is the memo's plus
 * one a VM marked, and its report the memo's plus those VMs' domains, running as marked. Taken
 * only when all of this holds:
 * - the memo's count is the one the mark's statement read (its snapshot: no change between them);
 * - the beat arrived after the mark was committed, so its record's snapshot holds the mark, and its
 *   count, which holds every change committed before, is the statement's plus one a VM marked: no
 *   other change since (snapshots are ordered, and the count only grows with each commit in them);
 * - its report but for the marked VMs is the memo's, and lists each marked VM running at the
 *   generation marked (marksReported).
 * Anything else (another replica's change, an edited row, a domain in another state) reconciles in
 * full, and the full check stays due when it was.
 */
export class ReportMemo {
  private readonly memos = new Map<string, Memo>();
  /** By node, oldest first (a note is put back at the end when it changes). */
  private readonly notes = new Map<string, MarkNote>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /**
   * True when this beat (its Seen, field by field: no object a beat) may skip the reconcile; counts
   * as hearing from the node either way. `timeoutMs`: the silence the beat allows (its stamp's,
   * heartbeat.ts stampBeat); `intervalMs`: the interval it says its agent beats at (0: none);
   * `report` and `arrivedAt` (when it arrived): for the beat after a RUNNING mark of this replica.
   */
  unchanged(node: string, key: string, state: NodeStateName, vmChanges: string, timeoutMs: number, intervalMs = 0, report?: Report, arrivedAt = -Infinity): boolean {
    const m = this.memos.get(node);
    if (!m) return false;
    const now = this.now();
    const fresh = now - m.seenAt < timeoutMs;
    m.seenAt = now;
    if (!fresh || m.state !== state || now - m.checkedAt >= Math.max(FULL_CHECK_MS, FULL_CHECK_BEATS * intervalMs)) return false;
    if (m.key === key && m.vmChanges === vmChanges) return true;
    return report !== undefined && this.onlyMarked(node, m, key, vmChanges, report, arrivedAt);
  }

  /** The beat differs from the memo by this replica's RUNNING marks alone (the class's doc); the memo takes it if so. */
  private onlyMarked(node: string, m: Memo, key: string, vmChanges: string, report: Report, arrivedAt: number): boolean {
    const note = this.notes.get(node);
    if (!note || arrivedAt <= note.at) return false;
    // This beat's record sees the marks: its count and every later one's is countAfter or more, so the note serves this beat or none.
    this.notes.delete(node);
    if (m.vmChanges !== note.countBefore || vmChanges !== note.countAfter || !m.report) return false;
    if (!marksReported(report.domains, note.vms) || reportKeyWithout(report, note.vms) !== reportKeyWithout(m.report, note.vms)) return false;
    m.key = key;
    m.vmChanges = vmChanges;
    m.report = report;
    return true;
  }

  /** After a reconcile of this report: `settled` when it found nothing for the node to destroy. */
  checked(node: string, seen: Seen, settled: boolean, report?: Report): void {
    if (!settled) {
      this.memos.delete(node);
      return;
    }
    const now = this.now();
    this.memos.set(node, { key: seen.key, state: seen.state, vmChanges: seen.vmChanges, checkedAt: now, seenAt: now, report });
  }

  /**
   * What a RUNNING mark of this replica wrote (store markRunningCounted), once committed: the
   * nodes' next beats may take the fast path with it. Nodes this replica keeps no memo of are left
   * out; a note follows an earlier one of its node that ends at its count. `committedAt`: on the
   * clock of the beats' arrival (performance.now()), when the mark's statement was answered.
   */
  marked(nodes: readonly MarkedOnNode[], committedAt = performance.now()): void {
    const now = committedAt;
    for (const [node, note] of this.notes) {
      if (now - note.at < MARK_NOTE_MS) break;
      this.notes.delete(node);
    }
    for (const on of nodes) {
      if (!this.memos.has(on.node) || on.vms.length === 0) continue;
      const earlier = this.notes.get(on.node);
      this.notes.delete(on.node);
      const note: MarkNote =
        earlier && earlier.countAfter === on.countBefore ? earlier : { countBefore: on.countBefore, countAfter: on.countBefore, vms: new Map(), at: now };
      for (const vm of on.vms) note.vms.set(vm.id, vm);
      note.countAfter = (BigInt(note.countAfter) + BigInt(on.vms.length)).toString();
      note.at = now;
      this.notes.set(on.node, note);
    }
  }

  forget(node: string): void {
    this.memos.delete(node);
    this.notes.delete(node);
  }
}
