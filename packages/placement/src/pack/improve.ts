import type { PackModel } from "./model.js";

/** Fit checks the pass may spend (~10 ms): it stops there, keeping what it already won. */
const IMPROVE_BUDGET = 3_000_000;
/** Nodes tried per round, least loaded first: emptying a fuller one rarely works. */
const TARGETS_PER_ROUND = 8;

/**
 * Local search after a pack batch: try to empty the least loaded of the nodes the batch opened by
 * moving each of its VMs into another node in use (best fit), or, when none has room, by swapping
 * it with a VM of such a node that can itself move to a third one. A node that cannot be emptied
 * completely is left exactly as it was, so every success closes one node and nothing else gets
 * worse. Deterministic: nodes and VMs are visited in a fixed order, and the budget counts fit
 * checks, not time. `model` must hold the batch's placements (`nodeOf[v]`, -1 for none); both are
 * updated in place. Returns how many nodes it emptied.
 */
export function emptyOpenedNodes(model: PackModel, needs: Float64Array, nodeOf: Int32Array, budget = IMPROVE_BUDGET): number {
  const members = new Map<number, number[]>();
  for (let v = 0; v < nodeOf.length; v++) {
    const h = nodeOf[v]!;
    if (h < 0) continue;
    let m = members.get(h);
    if (m === undefined) members.set(h, (m = []));
    m.push(v);
  }
  // Nodes VMs may move to: READY and already holding something (moving onto an empty one gains nothing).
  const inUse: number[] = [];
  for (let h = 0; h < model.n; h++) if (model.ready[h] === 1 && (model.emptyBefore[h] === 0 || members.has(h))) inUse.push(h);
  const open = (h: number) => model.emptyBefore[h] === 0 || (members.get(h)?.length ?? 0) > 0;

  const moves: [v: number, from: number, to: number][] = [];
  const move = (v: number, from: number, to: number) => {
    const src = members.get(from)!;
    src.splice(src.indexOf(v), 1);
    let dst = members.get(to);
    if (dst === undefined) members.set(to, (dst = []));
    dst.push(v);
    model.add(from, needs, v, -1);
    model.add(to, needs, v, 1);
    nodeOf[v] = to;
    moves.push([v, from, to]);
  };

  /** Best fit for v among the open nodes other than `a` and `b`, or -1. */
  const destination = (v: number, a: number, b: number) => {
    let best = -1;
    let bestLoad = -1;
    for (const h of inUse) {
      if (h === a || h === b || !open(h)) continue;
      budget--;
      if (!model.fits(h, needs, v)) continue;
      const l = model.load(h);
      if (l > bestLoad) {
        best = h;
        bestLoad = l;
      }
    }
    return best;
  };

  /** Moves v off node t through a swap: v replaces some u on node h, u goes to a third node. */
  const swapOut = (v: number, t: number) => {
    for (const h of inUse) {
      if (h === t || !open(h)) continue;
      for (const u of members.get(h) ?? []) {
        if (budget-- <= 0) return false;
        if (!model.fitsWithout(h, needs, v, u)) continue;
        const g = destination(u, t, h);
        if (g < 0) continue;
        move(u, h, g);
        move(v, t, h);
        return true;
      }
    }
    return false;
  };

  const tryEmpty = (t: number) => {
    const start = moves.length;
    const vs = [...members.get(t)!].sort((a, b) => model.size(needs, b) - model.size(needs, a) || a - b);
    for (const v of vs) {
      const h = destination(v, t, t);
      if (h >= 0) move(v, t, h);
      else if (!swapOut(v, t) || budget <= 0) {
        // Undo this attempt: the node stays as it was.
        while (moves.length > start) {
          const [u, from, to] = moves.pop()!;
          move(u, to, from);
          moves.pop();
        }
        return false;
      }
    }
    return true;
  };

  let emptied = 0;
  for (;;) {
    const targets = [...members.keys()]
      .filter((h) => model.emptyBefore[h] === 1 && members.get(h)!.length > 0)
      .sort((a, b) => model.load(a) - model.load(b) || a - b)
      .slice(0, TARGETS_PER_ROUND);
    let progress = false;
    for (const t of targets) {
      if (budget <= 0) return emptied;
      if (tryEmpty(t)) {
        emptied++;
        progress = true;
        break;
      }
    }
    if (!progress) return emptied;
  }
}
