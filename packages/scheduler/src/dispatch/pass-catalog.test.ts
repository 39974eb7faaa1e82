import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, getImage, getNetwork, insertImage, insertNetwork, migrate, type DispatchVm, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { PassCatalog } from "./pass-catalog.js";

describe("PassCatalog on real Postgres: a dispatch pass's catalog entries", () => {
  let db: { url: string; drop(): Promise<void> };
  let sql: Sql;
  /** Statements sent that read the catalog tables. */
  let catalogReads = 0;

  const vm = (spec: unknown): DispatchVm => ({ id: "", node: "a", spec, attempts: 1, groups: [], vcpus: 1, memoryMib: 1, diskGib: 0, nodeAddress: "", nodeState: "READY" });
  const image = (name: string) => ({ name, format: "qcow2" as const, sizeBytes: 1, sha256: "0".repeat(64), kernel: "", initrd: "", cmdline: "", kernelSha256: "", initrdSha256: "" });

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = connect(db.url, { debug: (q) => void (/\bFROM (images|networks)\b/.test(q) && catalogReads++) });
    await migrate(sql);
    for (const name of ["debian-12", "ubuntu-24.04"]) await insertImage(sql, image(name));
    await insertNetwork(sql, { name: "lan", description: "", type: "bridge" });
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it("reads the entries of 24 VMs in two statements and gives each what its own lookup would", async () => {
    const specs = Array.from({ length: 24 }, (_, i) => ({ name: `v${i}`, image: i % 2 ? "debian-12" : "ubuntu-24.04", network: "lan" }));
    catalogReads = 0;
    const catalog = new PassCatalog(sql, specs.map(vm));
    const got = await Promise.all(specs.map(async (s) => ({ image: await catalog.image(s.image), network: await catalog.network(s.network) })));
    expect(catalogReads).toBe(2);
    for (const [i, s] of specs.entries()) expect(got[i]).toEqual({ image: await getImage(sql, s.image), network: await getNetwork(sql, s.network) });
  });

  it("looks a name up alone when the pass has no entry for it, and reads nothing for VMs that name none", async () => {
    catalogReads = 0;
    const none = new PassCatalog(sql, [vm({ name: "bare" }), vm(null)]);
    expect(await none.image("debian-12")).toEqual(await getImage(sql, "debian-12"));
    expect(await none.network("gone")).toBeUndefined();
    // The two lookups alone and the test's own: the pass itself sent nothing.
    expect(catalogReads).toBe(3);
  });

  it("fails a VM's lookup when the pass's statement failed, and never unhandled", async () => {
    const broken = connect(db.url.replace(/\/[^/]*$/, "/drover_no_such_database"), { max: 1 });
    try {
      const catalog = new PassCatalog(broken, [vm({ name: "v", image: "debian-12" })]);
      await expect(catalog.image("debian-12")).rejects.toThrow();
    } finally {
      await broken.end();
    }
  });
});
