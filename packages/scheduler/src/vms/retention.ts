import { purgeVms, tryLockVmRetention, type Sql, transaction } from "@drover/store";
import type { SchedulerMetrics } from "../metrics.js";

/** VMs deleted per statement: each is its own short transaction, so a long backlog never holds row locks for long. */
const PURGE_BATCH = 1000;
/** Statements per run: at most 20,000 VMs a run, the rest next time. */
const PURGE_CHUNKS = 20;

/** How often retention runs: a tenth of the retention, between once a second and once a minute. */
export function vmRetentionPeriodMs(retentionMs: number): number {
  return Math.min(60_000, Math.max(1000, retentionMs / 10));
}

/**
 * Purges DELETED and FAILED VMs (with the create requests none of whose VMs are left)
 * `retentionMs` after their last change (DROVER_VM_RETENTION_MS), in bounded batches, one
 * replica at a time (advisory lock; the others skip the run). What a purge never touches is
 * purgeVms' to say.
 */
export class VmRetention {
  constructor(
    private readonly sql: Sql,
    private readonly retentionMs: number,
    /** True when NATS is configured: a VM waits until its events are published. */
    private readonly publishedOnly: boolean,
    private readonly metrics: Pick<SchedulerMetrics, "vmsPurged">,
    private readonly log: (m: string) => void,
  ) {}

  /** One run; returns how many VMs went. */
  async tick(): Promise<number> {
    if (this.retentionMs <= 0) return 0;
    let vms = 0;
    let requests = 0;
    for (let i = 0; i < PURGE_CHUNKS; i++) {
      const n = await transaction(this.sql, async (tx) => {
        if (!(await tryLockVmRetention(tx))) return null;
        return purgeVms(tx, this.retentionMs, this.publishedOnly, PURGE_BATCH);
      });
      if (!n) break;
      vms += n.vms;
      requests += n.requests;
      this.metrics.vmsPurged.inc(n.vms);
      if (n.vms < PURGE_BATCH) break;
    }
    if (vms > 0 || requests > 0) {
      this.log(`vm retention: purged ${vms} DELETED/FAILED VMs and ${requests} create requests older than ${this.retentionMs} ms`);
    }
    return vms;
  }
}
