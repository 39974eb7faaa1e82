import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Best } from "./decide.js";
import { vmHash } from "./seed.js";
import { makeWorking } from "./testing.js";

describe("Best (the ranking the scan and the best-fit search share)", () => {
  it("keeps the same node whatever order the nodes are offered in, ties and equal hashes included", () => {
    fc.assert(
      fc.property(
        // Few scores and names, so equal scores are common and equal names stand for colliding tie-break hashes.
        fc.array(fc.tuple(fc.constantFrom("a", "b", "c", "d"), fc.constantFrom(0, 50, 75, 100)), { minLength: 1, maxLength: 12 }),
        fc.string({ maxLength: 3 }),
        fc.integer(),
        (offers, key, shuffleSeed) => {
          const nodes = offers.map(([name], i) => makeWorking(name, {}, i));
          const h = vmHash("seed", key);
          const run = (order: number[]) => {
            const best = new Best(h);
            for (const i of order) best.offer(nodes[i]!, offers[i]![1]);
            return best.decision(0, 0);
          };
          const inOrder = run(nodes.map((_, i) => i));
          const shuffled = run(shuffle(nodes.length, shuffleSeed));
          expect(shuffled.node).toBe(inOrder.node);
          expect(shuffled.score).toBe(Math.max(...offers.map(([, s]) => s)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("breaks equal scores and equal hashes by the lower input index", () => {
    const [x, y] = [makeWorking("same", {}, 7), makeWorking("same", {}, 3)];
    const best = new Best(vmHash("s", "v"));
    best.offer(x, 60);
    best.offer(y, 60);
    expect(best.node).toBe(y);
  });

  it("decides nothing, with score 0, when offered no node", () => {
    expect(new Best(1).decision(0, 5)).toEqual({ node: null, score: 0, feasible: 0, evaluated: 5 });
  });
});

/** A permutation of 0..n-1 from a seed (Fisher–Yates with an LCG). */
function shuffle(n: number, seed: number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
