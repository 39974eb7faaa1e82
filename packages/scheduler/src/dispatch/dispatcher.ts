import { VmSpec } from "@drover/proto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  isConnectionFailure,
  releaseClaim,
  setVmReason,
  takeDueDeletions,
  takeDueProvisioning,
  transitionVm,
  type DispatchVm,
  type Sql,
  transaction,
} from "@drover/store";
import { describeAgentError, type AgentClients } from "./agent-clients.js";
import { imageToProto, networkToProto } from "../api/catalog-service.js";
import type { SchedulerMetrics } from "../metrics.js";
import type { SchedulerConfig } from "../config.js";
import type { PlacementOptionsFor } from "../create/placement-options.js";
import { moveOrWait, retryElsewhere, type RetryDeps, type RetryOutcome } from "./retry-elsewhere.js";
import { RunningMarker, type RunningMarks } from "./running-marker.js";
import { PassCatalog } from "./pass-catalog.js";
import type { HeldSlots, SlotHolder } from "./held-slots.js";

/**
 * Carries placed VMs to their agents (EnsureDomain) and deleted VMs away
 * (DestroyDomain). Work is taken from Postgres under a lease, so several
 * replicas share it and a crashed replica's work is picked up again.
 * A single create can also hold slots before it commits (hold()): its VMs then commit already
 * PROVISIONING under this replica's lease and are handed over here, with no pass to take them.
 */
export class Dispatcher implements SlotHolder {
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
  private readonly running: RunningMarker;
  /** When the deletion queue was last read; it is read once a tick period, or at once after wantDeletions(). */
  private deletionsReadAt = 0;
  /** A retry on another node places through the create path, with its options and metrics. */
  private readonly retry: RetryDeps;
  /** Shutting down: no more slots are held for creates. */
  private closed = false;

  constructor(
    private readonly sql: Sql,
    private readonly agents: AgentClients,
    private readonly config: SchedulerConfig,
    placementOptions: PlacementOptionsFor,
    private readonly metrics: SchedulerMetrics,
    private readonly log: (msg: string) => void,
    /** Told what the RUNNING marks wrote: the heartbeat memo of this replica (report-memo.ts). */
    marks?: RunningMarks,
  ) {
    this.running = new RunningMarker(sql, marks);
    this.retry = { sql, config, metrics, placementOptions, log };
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
    // The pass's catalog entries in at most two statements, not two per VM.
    const catalog = new PassCatalog(this.sql, provisioning);
    for (const vm of provisioning) this.track(this.provisionCounted(vm, catalog));
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
    this.watch(p);
  }

  /** Counts `p`'s slot free when it settles (the slot was counted in inFlight already). */
  private watch(p: Promise<void>): void {
    const done = p
      .catch((err) => this.log(`dispatcher: ${String(err)}`))
      .finally(() => {
        this.inFlight--;
        this.pending.delete(done);
        this.slotsFreed();
      });
    this.pending.add(done);
  }

  /**
   * Work may be queued behind a full pass: take it now rather than at the next tick,
   * once half the slots are free, so each pass takes a batch rather than one VM.
   */
  private slotsFreed(): void {
    if (this.saturated && this.inFlight <= this.config.dispatchConcurrency / 2) {
      this.saturated = false;
      this.onSlotFree();
    }
  }

  /**
   * Slots for a create's VMs, held before it commits (held-slots.ts). Refused when they do not all
   * fit in the free slots and their nodes' allowances, and while work may be waiting in the queue
   * (the last pass filled every slot, or gave one of these nodes its whole allowance): VMs
   * committed SCHEDULED then wait their turn, and never jump a queue this replica has not read.
   */
  hold(nodes: readonly string[]): HeldSlots | null {
    if (this.closed || this.saturated || nodes.length === 0 || this.inFlight + nodes.length > this.config.dispatchConcurrency) return null;
    const perNode = new Map<string, number>();
    for (const node of nodes) perNode.set(node, (perNode.get(node) ?? 0) + 1);
    for (const [node, n] of perNode) {
      if (this.capped.has(node) || (this.provisioningOn.get(node) ?? 0) + n > this.config.dispatchPerNode) return null;
    }
    this.inFlight += nodes.length;
    for (const [node, n] of perNode) this.provisioningOn.set(node, (this.provisioningOn.get(node) ?? 0) + n);
    let open = true;
    return {
      leaseMs: this.leaseMs,
      start: (vms) => {
        if (!open) throw new Error("dispatcher slots used twice");
        open = false;
        const catalog = new PassCatalog(this.sql, vms);
        for (const vm of vms) this.watch(this.provisionHeld(vm, catalog));
      },
      release: () => {
        if (!open) return;
        open = false;
        this.inFlight -= nodes.length;
        for (const [node, n] of perNode) this.putBackNode(node, n);
        this.slotsFreed();
      },
    };
  }

  /** Holds no more slots for creates (shutdown): their VMs commit SCHEDULED, for any replica. */
  close(): void {
    this.closed = true;
  }

