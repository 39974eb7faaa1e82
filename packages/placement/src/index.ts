// Public API of @drover/placement: a pure placement engine (no I/O, no clock, no randomness).
export type * from "./types.js";
export { placeBatch } from "./engine.js";
export { defaultMaxCandidates } from "./candidates.js";
export { allocatable, allocatableOf, free } from "./resources.js";
export { parseLabelExpression, matchesLabel, formatLabelExpression } from "./labels.js";
export { formatReasons, reasonDetail, type ExplainContext } from "./explain.js";
export type { Filter, Rejection } from "./filter.js";
export type { Scorer } from "./scorer.js";
export { WorkingNode, type BatchState } from "./working.js";
export {
  FILTERS,
  FILTER_NAMES,
  SCORERS,
  SCORER_NAMES,
  STRATEGY_WEIGHT,
  LABEL_PREFERENCE_WEIGHT,
  SOFT_ANTI_AFFINITY_WEIGHT,
  getScorer,
} from "./registry.js";
export { SPREAD_IMBALANCE_PENALTY } from "./scorers/spread.js";
