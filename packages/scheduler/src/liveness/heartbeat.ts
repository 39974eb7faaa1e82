import { reconcileDomainStates, recordVmInterfaces, requeueVanishedDomains, strayDomains, type NodeStateName, type Sql, type VmInterface } from "@drover/store";
import { NotFoundError } from "../errors.js";
import { isUuid } from "../api/validation.js";
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
}

export interface HeartbeatDeps {
  sql: Sql;
  heartbeats: HeartbeatBatcher;
  log(message: string): void;
}

/**
 * Where a heartbeat lands: records the beat (reviving a DOWN node), moves the node's VMs to the
 * states its domains report, and answers which domains the node must destroy.
 */
export async function acceptHeartbeat(
  deps: HeartbeatDeps,
  name: string,
  domains: DomainReport[],
): Promise<{ state: NodeStateName; destroyVmIds: string[] }> {
  const state = await deps.heartbeats.record(name);
  if (state === null) throw new NotFoundError("node", name, "register it first");
  const known = domains.map((d) => ({ ...d, vmId: d.vmId.toLowerCase() }));
  await reconcileDomainStates(
    deps.sql,
    name,
    known.filter((d) => d.state !== "other").map((d) => ({ vmId: d.vmId, running: d.state === "running" })),
  );
  const withInterfaces = known.filter((d) => d.interfaces !== undefined && isUuid(d.vmId));
  await recordVmInterfaces(deps.sql, name, withInterfaces.map((d) => ({ vmId: d.vmId, interfaces: d.interfaces! })));
  // Names that are no UUID are no VM of ours (and would not cast in SQL).
  const reported = known.map((d) => d.vmId).filter(isUuid);
  const vanished = await requeueVanishedDomains(deps.sql, name, reported, VANISHED_GRACE_MS);
  if (vanished.length > 0) deps.log(`node ${name}: ${vanished.length} RUNNING VMs have no domain there any more; re-creating them`);
  const destroyVmIds = await strayDomains(deps.sql, name, reported);
  if (destroyVmIds.length > 0) deps.log(`node ${name}: asking to destroy stray domains ${destroyVmIds.join(", ")}`);
  return { state, destroyVmIds };
}
