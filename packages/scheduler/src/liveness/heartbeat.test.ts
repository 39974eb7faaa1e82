import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getNode, getVm, setNodeState, transitionVm, upsertNode, type Sql } from "@drover/store";
import { commitTestVm, EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { defaultConfig } from "../config.js";
import { NotFoundError } from "../errors.js";
import { acceptHeartbeat, type Beat, type DomainReport, type HeartbeatDeps } from "./heartbeat.js";
import { HeartbeatBatcher } from "./heartbeat-batcher.js";
import { ReconcileGate } from "./reconcile-gate.js";

// Beats here come back to back: on a loaded machine a reconcile may take the gate's 50 ms and hold
// the next beat back (reconcile-gate.ts), which these tests do not test. Its clock stands still.
const unhurriedGate = () => new ReconcileGate(() => 0);

describe("acceptHeartbeat on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;
  let deps: HeartbeatDeps;
  const logged: string[] = [];
  let running: string;
  let deleted: string;

  /** Commits one small VM on node "n" and moves it to `state`; its id. */
  async function vmIn(state: "RUNNING" | "DELETED"): Promise<string> {
    const id = await commitTestVm(sql, "n");
    await transitionVm(sql, id, ["SCHEDULED"], state, {});
    return id;
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    await upsertNode(sql, { name: "n", address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    deps = { sql, config: defaultConfig, heartbeats: new HeartbeatBatcher(sql, 0, unhurriedGate()), log: (m) => logged.push(m) };
    running = await vmIn("RUNNING");
    deleted = await vmIn("DELETED");
  });
  afterAll(async () => {
    await db?.close();
  });

  /** A fresh beat of node "n" (boot "b", the next seq) with these domains. */
  let seq = 0;
  const beat = (domains: DomainReport[], over: Partial<Beat> = {}): Beat => ({
    name: "n",
    bootId: "b",
    seq: ++seq,
    domains,
    libvirtUnavailable: "",
    ...over,
  });

  it("refuses a node that never registered", async () => {
    await expect(acceptHeartbeat(deps, beat([], { name: "ghost" }))).rejects.toBeInstanceOf(NotFoundError);
  });

  it("answers the node's state and leaves a VM alone whose domain is in a state it does not track", async () => {
    expect(await acceptHeartbeat(deps, beat([{ vmId: running, state: "other", generation: 1 }]))).toEqual({ state: "READY", destroyVmIds: [] });
    expect((await getVm(sql, running))!.state).toBe("RUNNING");
  });

  it("moves a VM to the state its domain reports, whatever the case of the id", async () => {
    await acceptHeartbeat(deps, beat([{ vmId: running.toUpperCase(), state: "shutoff", generation: 2 }]));
    expect((await getVm(sql, running))!.state).toBe("STOPPED");
    await acceptHeartbeat(deps, beat([{ vmId: running, state: "running", generation: 3 }]));
    expect((await getVm(sql, running))!.state).toBe("RUNNING");
  });

  it("only records a beat that comes while the node's previous one is still reconciled here", async () => {
    // A batcher of its own: the gate stays shut a moment after the held reconcile.
    const own = { ...deps, heartbeats: new HeartbeatBatcher(sql, 0, unhurriedGate()) };
    let release = () => {};
    const holding = own.heartbeats.reconciles.run("n", () => new Promise<void>((r) => (release = r)));
    try {
      expect(await acceptHeartbeat(own, beat([{ vmId: running, state: "shutoff", generation: 4 }]))).toEqual({ state: "READY", destroyVmIds: [] });
      expect((await getVm(sql, running))!.state).toBe("RUNNING");
    } finally {
      release();
      await holding;
    }
  });

  it("lists a deleted VM's domain for destruction, and never a domain that is no VM of ours", async () => {
    const res = await acceptHeartbeat(
      deps,
      beat([
        { vmId: running, state: "running", generation: 3 },
        { vmId: deleted.toUpperCase(), state: "running", generation: 3 },
        { vmId: randomUUID(), state: "running", generation: 3 },
        { vmId: "not-a-vm", state: "shutoff", generation: 3 },
      ]),
    );
    expect(res.destroyVmIds).toEqual([deleted]);
    expect(logged.at(-1)).toBe(`node n: asking to destroy stray domains ${deleted}`);
  });

  describe("ordering", () => {
    it("ignores a beat with an older seq than the last applied one (it only keeps the node alive)", async () => {
      await acceptHeartbeat(deps, beat([{ vmId: running, state: "running", generation: 10 }], { bootId: "b2", seq: 5 }));
      expect((await getVm(sql, running))!.state).toBe("RUNNING");
      const late = await acceptHeartbeat(deps, beat([{ vmId: running, state: "shutoff", generation: 11 }], { bootId: "b2", seq: 4 }));
      expect(late).toEqual({ state: "READY", destroyVmIds: [] });
      expect((await getVm(sql, running))!.state).toBe("RUNNING");
      // The same seq again is no newer either.
      await acceptHeartbeat(deps, beat([{ vmId: running, state: "shutoff", generation: 11 }], { bootId: "b2", seq: 5 }));
      expect((await getVm(sql, running))!.state).toBe("RUNNING");
      await acceptHeartbeat(deps, beat([{ vmId: running, state: "shutoff", generation: 11 }], { bootId: "b2", seq: 6 }));
      expect((await getVm(sql, running))!.state).toBe("STOPPED");
    });

    it("ignores a beat of an earlier boot, and takes the first beat of a later one", async () => {
      await acceptHeartbeat(deps, beat([{ vmId: running, state: "running", generation: 12 }], { bootId: "b1", seq: 99 }));
      expect((await getVm(sql, running))!.state).toBe("STOPPED");
      await acceptHeartbeat(deps, beat([{ vmId: running, state: "running", generation: 12 }], { bootId: "b3", seq: 1 }));
      expect((await getVm(sql, running))!.state).toBe("RUNNING");
    });

    it("ignores a domain report older than the operation that last changed the VM (a stop)", async () => {
      // StopVm stored the generation of the agent's answer (20); the beat was taken before the stop.
      await transitionVm(sql, running, ["RUNNING"], "STOPPED", { reportGeneration: 20 });
      await acceptHeartbeat(deps, beat([{ vmId: running, state: "running", generation: 19 }], { bootId: "b3", seq: 2 }));
      expect((await getVm(sql, running))!.state).toBe("STOPPED");
      // A report taken after it (the guest was started again behind the scheduler's back) counts.
      await acceptHeartbeat(deps, beat([{ vmId: running, state: "running", generation: 21 }], { bootId: "b3", seq: 3 }));
      expect((await getVm(sql, running))!.state).toBe("RUNNING");
    });
  });

  describe("libvirt unreachable", () => {
    it("makes the node DEGRADED with the agent's reason, changes no VM, and READY again once libvirt is back", async () => {
      const degraded = await acceptHeartbeat(
        deps,
        beat([{ vmId: running, state: "shutoff", generation: 30 }], { bootId: "b3", seq: 10, libvirtUnavailable: "client socket is closed" }),
      );
      expect(degraded.state).toBe("DEGRADED");
      expect((await getNode(sql, "n"))!.reason).toBe("client socket is closed");
      expect((await getVm(sql, running))!.state).toBe("RUNNING");
      const back = await acceptHeartbeat(deps, beat([{ vmId: running, state: "running", generation: 31 }], { bootId: "b3", seq: 11 }));
      expect(back.state).toBe("READY");
      expect((await getNode(sql, "n"))!.reason).toBe("");
    });

    it("keeps an operator's cordon given while DEGRADED for when it is healthy again", async () => {
      await acceptHeartbeat(deps, beat([], { bootId: "b3", seq: 12, libvirtUnavailable: "client socket is closed" }));
      await setNodeState(sql, "n", "CORDONED");
      expect((await getNode(sql, "n"))!.state).toBe("DEGRADED");
      expect((await acceptHeartbeat(deps, beat([], { bootId: "b3", seq: 13 }))).state).toBe("CORDONED");
      await setNodeState(sql, "n", "READY");
    });
  });
});
