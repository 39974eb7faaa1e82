import { getScorer, type ScorerWeight } from "@drover/placement";

/** "label-preference:2,soft-anti-affinity:3" → scorer weights (weight 1 when left out); throws naming a bad entry. */
export function parseScorers(raw: string | undefined): ScorerWeight[] {
  if (!raw?.trim()) return [];
  return raw.split(",").map((entry) => {
    const parts = entry.split(":").map((p) => p.trim());
    const [name = "", weightText = "1"] = parts;
    if (parts.length > 2) throw new Error(`expected name:weight, got ${JSON.stringify(entry.trim())}`);
    getScorer(name); // throws: unknown scorer "x" (known: …)
    const weight = Number(weightText);
    if (weightText === "" || !Number.isFinite(weight) || weight < 0) {
      throw new Error(`weight of ${name} must be a number >= 0, got ${JSON.stringify(weightText)}`);
    }
    return { name, weight };
  });
}
