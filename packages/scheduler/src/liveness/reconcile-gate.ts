import { isConnectionFailure, StoreUnavailableError } from "@drover/store";
import { STORE_PROBE_MS, STORE_PROBE_TIMEOUT_MS } from "../store-health.js";

/**
 * A heartbeat reconciles its node's domain states with the VM rows only when no other beat of that
 * node is doing so in this replica, and, once a reconcile takes long (SLOW_MS or more), not more
 * than a third of the time: after one that took R ms the node's beats only keep it alive for the
 * next 2R ms (at most MAX_HOLD_MS; not after a reconcile that failed; and not for a node with LOST
 * VMs, whose report must bring them back). A small node's reconcile takes milliseconds (every beat reconciles); one with
 * thousands of domains under a bulk takes seconds, and reconciling it back to back would take the
 * database from the beats and the dispatch. Each beat carries every state, so one held back loses
 * nothing: the next that passes reports the same or newer. (The agent beats on its own cadence,
 * not after each answer, so beats of one node may overlap.)
 *
 * Failures back off, so that a sick database is not hammered by every beat of every node (at
 * 10,000 nodes beating every 2 s, 5,000 failed reconciles a second):
 * - Shared, for the store's failures (the database unreachable, by isConnectionFailure):
 *   CIRCUIT_FAILURES in a row (no reconcile succeeded between them) open a circuit; then one
 *   reconcile at a time, of whichever node beats, goes through as a probe, at most one per
 *   PROBE_MS (or one more once a probe has hung for PROBE_TIMEOUT_MS), and the others are held. Fewer hold nothing back (a cut connection: the next beat
 *   tries again, as a revived node's LOST VMs need). The first probe that succeeds closes the
 *   circuit and lifts every failure hold, so nodes with LOST VMs recover at their next beat once
 *   Postgres is back: within PROBE_MS and a beat, however long the outage.
 * - Per node, for other failures (a deadlock, a row the reconcile trips on): the node's first
 *   holds nothing back; each further one in a row holds the node for FAILURE_HOLD_MS, doubling,
 *   at most MAX_HOLD_MS. LOST VMs or not.
 */
/** A reconcile shorter than this never holds the node's next beats back. */
export const SLOW_MS = 50;

/**
 * The longest hold. A reconcile's time counts its wait for a pooled connection too: when a whole
 * fleet comes back from DOWN at once, thousands of reconciles queue, and a hold of twice a
 * minute-long wait left that node's report unreconciled for minutes after.
 */
export const MAX_HOLD_MS = 10_000;

/** A node's second failure in a row holds it this long, each further one twice as long (at most MAX_HOLD_MS). */
export const FAILURE_HOLD_MS = 1_000;

/** Store failures in a row (no reconcile succeeded between them) that open the shared circuit. */
export const CIRCUIT_FAILURES = 3;

/** While the circuit is open, one probe per this long: as often as the store health probe (store-health.ts). */
export const PROBE_MS = STORE_PROBE_MS;

/** A probe that has not settled in this long no longer holds the next back (a database that hangs), as the health probe's timeout. */
export const PROBE_TIMEOUT_MS = STORE_PROBE_TIMEOUT_MS;

export interface GateOptions {
  /**
   * Pass a slow reconcile's hold (never a reconcile of the node already running, a failure's hold
   * or the open circuit: a fleet revived in an outage is all LOST): the node has LOST VMs to bring back.
   */
  urgent?: boolean;
}

export class ReconcileGate {
  private readonly busy = new Set<string>();
  private readonly nextAt = new Map<string, number>();
  /** Nodes whose last reconciles failed (not the store): how many in a row, and until when they are held. */
  private readonly failures = new Map<string, { count: number; until: number }>();
  /** Store failures since the last reconcile that succeeded. */
  private storeFailures = 0;
  /** The probe in flight while the circuit is open. */
  private probe: { startedAt: number } | undefined;
  private nextProbeAt = 0;

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Whether the shared circuit is open (the store failed CIRCUIT_FAILURES reconciles in a row). */
  get circuitOpen(): boolean {
    return this.storeFailures >= CIRCUIT_FAILURES;
  }

  /** Runs `fn` for `node` unless the gate is closed for it; undefined when it did not run. */
  async run<T>(node: string, fn: () => Promise<T>, options: GateOptions = {}): Promise<T | undefined> {
    const start = this.now();
    if (this.busy.has(node) || start < (this.failures.get(node)?.until ?? 0)) return undefined;
    const open = this.circuitOpen;
    if (open ? this.probeHeld(start) : !options.urgent && start < (this.nextAt.get(node) ?? 0)) return undefined;
    const probe = open ? { startedAt: start } : undefined;
    if (probe) {
      this.probe = probe;
      this.nextProbeAt = start + PROBE_MS;
    }
    this.busy.add(node);
    let ok = false;
    try {
      const result = await fn();
      ok = true;
      return result;
    } catch (err) {
      this.failed(node, err);
      throw err;
    } finally {
      this.busy.delete(node);
      if (probe && this.probe === probe) this.probe = undefined;
      if (ok) this.succeeded(node, start);
    }
  }

  /** While the circuit is open: too soon after the last probe, or one is in flight and not yet hung. */
  private probeHeld(now: number): boolean {
    return now < this.nextProbeAt || (this.probe !== undefined && now - this.probe.startedAt < PROBE_TIMEOUT_MS);
  }

  private succeeded(node: string, start: number): void {
    // The store answers: the circuit closes, and what failed while it was open holds no node back.
    if (this.storeFailures > 0) {
      if (this.circuitOpen) this.failures.clear();
      this.storeFailures = 0;
    }
    this.failures.delete(node);
    const took = this.now() - start;
    if (took >= SLOW_MS) this.nextAt.set(node, this.now() + Math.min(2 * took, MAX_HOLD_MS));
    else this.nextAt.delete(node);
  }

  private failed(node: string, err: unknown): void {
    // A failed reconcile holds nothing back by its time: it changed nothing, and its time may be a dead connection's.
    this.nextAt.delete(node);
    if (err instanceof StoreUnavailableError || isConnectionFailure(err)) {
      this.storeFailures++; // the circuit's to hold back, for every node alike
      return;
    }
    const count = (this.failures.get(node)?.count ?? 0) + 1;
    const holdMs = count < 2 ? 0 : Math.min(FAILURE_HOLD_MS * 2 ** (count - 2), MAX_HOLD_MS);
    this.failures.set(node, { count, until: this.now() + holdMs });
  }
}
