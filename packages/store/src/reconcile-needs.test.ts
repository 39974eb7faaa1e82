import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  handleVanishedDomains,
  reconcileDomainStates,
  reconcileNeeds,
  reconcileNeedsOfNodes,
  recordVmInterfaces,
  strayDomains,
  upsertNode,
  type DomainReportRow,
  type Sql,
  type Tx,
} from "./index.js";
import { openTestDatabase, type TestDatabase } from "./testing.js";

const RULES = { limit: 2, backoffMs: 1000, maxBackoffMs: 300_000, windowMs: 600_000 };
const GRACE_MS = 10_000;
const STATES = ["PENDING", "SCHEDULED", "PROVISIONING", "RUNNING", "STOPPING", "STOPPED", "PAUSED", "CRASHED", "LOST", "DELETING", "DELETED", "FAILED"];
const REPORTED = ["running", "shutoff", "paused", "crashed"] as const;

/** Runs `fn` in a transaction that is rolled back: each case starts from the same rows. */
async function rolledBack(sql: Sql, fn: (tx: Tx) => Promise<void>): Promise<void> {
  const undo = new Error("rolled back");
  await sql.begin(async (tx) => {
    await fn(tx);
    throw undo;
  }).catch((err: unknown) => {
    if (err !== undo) throw err;
  });
}