  /** Waits for in-flight agent calls (used on shutdown), those started meanwhile too. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all(this.pending);
  }

  /**
   * provision() with the VM counted against its node's limit meanwhile. A
   * capped node wakes the loop once it is down to half its limit, so VMs
   * queued behind the limit (a bulk packed onto few nodes) go on at once, a
   * batch at a time, rather than at the next tick.
   */
  private async provisionCounted(vm: DispatchVm, catalog: PassCatalog): Promise<void> {
    const node = vm.node ?? "";
    this.provisioningOn.set(node, (this.provisioningOn.get(node) ?? 0) + 1);
    await this.provisionHeld(vm, catalog);
  }

  /** provision() of a VM already counted against its node's limit; the count goes when it ends. */
  private async provisionHeld(vm: DispatchVm, catalog: PassCatalog): Promise<void> {
    try {
      await this.provision(vm, catalog);
    } finally {
      this.putBackNode(vm.node ?? "", 1);
    }
  }

  /** `n` of a node's dispatches are over. */
  private putBackNode(node: string, n: number): void {
    const left = this.provisioningOn.get(node)! - n;
    if (left === 0) this.provisioningOn.delete(node);
    else this.provisioningOn.set(node, left);
    if (left <= Math.floor(this.config.dispatchPerNode / 2) && this.capped.delete(node)) this.onSlotFree();
  }

  /**
   * EnsureDomain on the VM's node, then RUNNING. A VM deleted meanwhile (DeleteVm leaves its
   * deletion due at the end of this lease) is deleted here as soon as the call is over, so the
   * delete waits for the one EnsureDomain in flight, not for the lease; the agent runs a
   * DestroyDomain after it (one VM's calls are serialized there), so no domain is left behind.
   */
  private async provision(vm: DispatchVm, catalog: PassCatalog): Promise<void> {
    if ((await this.dispatch(vm, catalog)) === "deleting") await this.destroy(vm);
  }

  private async dispatch(vm: DispatchVm, catalog: PassCatalog): Promise<RetryOutcome> {
    if (!vm.node || !vm.nodeAddress) return retryElsewhere(this.retry, vm, `node ${vm.node} is gone`);
    // A DOWN or DEGRADED node may be back soon: the VM waits for it (or goes to another node).
    if (vm.nodeState === "DOWN" || vm.nodeState === "DEGRADED") {
      return moveOrWait(this.retry, vm, `node ${vm.node} is ${vm.nodeState}`);
    }
    let generation: number;
    try {
      const spec = VmSpec.fromJSON(vm.spec);
      // The agent gets the catalog entry (name, format, size, sha256), never a path.
      const image = spec.image ? await catalog.image(spec.image) : undefined;
      // ... and the network's entry, which says whether it is a libvirt network or a Linux bridge.
      const network = spec.network ? await catalog.network(spec.network) : undefined;
      const domain = await this.agents.ensureDomain({ name: vm.node, address: vm.nodeAddress }, {
        vmId: vm.id,
        spec,
        ...(image ? { image: imageToProto(image) } : {}),
        ...(network ? { network: networkToProto(network) } : {}),
      });
      generation = domain?.generation ?? 0;
    } catch (err) {
      this.metrics.dispatches.inc({ result: "error" });
      return retryElsewhere(this.retry, vm, describeAgentError(vm.node, err));
    }
    this.metrics.dispatches.inc({ result: "ok" });
    return (await this.markRunning(vm.id, generation)) ? "deleting" : "handled";
  }

  /**
   * The domain runs: a database outage must not leave its VM PROVISIONING until the lease runs
   * out (a minute by default), so the RUNNING mark is retried while the lease would still hold.
   */
  private async markRunning(id: string, generation: number): Promise<boolean> {
    const until = Date.now() + this.leaseMs / 2;
    for (;;) {
      try {
        return await this.running.mark(id, generation);
      } catch (err) {
        if (!isConnectionFailure(err) || Date.now() > until) throw err;
        await sleep(250);
      }
    }
  }

  /**
   * Destroys the domain (unless its node is DOWN), then releases the claim and marks the VM DELETED.
   * Idempotent: a deletion taken again (its lease ran out) or by another replica changes nothing more.
   */
  private async destroy(vm: DispatchVm): Promise<void> {
    if (vm.node && vm.nodeAddress && vm.nodeState !== "DOWN") {
      try {
        await this.agents.destroyDomain({ name: vm.node, address: vm.nodeAddress }, vm.id);
      } catch (err) {
        // Stays DELETING; the lease makes it due again later.
        await setVmReason(this.sql, vm.id, describeAgentError(vm.node, err));
        return;
      }
    }
    await transaction(this.sql, async (tx) => {
      await releaseClaim(tx, vm.id);
      await transitionVm(tx, vm.id, ["DELETING"], "DELETED", { reason: "" });
    });
  }
}
