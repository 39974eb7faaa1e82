/**
 * A heartbeat reconciles its node's domain states with the VM rows only when no other beat of that
 * node is doing so in this replica, and, once a reconcile takes long (SLOW_MS or more), not more
 * than a third of the time: after one that took R ms the node's beats only keep it alive for the
 * next 2R ms. A small node's reconcile takes milliseconds (every beat reconciles); one with
 * thousands of domains under a bulk takes seconds, and reconciling it back to back would take the
 * database from the beats and the dispatch. Each beat carries every state, so one held back loses
 * nothing: the next that passes reports the same or newer. (The agent beats on its own cadence,
 * not after each answer, so beats of one node may overlap.)
 */
/** A reconcile shorter than this never holds the node's next beats back. */
export const SLOW_MS = 50;

export class ReconcileGate {
  private readonly busy = new Set<string>();
  private readonly nextAt = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Runs `fn` for `node` unless the gate is closed for it; undefined when it did not run. */
  async run<T>(node: string, fn: () => Promise<T>): Promise<T | undefined> {
    const start = this.now();
    if (this.busy.has(node) || start < (this.nextAt.get(node) ?? 0)) return undefined;
    this.busy.add(node);
    try {
      return await fn();
    } finally {
      this.busy.delete(node);
      const end = this.now();
      if (end - start >= SLOW_MS) this.nextAt.set(node, end + 2 * (end - start));
      else this.nextAt.delete(node);
    }
  }
}
