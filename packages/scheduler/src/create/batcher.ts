import type { CreateVmsRequest, CreateVmsResponse } from "@drover/proto";
import { asStoreError, ClaimConflictError, commitPlacementsWithNodes, DeadlineExceededError, GroupConflictError, QuotaExceededError } from "@drover/store";
import { placeGrouped } from "./place-on-view.js";
import { createdResponse, materialize, planVms, requestHash, requestRow, reserve, vmRows, type CreateDeps, type Plan } from "./plan.js";
import { createVms } from "./create-vms.js";
import type { Reservation } from "./node-cache.js";
import type { ValidCreate } from "../api/validation.js";
import type { AuditSlot } from "../auth/guard.js";
import type { HeldSlots } from "../dispatch/held-slots.js";
import { dispatchVms, holdSlots } from "./held-dispatch.js";

interface Waiting {
  raw: CreateVmsRequest;
  req: ValidCreate;
  /** The call's audit event, committed in the statement that commits the request. */
  audit: AuditSlot | undefined;
  /** The client's deadline, epoch ms (Infinity for none). */
  deadline: number;
  resolve(res: CreateVmsResponse): void;
  reject(err: unknown): void;
}

interface Placed {
  waiting: Waiting;
  plan: Plan;
  hash: string;
  reservation: Reservation;
  /** Dispatcher slots its VMs commit PROVISIONING under; null: SCHEDULED. */
  slots: HeldSlots | null;
}

/**
 * Group commit for CreateVms. Requests that arrive while a commit is in
 * flight wait and then go together: each is placed on its own (own seed,
 * own min_count) against the view the earlier ones already took room from,
 * and all commit in one statement (commitPlacements), saving round trips
 * and a WAL flush per request. With no load a request commits alone at
 * once, so nothing waits. Requests naming (anti-)affinity groups batch too:
 * each sees the members the earlier ones added (group cache), and the
 * statement checks every group (store groups.ts), so requests of one group
 * share a statement instead of queueing on it.
 * Requests with idempotency keys or dry_run take the single-request path,
 * and so does every request of a batch that conflicts. Each request's audit event
 * (drover.audit.create_vms) is written by the statement that commits it. A request whose VMs all
 * fit in the local dispatcher's free slots holds them before the statement and commits them
 * PROVISIONING, leased to this replica (held-dispatch.ts); the others commit SCHEDULED.
 */
export class CreateBatcher {
  private queue: Waiting[] = [];
  private running = false;

  constructor(
    private readonly deps: CreateDeps,
    private readonly maxBatch = 256,
  ) {}

  create(raw: CreateVmsRequest, req: ValidCreate, deadline = Infinity, audit?: AuditSlot): Promise<CreateVmsResponse> {
    if (req.dryRun || req.idempotencyKey) return createVms(this.deps, raw, req, deadline);
    return new Promise((resolve, reject) => {
      this.queue.push({ raw, req, audit, deadline, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.maxBatch);
        // Whatever fails (the database is down, say) fails this batch's requests, never the queue.
        await (batch.length === 1 ? this.alone(batch[0]!) : this.together(batch)).catch((err) => {
          for (const w of batch) w.reject(err);
        });
      }
    } finally {
      this.running = false;
    }
  }

  private async alone(w: Waiting): Promise<void> {
    await createVms(this.deps, w.raw, w.req, w.deadline, w.audit).then(w.resolve, w.reject);
  }

  private async together(batch: Waiting[]): Promise<void> {
    // One read for the batch's groups the cache lacks, then the nodes (no await between them and the placements).
    const named = [...new Set(batch.flatMap((w) => w.req.policy.groups))];
    const members = named.length > 0 ? await this.deps.groups.get(named) : new Map();
    const nodes = await this.deps.nodes.get();
    const placed: Placed[] = [];
    const alone: Waiting[] = [];
    for (const w of batch) {
      // A request that waited past its client's deadline is refused, not committed.
      if (w.deadline <= Date.now()) {
        w.reject(new DeadlineExceededError());
        continue;
      }
      const hash = requestHash(w.raw);
      const planned = planVms(w.req);
      // `nodes` is the cache's live array and `members` the group cache's: each reservation below shows in the next placement.
      const result = placeGrouped(this.deps, nodes, members, planned, w.req.policy, hash);
      // Short of min_count on the cached view: the single path re-checks on a fresh one.
      if (result.placements.length < w.req.minCount) {
        alone.push(w);
        continue;
      }
      const plan = materialize(result, planned);
      placed.push({ waiting: w, plan, hash, reservation: reserve(this.deps, plan, w.req), slots: holdSlots(this.deps, plan) });
    }
    try {
      const { createdAt, addresses } = await commitPlacementsWithNodes(this.deps.sql, {
        requests: placed.map((p) => requestRow(p.plan, p.hash, null)),
        claims: placed.flatMap((p) => p.plan.claims),
        vms: placed.flatMap((p) => vmRows(p.plan, p.waiting.req, p.slots?.leaseMs)),
        audit: placed.flatMap((p) => (p.waiting.audit ? [p.waiting.audit.entry] : [])),
      }, Math.min(...placed.map((p) => p.waiting.deadline)));
      for (const p of placed) if (p.waiting.audit) p.waiting.audit.written = true;
      for (const p of placed) p.slots?.start(dispatchVms(p.plan, p.waiting.req, addresses));
      if (placed.some((p) => p.slots === null)) this.deps.onScheduled();
      for (const p of placed) p.waiting.resolve(createdResponse(p.plan, p.waiting.req, createdAt, p.slots !== null));
    } catch (err) {
      for (const p of placed) {
        p.reservation.undo();
        p.slots?.release();
      }
      if (err instanceof DeadlineExceededError || err instanceof QuotaExceededError) {
        // The earliest deadline stopped the batch, or one request over its project's quota aborted
        // the batch's statement: each goes alone, against its own deadline and quota.
        alone.push(...placed.map((p) => p.waiting));
      } else if (!(asStoreError(err) instanceof ClaimConflictError)) {
        for (const p of placed) p.waiting.reject(err);
      } else {
        // A conflict (room taken, a group member placed first, or a lock race) fails the batch whole: each request retries on its own.
        this.deps.metrics.claimConflicts.inc();
        if (err instanceof GroupConflictError) this.deps.groups.invalidate(named);
        else this.deps.nodes.invalidate();
        alone.push(...placed.map((p) => p.waiting));
      }
    }
    await Promise.all(alone.map((w) => this.alone(w)));
  }
}
