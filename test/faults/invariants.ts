// What must hold after any fault (issue 11), checked against real state: the
// database, each agent's libvirt domains, and the JetStream stream.
import { status, type ServiceError } from "@grpc/grpc-js";
import { expect } from "vitest";
import { followEvents, type ReceivedEvent } from "@drover/events";
import type { Sql } from "@drover/store";
import { claimLedger, outboxEvents } from "@drover/store/testing";
import { listDomains } from "../support/agent-client.js";
import { waitFor } from "../support/wait.js";

/** Every node's claims equal the sum of its claimed VM rows, and stay within allocatable. */
export async function expectClaimsMatchVms(sql: Sql): Promise<void> {
  for (const row of await claimLedger(sql)) expect(row.allocated, `claims on ${row.node}`).toEqual(row.claimed);
  const over = await sql<{ name: string }[]>`
    SELECT name FROM nodes
    WHERE alloc_vcpus > greatest(0, floor(vcpus * cpu_ratio) - reserved_vcpus)
       OR alloc_memory_mib > greatest(0, floor(memory_mib * memory_ratio) - reserved_memory_mib)
       OR alloc_disk_gib > greatest(0, floor(disk_gib * disk_ratio) - reserved_disk_gib)`;
  expect(over.map((n) => n.name), "nodes claimed past allocatable").toEqual([]);
}

/** Where each VM's domain is, across the agents; fails on a VM with two domains. */
export async function domainsByVm(agents: { name: string; address: string }[]): Promise<Map<string, string>> {
  const where = new Map<string, string>();
  const twice: string[] = [];
  for (const a of agents) {
    for (const d of await listDomains(a.address)) {
      if (where.has(d.vmId)) twice.push(`${d.vmId} on ${where.get(d.vmId)} and ${a.name}`);
      where.set(d.vmId, a.name);
    }
  }
  expect(twice, "VMs with two domains").toEqual([]);
  return where;
}

/**
 * Every VM ends RUNNING with its domain on its node, or DELETED, or in a state
 * that says why (FAILED, LOST with a reason); no domain runs for a VM that is
 * not RUNNING on that node. `settled` waits for work in flight to finish.
 */
