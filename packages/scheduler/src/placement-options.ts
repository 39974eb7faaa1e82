import type { PlacementOptions, Strategy } from "@drover/placement";
import type { SchedulerConfig } from "./config.js";

export type PlacementOptionsFor = (strategy: Strategy, seed: string, nodeCount: number) => PlacementOptions;

/** The engine options every placement of this scheduler uses: configured scorers and candidate limit. */
export function placementOptionsFor(config: SchedulerConfig): PlacementOptionsFor {
  return (strategy, seed, nodeCount) => {
    const options: PlacementOptions = { strategy, seed, scorers: config.scorers };
    const limit = config.placementCandidates > 0 ? config.placementCandidates : undefined;
    if (limit !== undefined && limit < nodeCount) options.maxCandidates = limit;
    return options;
  };
}
