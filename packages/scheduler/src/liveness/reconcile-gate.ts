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
 */
/** A reconcile shorter than this never holds the node's next beats back. */
export const SLOW_MS = 50;

/**
 * The longest hold. A reconcile's time counts its wait for a pooled connection too: when a whole
 * fleet comes back from DOWN at once, thousands of reconciles queue, and a hold of twice a
 * minute-long wait left that node's report unreconciled for minutes after.
 */
export const MAX_HOLD_MS = 10_000;

export interface GateOptions {
  /** Pass a hold (never a reconcile of the node already running): the node has LOST VMs to bring back. */
  urgent?: boolean;
}

export class ReconcileGate {
  private readonly busy = new Set<string>();
  private readonly nextAt = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Runs `fn` for `node` unless the gate is closed for it; undefined when it did not run. */
  async run<T>(node: string, fn: () => Promise<T>, options: GateOptions = {}): Promise<T | undefined> {
    const start = this.now();
    if (this.busy.has(node) || (!options.urgent && start < (this.nextAt.get(node) ?? 0))) return undefined;
    this.busy.add(node);
    let ok = false;
    try {
      const result = await fn();
      ok = true;
      return result;
    } finally {
      this.busy.delete(node);
      const took = this.now() - start;
      // A failed one holds nothing back: it changed nothing, and its time may be a dead connection's.
      if (ok && took >= SLOW_MS) this.nextAt.set(node, this.now() + Math.min(2 * took, MAX_HOLD_MS));
      else this.nextAt.delete(node);
    }
  }
}
