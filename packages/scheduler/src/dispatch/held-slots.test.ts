// Single creates whose VMs commit PROVISIONING under dispatcher slots held before the commit, on
// real Postgres, with a real grpc-js AgentService stand-in (it answers EnsureDomain and counts the
// calls). The dispatcher's loop is never ticked here: whatever reaches the agent came through the
// held slots, not through a takeDueProvisioning pass.
import { Server, ServerCredentials, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AgentServiceService, CreateVmsRequest, PlacementPolicy, PlacementStrategy, DomainState, DomainStatus, VmSpec, VmState, type CreateVmsResponse } from "@drover/proto";
import { insertProject, requeueExpiredLeases, upsertNode, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase, outboxEvents, type TestDatabase } from "@drover/store/testing";
import { defaultConfig, type SchedulerConfig } from "../config.js";
import { createMetrics } from "../metrics.js";
import { validateCreate } from "../api/validation.js";
import { CreateBatcher } from "../create/batcher.js";
import { createVms, type CreateDeps } from "../create/create-vms.js";
import { GroupCache } from "../create/group-cache.js";
import { NodeCache } from "../create/node-cache.js";
import { placementOptionsFor } from "../create/placement-options.js";
import { AgentClients } from "./agent-clients.js";
import { Dispatcher } from "./dispatcher.js";
import type { SlotHolder } from "./held-slots.js";

/** Polls `check` until it gives a value, for up to `timeoutMs`. */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, everyMs));
  }
}