export async function expectVmsSettled(sql: Sql, agents: { name: string; address: string }[], timeoutMs = 60_000): Promise<void> {
  let unsettled = "";
  await waitFor(
    "every VM RUNNING, DELETED, or FAILED/LOST with a reason",
    async () => {
      const rows = await sql<{ state: string; n: number; lease: Date | null }[]>`
        SELECT state, count(*)::int AS n, max(lease_until) AS lease FROM vms
        WHERE state IN ('PENDING', 'SCHEDULED', 'PROVISIONING', 'DELETING') GROUP BY state`;
      unsettled = rows.map((r) => `${r.n} ${r.state}${r.lease ? ` (lease until ${r.lease.toISOString()})` : ""}`).join(", ");
      return rows.length === 0 ? true : undefined;
    },
    timeoutMs,
    250,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; still ${unsettled} at ${new Date().toISOString()}`, { cause: err });
  });
  const vms = await sql<{ id: string; state: string; node: string | null; reason: string }[]>`SELECT id, state, node, reason FROM vms`;
  const unexplained = vms.filter((v) => (v.state === "FAILED" || v.state === "LOST") && !v.reason);
  expect(unexplained.map((v) => `${v.id} ${v.state}`), "VMs FAILED/LOST without a reason").toEqual([]);
  const where = await domainsByVm(agents);
  const agentNames = new Set(agents.map((a) => a.name));
  const runningWithoutDomain = vms.filter((v) => v.state === "RUNNING" && v.node && agentNames.has(v.node) && where.get(v.id) !== v.node);
  expect(runningWithoutDomain.map((v) => `${v.id} on ${v.node}, domain on ${where.get(v.id) ?? "none"}`), "RUNNING VMs without their domain").toEqual([]);
  const byId = new Map(vms.map((v) => [v.id, v]));
  const hasDomain = (id: string, node: string) => ["RUNNING", "STOPPED", "STOPPING", "PAUSED", "CRASHED"].includes(byId.get(id)?.state ?? "") && byId.get(id)?.node === node;
  const strays = [...where].filter(([id, node]) => !hasDomain(id, node));
  // Stray domains are destroyed on the agents' next heartbeats: wait for that rather than fail at once.
  if (strays.length > 0) {
    // Each with its VM row as read, to tell a stray (VM deleted, failed, elsewhere) from a row behind its domain.
    const described = strays.map(([id, n]) => `${id} on ${n} (VM ${byId.get(id)?.state ?? "unknown"} on ${byId.get(id)?.node ?? "none"}: ${byId.get(id)?.reason ?? ""})`);
    await waitFor(
      `stray domains destroyed (${strays.length}: ${described.slice(0, 5).join(", ")}${strays.length > 5 ? ", …" : ""})`,
      async () => {
        const now = await domainsByVm(agents);
        return strays.every(([id, n]) => now.get(id) !== n) ? true : undefined;
      },
      15_000,
    );
  }
}

/**
 * Every event in the outbox reached the private NATS's stream exactly once (JetStream drops a
 * re-sent one by its Nats-Msg-Id), and nothing else is there. Waits for the relay to catch up.
 */
export async function expectEventsDeliveredOnce(sql: Sql, natsUrl: string, timeoutMs = 30_000): Promise<ReceivedEvent[]> {
  await waitFor(
    "the relay published the whole outbox",
    async () => {
      const [row] = await sql<{ pending: number }[]>`
        SELECT count(*)::int AS pending FROM outbox WHERE seq IS NULL OR seq > (SELECT seq FROM outbox_published)`;
      return row!.pending === 0 ? true : undefined;
    },
    timeoutMs,
    200,
  );
  const outbox = (await outboxEvents(sql)).map((e) => e.seq!).sort((a, b) => a - b);
  const received: ReceivedEvent[] = [];
  const sub = await followEvents(natsUrl, (e) => received.push(e), { since: new Date(0) });
  try {
    await waitFor(`all ${outbox.length} events read back from JetStream`, async () => (received.length >= outbox.length ? true : undefined), timeoutMs, 200);
    // A duplicate would arrive with the rest: a moment more to see one.
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    await sub.stop();
  }
  const seqs = received.map((e) => Number(e.data.id));
  const dupes = seqs.filter((s, i) => seqs.indexOf(s) !== i);
  expect(dupes, "events delivered twice").toEqual([]);
  expect([...seqs].sort((a, b) => a - b)).toEqual(outbox);
  return received;
}

/** Statuses a request may end with under a fault: each says what happened; INTERNAL and UNKNOWN never. */
const PRECISE = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED, status.FAILED_PRECONDITION]);

/** The outcome of a request, with its rejection handled at once (a test collects many in flight). */
export function settle<T>(p: Promise<T>): Promise<PromiseSettledResult<T>> {
  return p.then(
    (value) => ({ status: "fulfilled", value }),
    (reason: unknown) => ({ status: "rejected", reason }),
  );
}

/**
 * Every request got VMs or a precise status with a message. `log` is the scheduler's: an INTERNAL
 * answer names an id, and the line the scheduler logged with it (the cause) goes into the failure.
 */
export function expectPreciseOutcomes<T extends { vms: unknown[] }>(outcomes: PromiseSettledResult<T>[], log: readonly string[] = []): void {
  const vague = outcomes.flatMap((o) => {
    if (o.status === "fulfilled") return o.value.vms.length > 0 ? [] : ["fulfilled with no VMs"];
    const err = o.reason as ServiceError;
    if (PRECISE.has(err.code) && err.details) return [];
    const id = /internal error, id (\w+)/.exec(err.details ?? "")?.[1];
    const logged = id ? log.find((line) => line.includes(id)) : undefined;
    return [`${err.code} ${err.details}${logged ? ` (logged: ${logged})` : ""}`];
  });
  expect(vague, "requests without VMs or a precise status").toEqual([]);
}

/**
 * No VM was placed twice and no request half-committed: a VM id listed by one request at most (keyed
 * requests list theirs, migration 036), and each request has exactly the VM rows it counts (a VM row
 * has one node and names its request; no retention runs in these tests, so nothing was purged).
 */
export async function expectNoVmPlacedTwice(sql: Sql): Promise<void> {
  const shared = await sql<{ id: string }[]>`
    SELECT vm_id AS id FROM create_requests, unnest(vm_ids) AS vm_id GROUP BY vm_id HAVING count(*) > 1`;
  expect(shared).toEqual([]);
  const uneven = await sql<{ id: string; rows: number; counted: number }[]>`
    SELECT r.id, (SELECT count(*)::int FROM vms v WHERE v.request_id = r.id) AS rows, coalesce(r.vms_left, cardinality(r.vm_ids)) AS counted
    FROM create_requests r`;
  expect(uneven.filter((r) => r.rows !== r.counted), "requests whose VM rows are not the VMs they counted").toEqual([]);
}

/** All of the above, after a fault. */
export async function expectInvariants(sql: Sql, agents: { name: string; address: string }[], natsUrl: string): Promise<ReceivedEvent[]> {
  await expectVmsSettled(sql, agents);
  await expectClaimsMatchVms(sql);
  await expectNoVmPlacedTwice(sql);
  return expectEventsDeliveredOnce(sql, natsUrl);
}
