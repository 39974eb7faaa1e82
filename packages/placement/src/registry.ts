// The one place filters and scorers are registered. Adding one is a line here; everything else
// (reason type, explanation order and words, scorer lookup, default weights) is derived.
import type { Filter, ReasonSpec } from "./filter.js";
import { affinityFilter } from "./filters/affinity.js";
import { antiAffinityFilter } from "./filters/anti-affinity.js";
import { cpuFilter } from "./filters/cpu.js";
import { diskFilter } from "./filters/disk.js";
import { labelFilter } from "./filters/labels.js";
import { memoryFilter } from "./filters/memory.js";
import { nodeStateFilter } from "./filters/node-state.js";
import type { Scorer } from "./scorer.js";
import { firstFitScorer } from "./scorers/first-fit.js";
import { labelPreferenceScorer } from "./scorers/label-preference.js";
import { packScorer } from "./scorers/pack.js";
import { softAntiAffinityScorer } from "./scorers/soft-anti-affinity.js";
import { spreadScorer } from "./scorers/spread.js";
import type { Strategy } from "./types.js";

/**
 * Filters in the order they run. A node is counted under the first filter that rejects it, so
 * the order is part of the explanation: state first (a DOWN node is "down", not "full"), then
 * the cheap resource checks, then labels and groups.
 */
const REGISTERED_FILTERS = [
  nodeStateFilter,
  cpuFilter,
  memoryFilter,
  diskFilter,
  labelFilter,
  antiAffinityFilter,
  affinityFilter,
] as const satisfies readonly Filter[];

/** Scorers by registry name (options.scorers, DROVER_SCORERS); a strategy's own is listed in STRATEGY_SCORERS too. */
export const SCORER_LIST: readonly Scorer[] = [spreadScorer, packScorer, labelPreferenceScorer, softAntiAffinityScorer, firstFitScorer];

/** The scorer each placement strategy ranks by (weight {@link STRATEGY_WEIGHT}); a missing strategy does not compile. */
export const STRATEGY_SCORERS = { spread: spreadScorer, pack: packScorer } as const satisfies Record<Strategy, Scorer>;

/** The strategy's own scorer always runs with this weight unless `options.scorers` names it. */
export const STRATEGY_WEIGHT = 1;

type ReasonsOf<F> = F extends { readonly reasons: infer S } ? keyof S & string : never;

/** Why a node could not take a VM: every reason some registered filter declares. */
export type RejectReason = ReasonsOf<(typeof REGISTERED_FILTERS)[number]>;

/** A registered filter as the engine runs it: it rejects with some of the registered reasons. */
export type RegisteredFilter = Omit<Filter<RejectReason>, "reasons"> & { readonly reasons: Partial<Filter<RejectReason>["reasons"]> };

export const FILTERS: readonly RegisteredFilter[] = REGISTERED_FILTERS;

/**
 * Each reason's words, in filter order then each filter's own order: the order explanations list
 * reasons that reject as many nodes. Built from the filters, so no reason can be left out.
 */
export const REASONS: Readonly<Record<RejectReason, ReasonSpec>> = reasonTable(FILTERS);
export const REASON_ORDER: readonly RejectReason[] = Object.freeze(Object.keys(REASONS) as RejectReason[]);

/** The reasons of these filters with their words, in order; throws when two filters declare one reason. */
export function reasonTable(filters: readonly RegisteredFilter[]): Record<RejectReason, ReasonSpec> {
  const table: Partial<Record<RejectReason, ReasonSpec>> = {};
  const owner = new Map<string, string>();
  for (const f of filters) {
    for (const [reason, spec] of Object.entries(f.reasons) as [RejectReason, ReasonSpec][]) {
      // Two filters sharing a reason would make its count ambiguous.
      const other = owner.get(reason);
      if (other !== undefined) throw new Error(`reason "${reason}" is declared by both the ${other} and the ${f.name} filter`);
      owner.set(reason, f.name);
      table[reason] = spec;
    }
  }
  return Object.freeze(table as Record<RejectReason, ReasonSpec>);
}

export const SCORERS: Readonly<Record<string, Scorer>> = Object.freeze(Object.fromEntries(SCORER_LIST.map((s) => [s.name, s])));

export const FILTER_NAMES: readonly string[] = FILTERS.map((f) => f.name);
export const SCORER_NAMES: readonly string[] = SCORER_LIST.map((s) => s.name);

export function getScorer(name: string): Scorer {
  const s = Object.hasOwn(SCORERS, name) ? SCORERS[name] : undefined;
  if (!s) throw new Error(`unknown scorer "${name}" (known: ${SCORER_NAMES.join(", ")})`);
  return s;
}

export function strategyScorer(strategy: Strategy): Scorer {
  if (!Object.hasOwn(STRATEGY_SCORERS, strategy)) {
    throw new Error(`unknown placement strategy "${String(strategy)}" (known: ${Object.keys(STRATEGY_SCORERS).join(", ")})`);
  }
  return STRATEGY_SCORERS[strategy];
}
