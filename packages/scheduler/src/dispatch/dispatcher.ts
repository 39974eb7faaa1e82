import { VmSpec } from "@drover/proto";
import {
  claimResources,
  ClaimConflictError,
  failVm,
  lockGroups,
  lockVm,
  releaseClaim,
  rescheduleVm,
  setVmReason,
  takeDueDeletions,
  markRunning,
  takeDueProvisioning,
  transitionVm,
  type DispatchVm,
  type Sql,
  type Tx,
} from "@drover/store";
import { describeAgentError, type AgentClients } from "./agent-clients.js";
import type { SchedulerMetrics } from "../metrics.js";
import type { SchedulerConfig } from "../config.js";
import type { PlacementOptionsFor } from "../create/placement-options.js";
import { placeAgain } from "../create/place-again.js";
import type { PlaceDeps } from "../create/place.js";
import { explanation } from "../create/vm-request.js";

/**
 * Carries placed VMs to their agents (EnsureDomain) and deleted VMs away
 * (DestroyDomain). Work is taken from Postgres under a lease, so several
 * replicas share it and a crashed replica's work is picked up again.
 */
export class Dispatcher {
  private inFlight = 0;
  /** EnsureDomain calls in flight per node, for the per-node limit. */
  private readonly provisioningOn = new Map<string, number>();
  /** Nodes given their whole allowance by the last pass that saw them: VMs may wait behind the limit. */
  private readonly capped = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  /** The last pass filled every slot, so more work may be waiting. */
  private saturated = false;
  /** Runs the next pass at once (the loop's wake). */
  onSlotFree: () => void = () => {};
  /** VMs whose EnsureDomain succeeded, marked RUNNING together in one statement. */
  private started: { id: string; done: () => void; failed: (e: unknown) => void }[] = [];
  /** When the deletion queue was last read; it is read once a tick period, or at once after wantDeletions(). */
  private deletionsReadAt = 0;
  /** A retry on another node places through the create path, with its options and metrics. */
  private readonly placing: PlaceDeps;

  constructor(
    private readonly sql: Sql,
    private readonly agents: AgentClients,
    private readonly config: SchedulerConfig,
    placementOptions: PlacementOptionsFor,
    private readonly metrics: SchedulerMetrics,
    private readonly log: (msg: string) => void,
  ) {
    this.placing = { metrics, placementOptions };
  }

  private get leaseMs(): number {
    return this.config.agentTimeoutMs * 2;
  }

  /** Makes the next pass read the deletion queue (a local DeleteVm just filled it). */
  wantDeletions(): void {
    this.deletionsReadAt = 0;
  }

  /** One pass: take as much due work as there is room for and start it. */
  async tick(): Promise<void> {
    const room = this.config.dispatchConcurrency - this.inFlight;
    if (room <= 0) return;
    const perNode = this.config.dispatchPerNode;
    const busy = new Map(this.provisioningOn); // as the statement sees it
    const provisioning = await takeDueProvisioning(this.sql, room, this.leaseMs, perNode, busy);
    // A node given its whole allowance may have more VMs waiting behind the limit.
    const taken = new Map<string, number>();
    for (const vm of provisioning) taken.set(vm.node ?? "", (taken.get(vm.node ?? "") ?? 0) + 1);
    for (const [node, n] of taken) if (n >= perNode - (busy.get(node) ?? 0)) this.capped.add(node);
    for (const vm of provisioning) this.track(this.provisionCounted(vm));
    const left = room - provisioning.length;
    let deletions: DispatchVm[] = [];
    // Passes come back to back under load; the deletion queue needs no query on each of them.
    if (left > 0 && performance.now() - this.deletionsReadAt >= this.config.tickMs) {
      this.deletionsReadAt = performance.now();
      deletions = await takeDueDeletions(this.sql, left, this.leaseMs);
    }
    for (const vm of deletions) this.track(this.destroy(vm));
    this.saturated = provisioning.length + deletions.length === room;
  }

  private track(p: Promise<void>): void {
    this.inFlight++;
    const done = p
      .catch((err) => this.log(`dispatcher: ${String(err)}`))
      .finally(() => {
        this.inFlight--;
        this.pending.delete(done);
        // Work may be queued behind a full pass: take it now rather than at the next tick,
        // once half the slots are free, so each pass takes a batch rather than one VM.
        if (this.saturated && this.inFlight <= this.config.dispatchConcurrency / 2) {
          this.saturated = false;
          this.onSlotFree();
        }
      });
    this.pending.add(done);
  }

  /** Waits for in-flight agent calls (used on shutdown). */
  async drain(): Promise<void> {
    await Promise.all(this.pending);
  }

