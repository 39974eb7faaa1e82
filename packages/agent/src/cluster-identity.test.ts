import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ClusterIdentity, ClusterMismatchError } from "./cluster-identity.js";

const A = "5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901";
const B = "9a3e1b44-77c2-4f0e-8d6b-1c2d3e4f5a6b";
const stateDir = () => mkdtempSync(join(tmpdir(), "drover-cluster-id-"));

describe("ClusterIdentity", () => {
  it("learns the id at the first registration, keeps it across restarts, and refuses another cluster", () => {
    const file = ClusterIdentity.inStateDir(join(stateDir(), "nested"));
    const first = new ClusterIdentity(file);
    expect(first.id).toBeUndefined();
    first.adopt(A.toUpperCase());
    expect(first.id).toBe(A);
    expect(readFileSync(file, "utf8")).toBe(`${A}\n`);
    expect(statSync(file).mode & 0o777).toBe(0o644);

    const restarted = new ClusterIdentity(file);
    expect(restarted.id).toBe(A);
    restarted.adopt(A); // the same scheduler again
    expect(() => restarted.adopt(B)).toThrow(ClusterMismatchError);
    expect(() => restarted.adopt(B)).toThrow(/belongs to cluster 5d0c3f0e.*serves cluster 9a3e1b44.*remove .*cluster-id/);
    expect(restarted.id).toBe(A);
  });

  it("takes a pinned id over the file, and refuses a scheduler answer that is no UUID", () => {
    const pinned = new ClusterIdentity(ClusterIdentity.inStateDir(stateDir()), B);
    expect(pinned.id).toBe(B);
    expect(() => pinned.adopt(A)).toThrow(ClusterMismatchError);
    const fresh = new ClusterIdentity(undefined);
    expect(() => fresh.adopt("")).toThrow(/must be a UUID/);
    expect(fresh.id).toBeUndefined();
  });
});
