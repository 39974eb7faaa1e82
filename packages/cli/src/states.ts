// Enum names without their prefixes, both ways: VM_STATE_RUNNING <-> RUNNING / "running".
import {
  NodeState,
  nodeStateToJSON,
  PlacementStrategy,
  placementStrategyToJSON,
  VmState,
  vmStateToJSON,
} from "@drover/proto";

function strip(name: string, prefix: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

export function vmStateName(state: VmState): string {
  return strip(vmStateToJSON(state), "VM_STATE_");
}

export function nodeStateName(state: NodeState): string {
  return strip(nodeStateToJSON(state), "NODE_STATE_");
}

export function strategyName(strategy: PlacementStrategy): string {
  return strip(placementStrategyToJSON(strategy), "PLACEMENT_STRATEGY_");
}

/** Numeric members of a ts-proto enum, minus UNSPECIFIED (0) and UNRECOGNIZED (-1). */
function members(e: Record<string, string | number>): [string, number][] {
  return Object.entries(e).filter(
    (kv): kv is [string, number] => typeof kv[1] === "number" && kv[1] > 0,
  );
}

function parseEnum<T extends number>(
  e: Record<string, string | number>,
  prefix: string,
  what: string,
  input: string,
): T {
  const want = strip(input.trim().toUpperCase(), prefix);
  const all = members(e);
  const hit = all.find(([name]) => strip(name, prefix) === want);
  if (!hit) {
    const choices = all.map(([name]) => strip(name, prefix).toLowerCase()).join(", ");
    throw new Error(`unknown ${what} "${input}"; expected one of: ${choices}`);
  }
  return hit[1] as T;
}

/** "running", "RUNNING" or "VM_STATE_RUNNING" -> VmState.VM_STATE_RUNNING. */
export function parseVmState(input: string): VmState {
  return parseEnum<VmState>(VmState, "VM_STATE_", "VM state", input);
}

/** "ready", "READY" or "NODE_STATE_READY" -> NodeState.NODE_STATE_READY. */
export function parseNodeState(input: string): NodeState {
  return parseEnum<NodeState>(NodeState, "NODE_STATE_", "node state", input);
}

/** "spread" | "pack" (any case) -> PlacementStrategy. */
export function parseStrategy(input: string): PlacementStrategy {
  return parseEnum<PlacementStrategy>(PlacementStrategy, "PLACEMENT_STRATEGY_", "strategy", input);
}
