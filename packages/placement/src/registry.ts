import type { Filter } from "./filter.js";
import { affinityFilter } from "./filters/affinity.js";
import { antiAffinityFilter } from "./filters/anti-affinity.js";
import { cpuFilter } from "./filters/cpu.js";
import { diskFilter } from "./filters/disk.js";
import { labelFilter } from "./filters/labels.js";
import { memoryFilter } from "./filters/memory.js";
import { nodeStateFilter } from "./filters/node-state.js";
import type { Scorer } from "./scorer.js";
import { labelPreferenceScorer } from "./scorers/label-preference.js";
import { packScorer } from "./scorers/pack.js";
import { softAntiAffinityScorer } from "./scorers/soft-anti-affinity.js";
import { firstFitScorer } from "./scorers/first-fit.js";
import { spreadScorer } from "./scorers/spread.js";
import type { PlacementOptions, Strategy, VmRequest } from "./types.js";

/**
 * Filters in the order they run. A node is counted under the first filter that rejects it, so
 * the order is part of the explanation: state first (a DOWN node is "down", not "full"), then
 * the cheap resource checks, then labels and groups.
 */
export const FILTERS: readonly Filter[] = [
  nodeStateFilter,
  cpuFilter,
  memoryFilter,
  diskFilter,
  labelFilter,
  antiAffinityFilter,
  affinityFilter,
];

export const SCORERS: Readonly<Record<string, Scorer>> = Object.freeze({
  [spreadScorer.name]: spreadScorer,
  [packScorer.name]: packScorer,
  [labelPreferenceScorer.name]: labelPreferenceScorer,
  [softAntiAffinityScorer.name]: softAntiAffinityScorer,
  [firstFitScorer.name]: firstFitScorer,
});

export const FILTER_NAMES: readonly string[] = FILTERS.map((f) => f.name);
export const SCORER_NAMES: readonly string[] = Object.keys(SCORERS);

/** The strategy's own scorer always runs with this weight unless `options.scorers` names it. */
export const STRATEGY_WEIGHT = 1;
/**
 * Weights of the scorers added automatically when a VM has preferences / a soft group.
 * At 2 they outweigh the strategy (weight 1): a preference the node matches, or one fewer
 * soft-group member on it, beats any spread/pack difference short of full versus empty.
 * Naming them in `options.scorers` overrides the weight (0 turns them off).
 */
export const LABEL_PREFERENCE_WEIGHT = 2;
export const SOFT_ANTI_AFFINITY_WEIGHT = 2;

export interface WeightedScorer {
  readonly scorer: Scorer;
  readonly weight: number;
}

export function getScorer(name: string): Scorer {
  const s = Object.hasOwn(SCORERS, name) ? SCORERS[name] : undefined;
  if (!s) throw new Error(`unknown scorer "${name}" (known: ${SCORER_NAMES.join(", ")})`);
  return s;
}

function strategyScorer(strategy: Strategy): Scorer {
  if (strategy !== "spread" && strategy !== "pack") {
    throw new Error(`unknown placement strategy "${String(strategy)}" (known: spread, pack)`);
  }
  return getScorer(strategy);
}

/**
 * Resolves the options once per batch into the scorer lists a VM can need. There are only four
 * (with/without preferences × with/without soft group), so per-VM lookup allocates nothing.
 */
export class ScorerPlan {
  private readonly lists: WeightedScorer[][];

  constructor(options: PlacementOptions) {
    const base = new Map<string, number>([[strategyScorer(options.strategy).name, STRATEGY_WEIGHT]]);
    const explicit = new Set<string>();
    for (const { name, weight } of options.scorers ?? []) {
      getScorer(name);
      if (!Number.isFinite(weight) || weight < 0) {
        throw new Error(`scorer "${name}": weight must be a finite number >= 0, got ${weight}`);
      }
      base.set(name, weight);
      explicit.add(name);
    }
    this.lists = [];
    for (let mask = 0; mask < 4; mask++) {
      const m = new Map(base);
      if (mask & 1 && !explicit.has(labelPreferenceScorer.name)) m.set(labelPreferenceScorer.name, LABEL_PREFERENCE_WEIGHT);
      if (mask & 2 && !explicit.has(softAntiAffinityScorer.name)) m.set(softAntiAffinityScorer.name, SOFT_ANTI_AFFINITY_WEIGHT);
      this.lists.push([...m].filter(([, w]) => w > 0).map(([name, weight]) => ({ scorer: getScorer(name), weight })));
    }
  }

  /** Scorers for a VM; weight-0 entries are dropped. */
  forVm(vm: VmRequest): readonly WeightedScorer[] {
    const prefs = vm.preferences.length > 0 ? 1 : 0;
    const soft = vm.softAntiAffinityGroup ? 2 : 0;
    return this.lists[prefs | soft]!;
  }
}

/** Scorer plans by strategy, for callers without extra scorers (the common case). */
const plainPlans = new Map<string, ScorerPlan>();
/** Scorer plans by the caller's scorers array (the scheduler passes the same one every time). */
const plansByScorers = new WeakMap<object, Map<string, ScorerPlan>>();

/** The plan for these options, built once per strategy and scorers array rather than per call. */
export function scorerPlan(options: PlacementOptions): ScorerPlan {
  let byStrategy = options.scorers ? plansByScorers.get(options.scorers) : plainPlans;
  if (!byStrategy) {
    byStrategy = new Map<string, ScorerPlan>();
    plansByScorers.set(options.scorers!, byStrategy);
  }
  let plan = byStrategy.get(options.strategy);
  if (!plan) {
    plan = new ScorerPlan(options);
    byStrategy.set(options.strategy, plan);
  }
  return plan;
}