// reconcileNeeds stands for four write statements: a heartbeat's reconcile runs each only when it
// says so, so each of its answers must be what the write it stands for would find, in every case.
describe("reconcileNeeds on real Postgres: what each reconcile write would change", () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    const ratios = { cpuRatio: 1, memoryRatio: 1, diskRatio: 1, reservedVcpus: 0, reservedMemoryMib: 0, reservedDiskGib: 0 };
    for (const name of ["n1", "n2"]) await sql.begin((tx) => upsertNode(tx, { name, address: "127.0.0.1:1", vcpus: 4, memoryMib: 8192, diskGib: 10, labels: {} }, ratios));
  });
  afterAll(async () => {
    await db?.close();
  });

  const insertVm = async (tx: Tx, vm: { state: string; node?: string; policy?: string; generation?: number; updatedAgoMs?: number; reason?: string; interfaces?: unknown }) => {
    const id = randomUUID();
    const spec = vm.policy ? { restartPolicy: vm.policy } : {};
    await tx`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, state, report_generation, updated_at, reason, interfaces)
      VALUES (${id}, 'v', ${tx.json(spec)}, '{}', 1, 128, 0, ${vm.node ?? "n1"}, ${vm.state}, ${vm.generation ?? 1},
        now() - make_interval(secs => ${(vm.updatedAgoMs ?? 0) / 1000}), ${vm.reason ?? ""}, ${tx.json((vm.interfaces ?? []) as never)})`;
    return id;
  };
  const report = (domains: DomainReportRow[], reportedVmIds = domains.map((d) => d.vmId), interfaces: { vmId: string; interfaces: never[] }[] = []) => ({
    node: "n1",
    domains,
    interfaces,
    reportedVmIds,
  });

  it("says a domain state moves its VM exactly when reconcileDomainStates changes the row", async () => {
    let moved = 0;
    let cases = 0;
    for (const state of STATES)
      for (const reported of REPORTED)
        for (const policy of ["on-crash", "always", "never"])
          for (const generation of [1, 2]) {
            await rolledBack(sql, async (tx) => {
              const id = await insertVm(tx, { state, policy, generation: 2 });
              const domains = [{ vmId: id, state: reported, generation, reason: "" }];
              const needs = await reconcileNeeds(tx, report(domains), RULES, GRACE_MS);
              const changed = await reconcileDomainStates(tx, "n1", domains, RULES);
              expect({ state, reported, policy, generation, states: needs.states }).toEqual({ state, reported, policy, generation, states: changed.length > 0 });
              moved += changed.length;
              cases++;
            });
          }
    // Both answers occur: the table is no vacuous agreement.
    expect(moved).toBeGreaterThan(10);
    expect(moved).toBeLessThan(cases);
  });

  it("says the NICs changed exactly when recordVmInterfaces writes", async () => {
    const nic = { mac: "52:54:00:00:00:01", addresses: ["192.168.213.57/24"] };
    for (const [stored, node, state, sent] of [
      [[nic], "n1", "RUNNING", [nic]],
      [[], "n1", "RUNNING", [nic]],
      [[nic], "n1", "RUNNING", []],
      [[nic], "n2", "RUNNING", []],
      [[], "n1", "DELETING", [nic]],
      [[], "n1", "DELETED", [nic]],
    ] as const) {
      await rolledBack(sql, async (tx) => {
        const id = await insertVm(tx, { state, node, interfaces: stored });
        const interfaces = [{ vmId: id, interfaces: sent as unknown as never[] }];
        const needs = await reconcileNeeds(tx, report([], [id], interfaces), RULES, GRACE_MS);
        expect({ stored, node, state, sent, interfaces: needs.interfaces }).toEqual({ stored, node, state, sent, interfaces: (await recordVmInterfaces(tx, "n1", interfaces)) > 0 });
      });
    }
  });

  it("counts the vanished VMs as handleVanishedDomains acts on them and waits for them", async () => {
    const stoppedWhy = "domain vanished from node n1 (destroyed and undefined outside Drover, or its host or agent lost it); StartVm re-creates it from its spec";
    let acted = 0;
    for (const state of STATES)
      for (const updatedAgoMs of [0, GRACE_MS * 2])
        for (const reason of ["", stoppedWhy]) {
          await rolledBack(sql, async (tx) => {
            const kept = await insertVm(tx, { state: "RUNNING", updatedAgoMs: GRACE_MS * 2 });
            await insertVm(tx, { state, updatedAgoMs, reason, policy: "on-crash" });
            const domains = [{ vmId: kept, state: "running" as const, generation: 1, reason: "" }];
            const needs = await reconcileNeeds(tx, report(domains), RULES, GRACE_MS);
            const done = await handleVanishedDomains(tx, "n1", [kept], GRACE_MS);
            const changed = done.recreated.length + done.stopped.length + done.failed.length;
            expect({ state, updatedAgoMs, reason, due: needs.vanishedDue, waiting: needs.vanishedWaiting }).toEqual({ state, updatedAgoMs, reason, due: changed, waiting: done.waiting });
            acted += changed;
          });
        }
    expect(acted).toBeGreaterThan(0);
  });

  it("lists the same strays as strayDomains", async () => {
    for (const state of STATES)
      for (const node of ["n1", "n2"]) {
        await rolledBack(sql, async (tx) => {
          const id = await insertVm(tx, { state, node });
          const unknown = randomUUID();
          const needs = await reconcileNeeds(tx, report([], [id, unknown]), RULES, GRACE_MS);
          expect({ state, node, strays: needs.strays }).toEqual({ state, node, strays: await strayDomains(tx, "n1", [id, unknown]) });
        });
      }
  });

  // The heartbeat full checks of many nodes go in one reconcileNeedsOfNodes: each node's answer must
  // be the one its own read gives, whatever the other nodes in the statement report.
  it("answers each node of a many-node read as its own read does", async () => {
    const nic = { mac: "52:54:00:00:00:01", addresses: ["192.168.213.57/24"] };
    const vm = fc.record({
      state: fc.constantFrom(...STATES),
      node: fc.constantFrom("n1", "n2"),
      updatedAgoMs: fc.constantFrom(0, GRACE_MS * 2),
      policy: fc.constantFrom("on-crash", "always", "never"),
      interfaces: fc.constantFrom([], [nic]),
    });
    // What a node reports of a VM (by index into the VMs): a domain state, its NICs, or nothing.
    const seen = fc.record({ vm: fc.nat(7), state: fc.constantFrom(...REPORTED), generation: fc.constantFrom(0, 1, 2), nics: fc.constantFrom(undefined, [], [nic]) });
    await fc.assert(
      fc.asyncProperty(fc.array(vm, { minLength: 1, maxLength: 8 }), fc.array(seen, { maxLength: 6 }), fc.array(seen, { maxLength: 6 }), fc.boolean(), async (vms, seen1, seen2, unknown) => {
        await rolledBack(sql, async (tx) => {
          const ids: string[] = [];
          for (const v of vms) ids.push(await insertVm(tx, { ...v, generation: 1 }));
          const reportOf = (node: string, seen: { vm: number; state: (typeof REPORTED)[number]; generation: number; nics: readonly unknown[] | undefined }[]) => {
            const picked = [...new Map(seen.map((s) => [ids[s.vm % ids.length]!, s])).entries()];
            const domains = picked.map(([vmId, s]) => ({ vmId, state: s.state, generation: s.generation, reason: "" }));
            const interfaces = picked.flatMap(([vmId, s]) => (s.nics ? [{ vmId, interfaces: s.nics as never[] }] : []));
            return { node, domains, interfaces, reportedVmIds: [...picked.map(([id]) => id), ...(unknown ? [randomUUID()] : [])] };
          };
          const reports = [reportOf("n1", seen1), reportOf("n2", seen2)];
          const together = await reconcileNeedsOfNodes(tx, reports, RULES, GRACE_MS);
          for (const r of reports) expect({ node: r.node, needs: together.get(r.node) }).toEqual({ node: r.node, needs: await reconcileNeeds(tx, r, RULES, GRACE_MS) });
        });
      }),
      { numRuns: 60 },
    );
  });
});
