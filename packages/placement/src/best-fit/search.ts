import type { Batch } from "../batch.js";
import { Best, passes, REST, type Decision } from "../decide.js";
import { applicableFilters } from "../filter.js";
import type { Scoring } from "../scorer.js";
import { packScorer } from "../scorers/pack.js";
import type { VmRequest } from "../types.js";
import { FitTree } from "./tree.js";

/**
 * How far below the best score a subtree's bound may be and still be searched. The bound is exact
 * for the pack score itself; a weighted mean of the pack scorer alone (w × s / w) can round it by
 * an ulp, so a little slack keeps every node that could tie.
 */
const SLACK = 1e-9;

/** Search stack: it holds at most one pending sibling per tree level, and a tree has at most 31. */
const stackSlot = new Int32Array(64);
const stackBound = new Float64Array(64);

/**
 * Whether the tree can find this VM's best node: the VM is ranked by the pack scorer alone (extra
 * scorers, preferences and soft groups rank by something the bounds do not know) and is not in an
 * affinity group (there one anchor node qualifies, which a full scan finds as fast). Constraints
 * and anti-affinity are fine: the search runs every filter on the nodes it examines.
 */
export function searchable(vm: VmRequest, scoring: Scoring): boolean {
  const s = scoring.scorers;
  return s.length === 1 && s[0]!.scorer === packScorer && !vm.affinityGroup;
}

/**
 * The same decision as a full scan (decide.ts) for a {@link searchable} VM, by branch and bound:
 * descend into the subtree with the higher bound first, skip every subtree whose bound is below the
 * best score found (or that has no room for the VM), and run the real filters and scorer on the
 * leaves that remain. Nothing that could beat or tie the best is skipped, and ties break as in the
 * scan (one order for both, {@link Best}), so the node and score are exactly the scan's.
 * `evaluated` counts the nodes examined and `feasible` those of them that passed every filter.
 */
export function decideBestFit(vm: VmRequest, state: Batch, scoring: Scoring, vmH: number, tree: FitTree): Decision {
  const needCpu = vm.resources.vcpus;
  const needMem = vm.resources.memoryMib;
  const needDisk = vm.resources.diskGib;
  const rest = applicableFilters(REST, vm);
  const m = tree.m;
  const [jc, jm] = FitTree.classes(needCpu, needMem);

  const best = new Best(vmH);
  let feasible = 0;
  let evaluated = 0;
  let sp = 0;
  const root = tree.bound(1, needCpu, needMem, needDisk, jc, jm);
  if (root !== -Infinity) {
    stackSlot[0] = 1;
    stackBound[0] = root;
    sp = 1;
  }
  // One loop over tree slots, written out like decide's: it runs a few hundred times per VM.
  while (sp > 0) {
    sp--;
    const t = stackSlot[sp]!;
    const floor = best.score - SLACK;
    if (stackBound[sp]! < floor) continue;
    if (t < m) {
      const l = 2 * t;
      const bl = tree.bound(l, needCpu, needMem, needDisk, jc, jm);
      const br = tree.bound(l + 1, needCpu, needMem, needDisk, jc, jm);
      // The weaker child goes on the stack first, so the stronger is searched next (left first on equal bounds).
      const leftFirst = bl >= br;
      const weak = leftFirst ? br : bl;
      const strong = leftFirst ? bl : br;
      if (weak >= floor) {
        stackSlot[sp] = leftFirst ? l + 1 : l;
        stackBound[sp++] = weak;
      }
      if (strong >= floor) {
        stackSlot[sp] = leftFirst ? l : l + 1;
        stackBound[sp++] = strong;
      }
      continue;
    }

    const node = state.node(tree.nodeAt[t - m]!);
    evaluated++;
    if (!passes(node, vm, state, rest)) continue;

    feasible++;
    const total = scoring.score(node, vm, state);
    if (total >= best.score) best.offer(node, total);
  }
  return best.decision(feasible, evaluated);
}
