import {
  handleVanishedDomains,
  reconcileDomainStates,
  recordVmInterfaces,
  setLibvirtHealth,
  type HeartbeatStamp,
  type NodeStateName,
  type RecordedBeat,
  type Sql,
  type VmInterface,
} from "@drover/store";
import type { SchedulerConfig } from "../config.js";
import { NotFoundError } from "../errors.js";
import { isUuid } from "../api/validation.js";
import type { HeartbeatStage } from "../metrics.js";
import type { StageHistogram } from "../metrics/stage-histogram.js";
import { beatTimeoutMs, type BeatRateConfig } from "./beat-rate.js";
import type { HeartbeatBatcher } from "./heartbeat-batcher.js";
import { reportKey, type Seen } from "./report-memo.js";

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
  /** The interval (ms) the agent sends its next beat after (0: it does not say; it beats at most at the configured one). */
  intervalMs?: number;
  /** Its reportKey, when the caller has it already (a stream's repeated report: beat-reader.ts). */
  reportKey?: string;
}

export interface HeartbeatDeps {
  sql: Sql;
  config: Pick<SchedulerConfig, "restartLimit" | "restartBackoffMs" | "restartWindowMs" | "heartbeatIntervalMs" | "heartbeatTimeoutMs" | "maxHeartbeatsPerSecond">;
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
 * here, or was a moment ago and took long). A node with LOST VMs reconciles on every fresh beat,
 * past the report memo and the gate's hold, until none is LOST.
 */
export async function acceptHeartbeat(
  deps: HeartbeatDeps,
  beat: Beat,
  receivedAt = performance.now(),
  /** How long the record may wait for other beats' (heartbeat-batcher.ts); the batcher's default when absent. */
  lingerMs?: number,
): Promise<Accepted> {
  const stamp = stampBeat(deps.config, beat);
  const recorded = await deps.heartbeats.record(stamp, receivedAt, lingerMs);
  deps.metrics?.heartbeatSeconds.observe("record", (performance.now() - receivedAt) / 1000);
  return acceptRecorded(deps, beat, recorded, stamp.timeoutMs ?? 0, receivedAt);
}

/**
 * What `beat` is recorded with, written into `into` (a stream's one slot for all its beats, or a
 * new object) and returned: the one place, for unary and streamed beats alike, where a beat's
 * timeout is taken. The silence it allows is the agent's own word (the interval it says it beats
 * at, beat-rate.ts), kept with the record for every replica.
 */
export function stampBeat(config: Pick<BeatRateConfig, "heartbeatIntervalMs" | "heartbeatTimeoutMs">, beat: Beat, into: Partial<HeartbeatStamp> = {}): HeartbeatStamp {
  into.name = beat.name;
  into.bootId = beat.bootId;
  into.seq = beat.seq;
  into.timeoutMs = beatTimeoutMs(config, beat.intervalMs ?? 0);
  return into as HeartbeatStamp;
}

/** What a heartbeat's answer says: the node's state, and the domains it must destroy. */
export interface Accepted {
  state: NodeStateName;
  destroyVmIds: string[];
}

/**
 * The rest of acceptHeartbeat once the beat is recorded (`recorded`: what the batcher gave back;
 * `timeoutMs`: its stamp's; `arrivedAt`: when it arrived, performance.now()). An unchanged report
 * of a fresh, healthy beat (nearly every beat) is answered here and now, with no promise; the rest
 * returns one. Throws NotFoundError for an unknown node.
 */
export function acceptRecorded(deps: HeartbeatDeps, beat: Beat, recorded: RecordedBeat | null, timeoutMs: number, arrivedAt: number): Accepted | Promise<Accepted> {
  const { name } = beat;
  if (recorded === null) throw new NotFoundError("node", name, "register it first");
  const state: NodeStateName = recorded.state;
  // Revived (its VMs were LOST meanwhile): whatever this replica remembers of its reports is past.
  if (recorded.revived) deps.heartbeats.reports.forget(name);
  if (recorded.fresh && (state === "DEGRADED") !== (beat.libvirtUnavailable !== "")) return libvirtHealthChanged(deps, beat, recorded, timeoutMs, arrivedAt);
  if (!recorded.fresh || beat.libvirtUnavailable) return { state, destroyVmIds: [] };
  return unchangedOrReconciled(deps, beat, recorded, state, timeoutMs, arrivedAt);
}

/** The fast path (report-memo.ts): nothing changed since this node's last reconcile here. Else the reconcile. */
function unchangedOrReconciled(deps: HeartbeatDeps, beat: Beat, recorded: RecordedBeat, state: NodeStateName, timeoutMs: number, arrivedAt: number): Accepted | Promise<Accepted> {
  const { name } = beat;
  const key = beat.reportKey ?? reportKey(beat);
  // A node with LOST VMs (it was DOWN) reconciles every beat until none is: nothing the memo or a
  // hold remembers from before may keep them LOST while their node reports them (truth model).
  if (deps.heartbeats.reports.unchanged(name, key, state, recorded.vmChanges, timeoutMs, beat.intervalMs, beat, arrivedAt) && !recorded.lost) return { state, destroyVmIds: [] };
  return reconciled(deps, beat, { key, state, vmChanges: recorded.vmChanges }, recorded.lost);
}

/** The node is DEGRADED and its agent reaches libvirt again, or the other way round. */
async function libvirtHealthChanged(deps: HeartbeatDeps, beat: Beat, recorded: RecordedBeat, timeoutMs: number, arrivedAt: number): Promise<Accepted> {
  const { name } = beat;
  const state = (await setLibvirtHealth(deps.sql, name, beat.libvirtUnavailable)) ?? recorded.state;
  deps.log(beat.libvirtUnavailable ? `node ${name} DEGRADED: ${beat.libvirtUnavailable}` : `node ${name} reaches libvirt again: ${state}`);
  if (beat.libvirtUnavailable) return { state, destroyVmIds: [] };
  return unchangedOrReconciled(deps, beat, recorded, state, timeoutMs, arrivedAt);
}

/** The report changed (or is due its full check): the node's VMs are reconciled with it. */
async function reconciled(deps: HeartbeatDeps, beat: Beat, seen: Seen, lost: boolean): Promise<Accepted> {
  const done = await deps.heartbeats.reconciles.run(beat.name, () => reconcile(deps, beat), { urgent: lost });
  // Settled only with nothing to destroy and no vanished domain still in its grace (that one is
  // due later with the same report).
  if (done) deps.heartbeats.reports.checked(beat.name, seen, done.destroyVmIds.length === 0 && done.vanishedWaiting === 0, beat);
  return { state: seen.state, destroyVmIds: done?.destroyVmIds ?? [] };
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
  // With other nodes' reconciles of the next moments, in one statement (reconcile-reads.ts).
  const needs = await deps.heartbeats.reads.needs({ node: name, domains: acted, interfaces, reportedVmIds: reported }, rules, VANISHED_GRACE_MS);
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
