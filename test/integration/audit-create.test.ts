// CreateVms's audit event (drover.audit.create_vms) is committed by the statement that commits
// the VMs, alone or batched with other requests: exactly one event per call, in the VMs'
// transaction (the event's time is the transaction's now(), the VMs' created_at). Calls that
// commit nothing through that statement (dry runs, keyed creates, refusals) are audited by the
// guard after the call, once each.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { startSecureCluster, type SecureCluster } from "../support/secure-cluster.js";
import { rejects, vmSpec } from "../support/requests.js";

interface AuditRow {
  result: string;
  time: Date;
}

describe("CreateVms audit events", () => {
  let cluster: SecureCluster;
  beforeAll(async () => {
    cluster = await startSecureCluster(["h1"], {}, { vcpus: 256, memoryMib: 262_144 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  const audits = () =>
    cluster.scheduler.sql<AuditRow[]>`
      SELECT payload->'audit'->>'result' AS result, (payload->>'time')::timestamptz AS time
      FROM outbox WHERE subject = 'drover.audit.create_vms' ORDER BY id`;
  const createdAt = async (ids: string[]) =>
    (await cluster.scheduler.sql<{ created_at: Date }[]>`SELECT created_at FROM vms WHERE id = ANY(${ids}::uuid[])`).map((r) => r.created_at.getTime());

  it("a create's event commits with its VMs, once", async () => {
    const before = (await audits()).length;
    const res = await cluster.api.createVms({ template: vmSpec("alone", 1, 256), count: 2 });
    expect(res.vms).toHaveLength(2);
    const added = (await audits()).slice(before);
    expect(added.map((a) => a.result)).toEqual(["OK"]);
    expect(await createdAt(res.vms.map((v) => v.id))).toEqual([added[0]!.time.getTime(), added[0]!.time.getTime()]);
  });

  it("concurrent creates that commit together each get one event, in their statement", async () => {
    const before = (await audits()).length;
    const all = await Promise.all(Array.from({ length: 40 }, (_, i) => cluster.api.createVms({ template: vmSpec(`batch-${i}`, 1, 256), count: 1 })));
    const added = (await audits()).slice(before);
    expect(added).toHaveLength(40);
    expect(added.every((a) => a.result === "OK")).toBe(true);
    // Every committing statement's VMs and events: as many events at a time as VMs created then.
    const count = (xs: number[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<number, number>());
    const vmTimes = await createdAt(all.map((r) => r.vms[0]!.id));
    expect(count(added.map((a) => a.time.getTime()))).toEqual(count(vmTimes));
  });

  it("a dry run, a keyed create and a refused create are each audited once, after the call", async () => {
    const before = (await audits()).length;
    await cluster.api.createVms({ template: vmSpec("dry", 1, 256), count: 1, dryRun: true });
    const keyed = await cluster.api.createVms({ template: vmSpec("keyed", 1, 256), count: 1, idempotencyKey: "audit-key-1" });
    const refused = await rejects(cluster.api.createVms({ template: vmSpec("refused", 0, 256), count: 1 }));
    expect(refused.code).toBe(status.INVALID_ARGUMENT);
    const added = (await audits()).slice(before);
    expect(added.map((a) => a.result)).toEqual(["OK", "OK", "INVALID_ARGUMENT"]);
    // The keyed create's event is written after its transaction, not in it.
    expect((await createdAt([keyed.vms[0]!.id]))[0]).not.toBe(added[1]!.time.getTime());
  });
});