describe("single creates committed PROVISIONING under held dispatcher slots", () => {
  let db: TestDatabase;
  let sql: Sql;
  let agent: Server;
  let port = 0;
  /** VM ids the stand-in agent got EnsureDomain for, in order. */
  let ensured: string[] = [];
  /** While set, EnsureDomain waits for it (a slow host keeps its slot). */
  let gate: Promise<void> | undefined;
  let agents: AgentClients;
  const config = (more: Partial<SchedulerConfig> = {}): SchedulerConfig => ({ ...defaultConfig, databaseUrl: "unused", ...more });
  const dispatcherOf = (c: SchedulerConfig) => new Dispatcher(sql, agents, c, placementOptionsFor(c), createMetrics(sql), () => {});

  /** One replica's create dependencies; `wakes` counts the dispatcher wake-ups it asked for. */
  function replica(dispatch: SlotHolder | undefined) {
    const c = config();
    const wakes = { n: 0 };
    const deps: CreateDeps = {
      sql,
      metrics: createMetrics(sql),
      claimRetries: c.claimRetries,
      placementOptions: placementOptionsFor(c),
      nodes: new NodeCache(sql, 60_000),
      groups: new GroupCache(sql, 60_000),
      onScheduled: () => wakes.n++,
      ...(dispatch ? { dispatch } : {}),
    };
    return { deps, wakes };
  }
  const request = (name: string, more: Partial<CreateVmsRequest> = {}) =>
    CreateVmsRequest.fromPartial({ template: VmSpec.fromPartial({ name, vcpus: 1, memoryMib: 256 }), count: 1, ...more });
  const create = (deps: CreateDeps, raw: CreateVmsRequest, project = "default"): Promise<CreateVmsResponse> =>
    createVms(deps, raw, { ...validateCreate(raw, defaultConfig.defaultStrategy), project });
  const row = async (id: string) =>
    (await sql<{ state: string; attempts: number; lease_ms: number | null }[]>`
      SELECT state, attempts, (extract(epoch FROM lease_until - created_at) * 1000)::int AS lease_ms FROM vms WHERE id = ${id}`)[0]!;
  const eventsOf = async (id: string) => (await outboxEvents(sql)).filter((e) => e.payload.vmId === id).map((e) => e.subject);
  const running = (id: string) => waitFor(`${id} RUNNING`, async () => ((await row(id)).state === "RUNNING" ? true : undefined), 10_000, 20);

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    agent = new Server();
    const ensureDomain = async (call: { request: { vmId: string } }, cb: (e: unknown, r?: object) => void) => {
      ensured.push(call.request.vmId);
      await gate;
      cb(null, { domain: DomainStatus.fromPartial({ vmId: call.request.vmId, state: DomainState.DOMAIN_STATE_RUNNING, generation: 1 }) });
    };
    agent.addService(AgentServiceService, { ensureDomain } as unknown as UntypedServiceImplementation);
    port = await new Promise<number>((ok, fail) => agent.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
    agents = new AgentClients(5_000);
  });
  afterAll(async () => {
    agents?.close();
    agent?.forceShutdown();
    await db?.close();
  });
  beforeEach(async () => {
    await sql`TRUNCATE nodes, vms, create_requests, outbox CASCADE`;
    for (const name of ["a", "b"]) {
      await upsertNode(sql, { name, address: `127.0.0.1:${port}`, vcpus: 64, memoryMib: 65536, diskGib: 100, labels: {} }, EXACT_CAPACITY);
    }
    ensured = [];
    gate = undefined;
  });

  it("commits a single create PROVISIONING, leased to this replica, and runs EnsureDomain without a dispatch pass", async () => {
    const c = config();
    const dispatcher = dispatcherOf(c);
    const { deps, wakes } = replica(dispatcher);
    const res = await create(deps, request("one"));
    const vm = res.vms[0]!;
    expect(vm).toMatchObject({ state: VmState.VM_STATE_PROVISIONING, attempts: 1 });
    expect(await row(vm.id)).toEqual({ state: "PROVISIONING", attempts: 1, lease_ms: c.agentTimeoutMs * 2 });
    await running(vm.id);
    expect(ensured).toEqual([vm.id]);
    // No pass was asked for, and the events say what the row went through: PROVISIONING, then RUNNING.
    expect(wakes.n).toBe(0);
    expect(await eventsOf(vm.id)).toEqual(["drover.vm.provisioning", "drover.vm.running"]);
    await dispatcher.drain();
  });

  it("commits the requests of one batch PROVISIONING, each VM dispatched once", async () => {
    const dispatcher = dispatcherOf(config());
    const { deps, wakes } = replica(dispatcher);
    const batcher = new CreateBatcher(deps);
    const raws = Array.from({ length: 6 }, (_, i) => request(`batched-${i}`));
    const responses = await Promise.all(raws.map((raw) => batcher.create(raw, { ...validateCreate(raw, defaultConfig.defaultStrategy), project: "default" })));
    const ids = responses.map((r) => r.vms[0]!.id);
    expect(responses.every((r) => r.vms[0]!.state === VmState.VM_STATE_PROVISIONING)).toBe(true);
    for (const id of ids) await running(id);
    expect(ensured.sort()).toEqual([...ids].sort());
    expect(wakes.n).toBe(0);
    await dispatcher.drain();
  });

  it("commits a keyed create PROVISIONING too, and a replay answers its VMs without dispatching them again", async () => {
    const dispatcher = dispatcherOf(config());
    const { deps } = replica(dispatcher);
    const raw = request("keyed", { idempotencyKey: "k-1" });
    const first = await create(deps, raw);
    const vm = first.vms[0]!;
    expect(vm).toMatchObject({ state: VmState.VM_STATE_PROVISIONING, attempts: 1 });
    await running(vm.id);
    const replay = await create(deps, raw);
    expect(replay.vms.map((v) => v.id)).toEqual([vm.id]);
    await dispatcher.drain();
    expect(ensured).toEqual([vm.id]);
    expect(await eventsOf(vm.id)).toEqual(["drover.vm.provisioning", "drover.vm.running"]);
  });

  it("falls back to SCHEDULED when the dispatcher is full, or the VMs would exceed their node's limit", async () => {
    let release = () => {};
    gate = new Promise((ok) => (release = ok));
    const dispatcher = dispatcherOf(config({ dispatchConcurrency: 1 }));
    const { deps, wakes } = replica(dispatcher);
    const first = (await create(deps, request("first"))).vms[0]!;
    expect(first.state).toBe(VmState.VM_STATE_PROVISIONING);
    // The one slot is held by the first VM's EnsureDomain, which the host holds up.
    await waitFor("first EnsureDomain", async () => (ensured.length === 1 ? true : undefined));
    const second = (await create(deps, request("second"))).vms[0]!;
    expect(second).toMatchObject({ state: VmState.VM_STATE_SCHEDULED, attempts: 0 });
    expect(await row(second.id)).toEqual({ state: "SCHEDULED", attempts: 0, lease_ms: null });
    expect(await eventsOf(second.id)).toEqual(["drover.vm.scheduled"]);
    expect(wakes.n).toBe(1);
    release();
    await running(first.id);
    await dispatcher.drain();

    // Two VMs packed onto one node with one dispatch per node allowed: both SCHEDULED.
    const perNode = dispatcherOf(config({ dispatchPerNode: 1 }));
    const packed = replica(perNode);
    const two = await create(packed.deps, request("packed", { count: 2, policy: PlacementPolicy.fromPartial({ strategy: PlacementStrategy.PLACEMENT_STRATEGY_PACK }) }));
    expect(new Set(two.vms.map((v) => v.node)).size).toBe(1);
    expect(two.vms.map((v) => v.state)).toEqual([VmState.VM_STATE_SCHEDULED, VmState.VM_STATE_SCHEDULED]);
  });

  it("gives the slots back when the commit fails", async () => {
    await insertProject(sql, "tight", { vcpus: 0, memoryMib: null, diskGib: null, vms: null });
    const dispatcher = dispatcherOf(config({ dispatchConcurrency: 1 }));
    const { deps } = replica(dispatcher);
    await expect(create(deps, request("over"), "tight")).rejects.toThrow(/quota/);
    // The slot is free again: the next create commits PROVISIONING.
    expect((await create(deps, request("after"))).vms[0]!.state).toBe(VmState.VM_STATE_PROVISIONING);
    await dispatcher.drain();
  });

  it("leaves the VM of a replica gone after its commit to another replica once the lease runs out", async () => {
    // The creating replica commits under its lease and dies before dispatching (start does nothing).
    const gone: SlotHolder = { hold: () => ({ leaseMs: 300, start: () => {}, release: () => {} }) };
    const vm = (await create(replica(gone).deps, request("orphan"))).vms[0]!;
    expect(vm.state).toBe(VmState.VM_STATE_PROVISIONING);
    const other = dispatcherOf(config());
    await other.tick();
    expect(ensured).toEqual([]); // leased to the first replica: nobody else takes it yet
    await waitFor("lease run out", async () => ((await requeueExpiredLeases(sql)).length > 0 ? true : undefined), 5_000, 50);
    await other.tick();
    await running(vm.id);
    expect(ensured).toEqual([vm.id]);
    expect((await row(vm.id)).attempts).toBe(2);
    expect(await eventsOf(vm.id)).toEqual(["drover.vm.provisioning", "drover.vm.scheduled", "drover.vm.provisioning", "drover.vm.running"]);
    await other.drain();
  });
});
