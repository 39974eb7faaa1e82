import { getScorer, SCORER_LIST, STRATEGY_WEIGHT, strategyScorer } from "./registry.js";
import { Scoring, type Scorer } from "./scorer.js";
import type { PlacementOptions, VmRequest } from "./types.js";

/**
 * Resolves the options once per batch into the scorings a VM can need: the strategy's scorer, the
 * named ones, and each scorer with a `defaultWeight` for the VMs it applies to. With the two such
 * scorers there are four, so per-VM lookup allocates nothing.
 */
export class ScorerPlan {
  /** Scorers with a default weight that options.scorers does not name: bit i of a VM's mask is auto[i]. */
  private readonly auto: readonly Scorer[];
  private readonly lists: Scoring[];

  /** `instead`: rank by this scorer in place of the strategy's own (pack's first-fit-decreasing run). */
  constructor(options: PlacementOptions, instead?: Scorer) {
    const strategy = strategyScorer(options.strategy);
    const base = new Map<string, number>([[strategy.name, STRATEGY_WEIGHT]]);
    const explicit = new Set<string>();
    for (const { name, weight } of options.scorers ?? []) {
      getScorer(name);
      if (!Number.isFinite(weight) || weight < 0) {
        throw new Error(`scorer "${name}": weight must be a finite number >= 0, got ${weight}`);
      }
      base.set(name, weight);
      explicit.add(name);
    }
    if (instead !== undefined) {
      base.set(strategy.name, 0);
      base.set(instead.name, STRATEGY_WEIGHT);
      explicit.add(strategy.name).add(instead.name);
    }
    this.auto = SCORER_LIST.filter((s) => s.defaultWeight !== undefined && !explicit.has(s.name));
    this.lists = [];
    for (let mask = 0; mask < 1 << this.auto.length; mask++) {
      const m = new Map(base);
      this.auto.forEach((s, i) => {
        if (mask & (1 << i)) m.set(s.name, s.defaultWeight!);
      });
      this.lists.push(new Scoring([...m].filter(([, w]) => w > 0).map(([name, weight]) => ({ scorer: getScorer(name), weight }))));
    }
  }

  /** The scoring of a VM; weight-0 scorers are dropped. */
  forVm(vm: VmRequest): Scoring {
    let mask = 0;
    for (let i = 0; i < this.auto.length; i++) {
      const s = this.auto[i]!;
      if (s.applies === undefined || s.applies(vm)) mask |= 1 << i;
    }
    return this.lists[mask]!;
  }
}

/** Plans by caller scorers array (the scheduler passes the same one every time), then by strategy and `instead`. */
const plans = new WeakMap<object, Map<string, ScorerPlan>>();
/** The key of callers without extra scorers (the common case). */
const NO_SCORERS = {};

/** The plan for these options, built once per scorers array, strategy and `instead` rather than per call. */
export function scorerPlan(options: PlacementOptions, instead?: Scorer): ScorerPlan {
  const key = options.scorers ?? NO_SCORERS;
  let byStrategy = plans.get(key);
  if (!byStrategy) {
    byStrategy = new Map<string, ScorerPlan>();
    plans.set(key, byStrategy);
  }
  const id = instead === undefined ? options.strategy : `${options.strategy}/${instead.name}`;
  let plan = byStrategy.get(id);
  if (!plan) {
    plan = new ScorerPlan(options, instead);
    byStrategy.set(id, plan);
  }
  return plan;
}
