import { defaultMaxCandidates, type PlacementOptions, type Strategy } from "@drover/placement";
import type { SchedulerConfig } from "../config.js";

export type PlacementOptionsFor = (strategy: Strategy, seed: string, nodeCount: number) => PlacementOptions;

/** The engine options every placement of this scheduler uses: configured scorers and candidate limit. */
export function placementOptionsFor(config: SchedulerConfig): PlacementOptionsFor {
  return (strategy, seed, nodeCount) => {
    const options: PlacementOptions = { strategy, seed, scorers: config.scorers };
    // 0 means the engine's default: spread samples a bounded number of nodes on
    // large clusters (Nomad-style), pack scans all (best fit needs to see them).
    const limit = config.placementCandidates > 0 ? config.placementCandidates : defaultMaxCandidates(strategy, nodeCount);
    if (limit !== undefined && limit < nodeCount) options.maxCandidates = limit;
    return options;
  };
}
