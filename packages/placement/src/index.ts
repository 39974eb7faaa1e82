// Public API of @drover/placement: a pure placement engine (no I/O, no clock, no randomness).
export type * from "./types.js";
export { placeBatch, placeBatchInSteps } from "./engine.js";
export { NodeList } from "./node-list.js";
export { defaultMaxCandidates } from "./candidates.js";
export { allocatable, allocatableOf, free } from "./resources.js";
export { parseLabelExpression, matchesLabel, formatLabelExpression } from "./labels.js";
export { formatReasons } from "./explain.js";
export type { Filter, Rejection, ReasonSpec } from "./filter.js";
export type { Scorer } from "./scorer.js";
export { WorkingNode, type BatchState } from "./working.js";
export { FILTERS, FILTER_NAMES, REASONS, REASON_ORDER, SCORERS, SCORER_NAMES, STRATEGY_WEIGHT, getScorer } from "./registry.js";
export { LABEL_PREFERENCE_WEIGHT } from "./scorers/label-preference.js";
export { SOFT_ANTI_AFFINITY_WEIGHT } from "./scorers/soft-anti-affinity.js";
export { SPREAD_IMBALANCE_PENALTY } from "./scorers/spread.js";
