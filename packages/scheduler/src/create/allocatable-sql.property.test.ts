// Binds the two definitions of allocatable: the engine's (placement's
// allocatable(), which the scheduler places and reports with) and the SQL of
// the store's conditional claim (claimUpdate, which claimResources and
// commitPlacements run). If they disagree, the engine places VMs that every
// claim then refuses (endless conflicts), or the claim lets a node take more
// than the engine thinks it has.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allocatable, type Resources } from "@drover/placement";
import { ClaimConflictError, claimResources, updateNodeAllocation, upsertNode, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";

/** Ratios where float rounding bites (1.1 × 10 = 11.000000000000002), plus arbitrary ones in the API's (0, 1000]. */
const ratio = fc.oneof(
  fc.constantFrom(0.1, 0.3, 0.7, 0.9, 1, 1.1, 1.2, 1.5, 2, 3.3, 4, 16),
  fc.double({ min: 0.01, max: 1000, noNaN: true, noDefaultInfinity: true }),
);
const fraction = fc.double({ min: 0, max: 1, noNaN: true });
/** A host and its allocation settings; reserved is at most the capacity, as UpdateNode allows. */
const host = fc
  .record({
    capacity: fc.record({
      vcpus: fc.integer({ min: 1, max: 512 }),
      memoryMib: fc.integer({ min: 1, max: 4 * 1024 * 1024 }),
      diskGib: fc.integer({ min: 0, max: 100_000 }),
    }),
    ratios: fc.record({ cpu: ratio, memory: ratio, disk: ratio }),
    share: fc.record({ vcpus: fraction, memoryMib: fraction, diskGib: fraction }),
  })
  .map(({ capacity, ratios, share }) => ({
    capacity,
    ratios,
    reserved: {
      vcpus: Math.floor(capacity.vcpus * share.vcpus),
      memoryMib: Math.floor(capacity.memoryMib * share.memoryMib),
      diskGib: Math.floor(capacity.diskGib * share.diskGib),
    },
  }));

const ROLLBACK = new Error("rollback");

describe("the claim SQL and the engine agree on allocatable", () => {
  let db: TestDatabase;
  let sql: Sql;
  let n = 0;

  beforeAll(async () => {
    db = await openTestDatabase({ max: 2 });
    sql = db.sql;
  });
  afterAll(async () => {
    await db?.close();
  });

  /** Whether the store's claim accepts `want` on the node (rolled back either way). */
  async function claims(node: string, want: Resources): Promise<boolean> {
    try {
      await sql.begin(async (tx) => {
        await claimResources(tx, [{ node, ...want }]);
        throw ROLLBACK;
      });
    } catch (err) {
      if (err === ROLLBACK) return true;
      if (err instanceof ClaimConflictError) return false;
      throw err;
    }
    throw new Error("unreachable");
  }

  it("accepts exactly the engine's allocatable and refuses one unit more of any resource", async () => {
    await fc.assert(
      fc.asyncProperty(host, async (h) => {
        const name = `n${n++}`;
        const registered = await sql.begin((tx) =>
          upsertNode(
            tx,
            { name, address: "127.0.0.1:1", ...h.capacity, labels: {} },
            EXACT_CAPACITY,
          ),
        );
        expect(registered.node.state).toBe("READY");
        const node = await updateNodeAllocation(sql, name, {
          cpuRatio: h.ratios.cpu,
          memoryRatio: h.ratios.memory,
          diskRatio: h.ratios.disk,
          reserved: h.reserved,
        });
        // The ratios survive the round trip exactly, so both sides multiply the same doubles.
        expect(node!.ratios).toEqual(h.ratios);
        const a = allocatable(node!);
        expect(await claims(name, a)).toBe(true);
        for (const r of ["vcpus", "memoryMib", "diskGib"] as const) {
          expect(await claims(name, { ...a, [r]: a[r] + 1 })).toBe(false);
        }
      }),
      { numRuns: 60 },
    );
  });
});
