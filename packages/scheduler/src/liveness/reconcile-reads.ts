import { reconcileNeedsOfNodes, type NodeReport, type ReconcileNeeds, type RestartRules, type Sql } from "@drover/store";

/**
 * How long a reconcile's read waits for other nodes'. Every node reconciles in full once per
 * FULL_CHECK_MS (report-memo.ts): at 10,000 nodes 333 reads a second, one statement each, were most
 * of what an unchanged fleet's beats cost the scheduler. 20 ms more on a reconcile is nothing next
 * to a heartbeat's seconds, and makes one statement of about 7 of them there.
 */
export const RECONCILE_READ_LINGER_MS = 20;

/** At most this many nodes in one statement (a fleet back from DOWN reconciles all at once). */
export const RECONCILE_READ_MAX_NODES = 500;

interface Waiting {
  report: NodeReport;
  resolve(needs: ReconcileNeeds): void;
  reject(err: unknown): void;
}

/** The reads waiting together: one restart rules and grace (the scheduler's configuration: one batch). */
interface Batch {
  rules: RestartRules;
  graceMs: number;
  waiting: Waiting[];
  timer: NodeJS.Timeout;
}

/**
 * Group reads for reconciles: the reconcileNeeds of the nodes that reconcile within
 * {@link RECONCILE_READ_LINGER_MS} go in one reconcileNeedsOfNodes statement (the same answer per
 * node, held to it by the store's tests). A node reconciles once at a time (reconcile-gate.ts), so a
 * batch never holds two reports of one node; one that would waits for the next batch.
 */
export class ReconcileReads {
  private readonly batches = new Map<string, Batch>();

  constructor(
    private readonly sql: Sql,
    private readonly lingerMs = RECONCILE_READ_LINGER_MS,
    private readonly maxNodes = RECONCILE_READ_MAX_NODES,
  ) {}

  needs(report: NodeReport, rules: RestartRules, graceMs: number): Promise<ReconcileNeeds> {
    return new Promise<ReconcileNeeds>((resolve, reject) => {
      const key = `${rules.limit}/${rules.backoffMs}/${rules.maxBackoffMs}/${rules.windowMs}/${graceMs}`;
      let batch = this.batches.get(key);
      if (batch?.waiting.some((w) => w.report.node === report.node)) {
        this.flush(key, batch);
        batch = undefined;
      }
      if (!batch) {
        batch = { rules, graceMs, waiting: [], timer: setTimeout(() => this.flush(key, batch!), this.lingerMs) };
        this.batches.set(key, batch);
      }
      batch.waiting.push({ report, resolve, reject });
      if (batch.waiting.length >= this.maxNodes) this.flush(key, batch);
    });
  }

  private flush(key: string, batch: Batch): void {
    clearTimeout(batch.timer);
    if (this.batches.get(key) === batch) this.batches.delete(key);
    const { waiting } = batch;
    reconcileNeedsOfNodes(
      this.sql,
      waiting.map((w) => w.report),
      batch.rules,
      batch.graceMs,
    ).then(
      (needs) => {
        for (const w of waiting) w.resolve(needs.get(w.report.node)!);
      },
      (err: unknown) => {
        for (const w of waiting) w.reject(err);
      },
    );
  }
}
