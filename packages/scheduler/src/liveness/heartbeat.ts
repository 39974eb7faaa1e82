import {
  handleVanishedDomains,
  reconcileDomainStates,
  reconcileNeeds,
  recordVmInterfaces,
  setLibvirtHealth,
  type NodeStateName,
  type Sql,
  type VmInterface,
} from "@drover/store";
import type { SchedulerConfig } from "../config.js";
import { NotFoundError } from "../errors.js";
import { isUuid } from "../api/validation.js";
import type { HeartbeatStage } from "../metrics.js";
import type { StageHistogram } from "../metrics/stage-histogram.js";
import type { HeartbeatBatcher } from "./heartbeat-batcher.js";
import { reportKey } from "./report-memo.js";

/**
 * How long a VM must have been RUNNING before a heartbeat without its domain counts as the
 * domain gone: the agent lists its domains just before it sends, so one created meanwhile is
 * missing from a beat that arrives after the VM was marked RUNNING.
 */
export const VANISHED_GRACE_MS = 10_000;

/** A domain as the agent reported it; `other` covers states the scheduler does not act on. */
export interface DomainReport {
  vmId: string;
  state: "running" | "shutoff" | "paused" | "crashed" | "other";
  /** How libvirt says the domain came to its state, when the agent looked it up ("" otherwise). */
  reason?: string;
  /** Its NICs and addresses; undefined when the agent does not look them up (test driver). */
  interfaces?: VmInterface[];
  /** The agent's generation of this state (0: the agent does not count). */
  generation: number;
}

/** One heartbeat as the handler hands it over. */
export interface Beat {
  name: string;
  /** This run of the agent ("" from an agent that sends none) and its beat count in it. */
  bootId: string;
  seq: number;
  domains: DomainReport[];
  /** Non-empty while the agent cannot reach libvirt: why. */
  libvirtUnavailable: string;
  /** Its reportKey, when the caller has it already (a stream's repeated report: beat-reader.ts). */
  reportKey?: string;
}

export interface HeartbeatDeps {
  sql: Sql;
  config: Pick<SchedulerConfig, "restartLimit" | "restartBackoffMs" | "restartWindowMs">;
  heartbeats: HeartbeatBatcher;
  log(message: string): void;
  metrics?: { heartbeatSeconds: StageHistogram<HeartbeatStage> };
}

/**
 * Where a heartbeat lands: records the beat (reviving a DOWN node), marks the node DEGRADED while
 * its agent cannot reach libvirt (and READY again after), moves the node's VMs to the states its
 * domains report, and answers which domains the node must destroy. A late beat (older seq) only
 * keeps the node alive; so does a DEGRADED one, whose states are the agent's last known, and one
 * the reconcile gate holds back (reconcile-gate.ts: the node's previous beat is still reconciled
 * here, or was a moment ago and took long).
 */
export async function acceptHeartbeat(
  deps: HeartbeatDeps,
  beat: Beat,
  receivedAt = performance.now(),
  /** How long the record may wait for other beats' (heartbeat-batcher.ts); the batcher's default when absent. */
  lingerMs?: number,
): Promise<{ state: NodeStateName; destroyVmIds: string[] }> {
  const { name } = beat;
  const recorded = await deps.heartbeats.record({ name, bootId: beat.bootId, seq: beat.seq }, receivedAt, lingerMs);
  deps.metrics?.heartbeatSeconds.observe("record", (performance.now() - receivedAt) / 1000);
  if (recorded === null) throw new NotFoundError("node", name, "register it first");
  let state: NodeStateName = recorded.state;
  if (recorded.fresh && (state === "DEGRADED") !== (beat.libvirtUnavailable !== "")) {
    state = (await setLibvirtHealth(deps.sql, name, beat.libvirtUnavailable)) ?? state;
    deps.log(beat.libvirtUnavailable ? `node ${name} DEGRADED: ${beat.libvirtUnavailable}` : `node ${name} reaches libvirt again: ${state}`);
  }
  if (!recorded.fresh || beat.libvirtUnavailable) return { state, destroyVmIds: [] };
  // The fast path (report-memo.ts): nothing changed since this node's last reconcile here.
  const reports = deps.heartbeats.reports;
  if (recorded.revived) reports.forget(name);
  const seen = { key: beat.reportKey ?? reportKey(beat), state, vmChanges: recorded.vmChanges };
  if (reports.unchanged(name, seen)) return { state, destroyVmIds: [] };
  const done = await deps.heartbeats.reconciles.run(name, () => reconcile(deps, beat));
  // Settled only with nothing to destroy and no vanished domain still in its grace (that one is
  // due later with the same report).
  if (done) reports.checked(name, seen, done.destroyVmIds.length === 0 && done.vanishedWaiting === 0);
  return { state, destroyVmIds: done?.destroyVmIds ?? [] };
}