  /**
   * provision() with the VM counted against its node's limit meanwhile. A
   * capped node wakes the loop once it is down to half its limit, so VMs
   * queued behind the limit (a bulk packed onto few nodes) go on at once, a
   * batch at a time, rather than at the next tick.
   */
  private async provisionCounted(vm: DispatchVm): Promise<void> {
    const node = vm.node ?? "";
    this.provisioningOn.set(node, (this.provisioningOn.get(node) ?? 0) + 1);
    try {
      await this.provision(vm);
    } finally {
      const left = this.provisioningOn.get(node)! - 1;
      if (left === 0) this.provisioningOn.delete(node);
      else this.provisioningOn.set(node, left);
      if (left <= Math.floor(this.config.dispatchPerNode / 2) && this.capped.delete(node)) this.onSlotFree();
    }
  }

  private async provision(vm: DispatchVm): Promise<void> {
    if (!vm.node || !vm.nodeAddress || vm.nodeState === "DOWN") {
      await this.retryElsewhere(vm, `node ${vm.node} is ${vm.nodeAddress ? "DOWN" : "gone"}`);
      return;
    }
    try {
      await this.agents.ensureDomain(vm.nodeAddress, { vmId: vm.id, spec: VmSpec.fromJSON(vm.spec) });
    } catch (err) {
      this.metrics.dispatches.inc({ result: "error" });
      await this.retryElsewhere(vm, describeAgentError(vm.node, err));
      return;
    }
    this.metrics.dispatches.inc({ result: "ok" });
    await this.markRunning(vm.id);
  }

  /**
   * Queues the VM for the next RUNNING update: the ones that finish while an
   * update is under way share the next statement. Only a VM still
   * PROVISIONING becomes RUNNING (a delete that came in meanwhile wins); the
   * reason of an earlier failed attempt stays, as the last failure seen.
   */
  private markRunning(id: string): Promise<void> {
    return new Promise((done, failed) => {
      this.started.push({ id, done, failed });
      if (this.started.length === 1) setImmediate(() => void this.flushStarted());
    });
  }

  private async flushStarted(): Promise<void> {
    const batch = this.started;
    this.started = [];
    try {
      await markRunning(
        this.sql,
        batch.map((b) => b.id),
      );
      for (const b of batch) b.done();
    } catch (err) {
      for (const b of batch) b.failed(err);
    }
  }

  /**
   * Releases the failed node's claim and places the VM on another node (one
   * not yet tried), in one transaction; after the last attempt the VM is FAILED.
   */
  private async retryElsewhere(vm: DispatchVm, reason: string): Promise<void> {
    this.log(`dispatch of ${vm.id} to ${vm.node} failed (attempt ${vm.attempts}): ${reason}`);
    for (let attempt = 0; attempt <= this.config.claimRetries; attempt++) {
      try {
        await this.sql.begin((tx) => this.moveOrFail(tx, vm, reason));
        return;
      } catch (err) {
        if (!(err instanceof ClaimConflictError)) throw err;
        this.metrics.claimConflicts.inc();
      }
    }
  }

  /** retryElsewhere's transaction: the VM goes to another node, or FAILED when none is left or it ran out of attempts. */
  private async moveOrFail(tx: Tx, vm: DispatchVm, reason: string): Promise<void> {
    await lockGroups(tx, vm.groups);
    const current = await lockVm(tx, vm.id);
    if (current?.state !== "PROVISIONING") return; // deleted or taken over meanwhile
    await releaseClaim(tx, vm.id);
    const tried = [...current.failedNodes, vm.node ?? ""];
    if (current.attempts >= this.config.dispatchAttempts) {
      await failVm(tx, vm.id, `gave up after ${current.attempts} attempts; last: ${reason}`, vm.node);
      return;
    }
    const resources = { vcpus: vm.vcpus, memoryMib: vm.memoryMib, diskGib: vm.diskGib };
    const result = await placeAgain(this.placing, this.config.defaultStrategy, tx, {
      id: vm.id,
      resources,
      policy: current.policy,
      groups: current.groups,
      exclude: tried,
      attempts: current.attempts,
    });
    const p = result.placements[0];
    if (!p) {
      const why = result.unplaced[0]?.message ?? "no other node";
      await failVm(tx, vm.id, `${reason}; no other node can take it: ${why}`, vm.node);
      return;
    }
    await claimResources(tx, [{ node: p.node, ...resources }]);
    await rescheduleVm(tx, vm.id, { node: p.node, placement: explanation(p), failedNode: vm.node ?? "", reason });
  }

  /** Destroys the domain (unless its node is DOWN), then releases the claim and marks the VM DELETED. */
  private async destroy(vm: DispatchVm): Promise<void> {
    if (vm.node && vm.nodeAddress && vm.nodeState !== "DOWN") {
      try {
        await this.agents.destroyDomain(vm.nodeAddress, vm.id);
      } catch (err) {
        // Stays DELETING; the lease makes it due again later.
        await setVmReason(this.sql, vm.id, describeAgentError(vm.node, err));
        return;
      }
    }
    await this.sql.begin(async (tx) => {
      await releaseClaim(tx, vm.id);
      await transitionVm(tx, vm.id, ["DELETING"], "DELETED", { reason: "" });
    });
  }
}
