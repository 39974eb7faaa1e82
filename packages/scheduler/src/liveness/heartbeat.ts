import {
  reconcileDomainStates,
  recordVmInterfaces,
  requeueVanishedDomains,
  setLibvirtHealth,
  strayDomains,
  type NodeStateName,
  type Sql,
  type VmInterface,
} from "@drover/store";
import { NotFoundError } from "../errors.js";
import { isUuid } from "../api/validation.js";
import type { Histogram } from "prom-client";
import type { HeartbeatBatcher } from "./heartbeat-batcher.js";

/**
 * How long a VM must have been RUNNING before a heartbeat without its domain counts as the
 * domain gone: the agent lists its domains just before it sends, so one created meanwhile is
 * missing from a beat that arrives after the VM was marked RUNNING.
 */
export const VANISHED_GRACE_MS = 10_000;

/** A domain as the agent reported it; `other` covers paused, crashed and unknown states. */
export interface DomainReport {
  vmId: string;
  state: "running" | "shutoff" | "other";
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
}

export interface HeartbeatDeps {
  sql: Sql;
  heartbeats: HeartbeatBatcher;
  log(message: string): void;
  metrics?: { heartbeatSeconds: Histogram<"stage"> };
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
): Promise<{ state: NodeStateName; destroyVmIds: string[] }> {
  const { name } = beat;
  const recorded = await deps.heartbeats.record({ name, bootId: beat.bootId, seq: beat.seq }, receivedAt);
  deps.metrics?.heartbeatSeconds.observe({ stage: "record" }, (performance.now() - receivedAt) / 1000);
  if (recorded === null) throw new NotFoundError("node", name, "register it first");
  let state: NodeStateName = recorded.state;
  if (recorded.fresh && (state === "DEGRADED") !== (beat.libvirtUnavailable !== "")) {
    state = (await setLibvirtHealth(deps.sql, name, beat.libvirtUnavailable)) ?? state;
    deps.log(beat.libvirtUnavailable ? `node ${name} DEGRADED: ${beat.libvirtUnavailable}` : `node ${name} reaches libvirt again: ${state}`);
  }
  if (!recorded.fresh || beat.libvirtUnavailable) return { state, destroyVmIds: [] };
  return { state, destroyVmIds: (await deps.heartbeats.reconciles.run(name, () => reconcile(deps, beat))) ?? [] };
}

/** Moves the node's VMs to the states its domains report; returns the domains the node must destroy. */
async function reconcile(deps: HeartbeatDeps, beat: Beat): Promise<string[]> {
  const { name } = beat;
  // Names that are no UUID are no VM of ours (and would not cast in SQL).
  const known = beat.domains.map((d) => ({ ...d, vmId: d.vmId.toLowerCase() })).filter((d) => isUuid(d.vmId));
  await reconcileDomainStates(
    deps.sql,
    name,
    known.filter((d) => d.state !== "other").map((d) => ({ vmId: d.vmId, running: d.state === "running", generation: d.generation })),
  );
  const withInterfaces = known.filter((d) => d.interfaces !== undefined);
  await recordVmInterfaces(deps.sql, name, withInterfaces.map((d) => ({ vmId: d.vmId, interfaces: d.interfaces! })));
  const reported = known.map((d) => d.vmId);
  const vanished = await requeueVanishedDomains(deps.sql, name, reported, VANISHED_GRACE_MS);
  if (vanished.length > 0) deps.log(`node ${name}: ${vanished.length} RUNNING VMs have no domain there any more; re-creating them`);
  const destroyVmIds = await strayDomains(deps.sql, name, reported);
  if (destroyVmIds.length > 0) deps.log(`node ${name}: asking to destroy stray domains ${destroyVmIds.join(", ")}`);
  return destroyVmIds;
}
