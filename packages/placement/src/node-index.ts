import type { NodeSnapshot } from "./types.js";

/** Name -> position, per node array and its length then (built once per array, like validate's duplicate check). */
const indexes = new WeakMap<readonly NodeSnapshot[], { length: number; byName: Map<string, number> }>();

/**
 * Position of each node by name. Built once per array and kept: a caller may replace a node's
 * snapshot in an array it passes again (the scheduler's NodeList does) but never its name, so
 * the group fast paths look a member's node up in O(1) instead of passing over every node.
 */
export function nodeIndex(nodes: readonly NodeSnapshot[]): ReadonlyMap<string, number> {
  const cached = indexes.get(nodes);
  if (cached !== undefined && cached.length === nodes.length) return cached.byName;
  const byName = new Map<string, number>();
  for (let i = 0; i < nodes.length; i++) byName.set(nodes[i]!.name, i);
  indexes.set(nodes, { length: nodes.length, byName });
  return byName;
}
