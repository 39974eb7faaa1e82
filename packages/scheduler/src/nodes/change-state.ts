import { getNode, setNodeState, type Sql, type NodeStateName } from "@drover/store";
import { NotFoundError, WrongStateError } from "../errors.js";
import { withVmCount, type NodeWithVms } from "./read-nodes.js";

/**
 * Operator state changes (cordon, uncordon, drain). DOWN is the liveness monitor's alone: a DOWN
 * node comes back by heartbeating, so changing its state is refused.
 */
export async function changeNodeState(sql: Sql, name: string, to: NodeStateName): Promise<NodeWithVms> {
  const current = await getNode(sql, name);
  if (!current) throw new NotFoundError("node", name);
  if (current.state === "DOWN") {
    throw new WrongStateError(`node ${name} is DOWN; it becomes READY when its agent heartbeats again`);
  }
  const changed = await withVmCount(sql, (await setNodeState(sql, name, to))?.node ?? null);
  if (!changed) throw new NotFoundError("node", name);
  return changed;
}