/**
 * Moves the node's VMs to the states its domains report; returns the domains the node must destroy,
 * and how many VMs lack a domain but are still within VANISHED_GRACE_MS. One read says what the
 * report changes (store reconcile-needs.ts); the writes run only for what it found.
 */
async function reconcile(deps: HeartbeatDeps, beat: Beat): Promise<{ destroyVmIds: string[]; vanishedWaiting: number }> {
  const { name } = beat;
  // Names that are no UUID are no VM of ours (and would not cast in SQL).
  const known = beat.domains.map((d) => ({ ...d, vmId: d.vmId.toLowerCase() })).filter((d) => isUuid(d.vmId));
  const acted = known.flatMap((d) => (d.state === "other" ? [] : [{ vmId: d.vmId, state: d.state, generation: d.generation, reason: d.reason ?? "" }]));
  const interfaces = known.flatMap((d) => (d.interfaces !== undefined ? [{ vmId: d.vmId, interfaces: d.interfaces }] : []));
  const reported = known.map((d) => d.vmId);
  const rules = restartRules(deps.config);
  const needs = await reconcileNeeds(deps.sql, { node: name, domains: acted, interfaces, reportedVmIds: reported }, rules, VANISHED_GRACE_MS);
  if (needs.states) {
    const changed = await reconcileDomainStates(deps.sql, name, acted, rules);
    for (const vm of changed) if (vm.state === "CRASHED" || vm.state === "FAILED") deps.log(`VM ${vm.id} on ${name}: ${vm.state}: ${vm.reason}`);
  }
  if (needs.interfaces) await recordVmInterfaces(deps.sql, name, interfaces);
  let vanishedWaiting = needs.vanishedWaiting;
  if (needs.vanishedDue > 0) {
    const vanished = await handleVanishedDomains(deps.sql, name, reported, VANISHED_GRACE_MS);
    vanishedWaiting = vanished.waiting;
    if (vanished.recreated.length + vanished.stopped.length + vanished.failed.length > 0) {
      deps.log(
        `node ${name}: domains vanished: ${vanished.recreated.length} VMs re-created, ${vanished.stopped.length} left STOPPED (StartVm re-creates), ` +
          `${vanished.failed.length} FAILED (restart policy never)`,
      );
    }
  }
  // The writes above never make a reported domain a stray: they move no VM to another node, nor a reported one to FAILED.
  const destroyVmIds = needs.strays;
  if (destroyVmIds.length > 0) deps.log(`node ${name}: asking to destroy stray domains ${destroyVmIds.join(", ")}`);
  return { destroyVmIds, vanishedWaiting };
}

/** The restart rules of the scheduler's configuration. */
export function restartRules(c: Pick<SchedulerConfig, "restartLimit" | "restartBackoffMs" | "restartWindowMs">) {
  return { limit: c.restartLimit, backoffMs: c.restartBackoffMs, maxBackoffMs: 300_000, windowMs: c.restartWindowMs };
}
