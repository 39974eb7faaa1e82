import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitPlacements, connect, getVm, migrate, transitionVm, upsertNode, type NewVm, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { NotFoundError } from "../errors.js";
import { acceptHeartbeat, type HeartbeatDeps } from "./heartbeat.js";
import { HeartbeatBatcher } from "./heartbeat-batcher.js";

const defaults = { cpuRatio: 1, memoryRatio: 1, diskRatio: 1, reservedVcpus: 0, reservedMemoryMib: 0, reservedDiskGib: 0 };

describe("acceptHeartbeat on real Postgres", () => {
  let db: { url: string; drop(): Promise<void> };
  let sql: Sql;
  let deps: HeartbeatDeps;
  const logged: string[] = [];
  let running: string;
  let deleted: string;

  /** Commits one small VM on node "n" and moves it to `state`; its id. */
  async function vmIn(state: "RUNNING" | "DELETED"): Promise<string> {
    const requestId = randomUUID();
    const vm: NewVm = { id: randomUUID(), name: "v", spec: { name: "v" }, policy: {}, requestId, vcpus: 1, memoryMib: 256, diskGib: 0, node: "n", placement: null };
    await commitPlacements(sql, {
      requests: [{ id: requestId, requestHash: "h", vmIds: [vm.id], unplaced: 0, unplacedReason: "" }],
      claims: [{ node: "n", vcpus: 1, memoryMib: 256, diskGib: 0 }],
      vms: [vm],
    });
    await transitionVm(sql, vm.id, ["SCHEDULED"], state, {});
    return vm.id;
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = connect(db.url);
    await migrate(sql);
    await upsertNode(sql, { name: "n", address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, defaults);
    deps = { sql, heartbeats: new HeartbeatBatcher(sql, 0), log: (m) => logged.push(m) };
    running = await vmIn("RUNNING");
    deleted = await vmIn("DELETED");
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it("refuses a node that never registered", async () => {
    await expect(acceptHeartbeat(deps, "ghost", [])).rejects.toBeInstanceOf(NotFoundError);
  });

  it("answers the node's state and leaves a VM alone whose domain is in a state it does not track", async () => {
    expect(await acceptHeartbeat(deps, "n", [{ vmId: running, state: "other" }])).toEqual({ state: "READY", destroyVmIds: [] });
    expect((await getVm(sql, running))!.state).toBe("RUNNING");
  });

  it("moves a VM to the state its domain reports, whatever the case of the id", async () => {
    await acceptHeartbeat(deps, "n", [{ vmId: running.toUpperCase(), state: "shutoff" }]);
    expect((await getVm(sql, running))!.state).toBe("STOPPED");
    await acceptHeartbeat(deps, "n", [{ vmId: running, state: "running" }]);
    expect((await getVm(sql, running))!.state).toBe("RUNNING");
  });

  it("lists a deleted VM's domain for destruction, and never a domain that is no VM of ours", async () => {
    const res = await acceptHeartbeat(deps, "n", [
      { vmId: running, state: "running" },
      { vmId: deleted.toUpperCase(), state: "running" },
      { vmId: randomUUID(), state: "running" },
      { vmId: "not-a-vm", state: "shutoff" },
    ]);
    expect(res.destroyVmIds).toEqual([deleted]);
    expect(logged.at(-1)).toBe(`node n: asking to destroy stray domains ${deleted}`);
  });
});
