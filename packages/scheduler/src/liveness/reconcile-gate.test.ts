import { describe, expect, it } from "vitest";
import { CIRCUIT_FAILURES, FAILURE_HOLD_MS, MAX_HOLD_MS, PROBE_MS, PROBE_TIMEOUT_MS, ReconcileGate } from "./reconcile-gate.js";

describe("ReconcileGate", () => {
  it("runs one reconcile per node at a time, then stays shut for twice as long as it took", async () => {
    let now = 0;
    const gate = new ReconcileGate(() => now);
    let release = () => {};
    const first = gate.run("a", () => new Promise<string>((r) => (release = () => r("first"))));
    expect(await gate.run("a", async () => "overlapping")).toBeUndefined();
    // Other nodes are not held back.
    expect(await gate.run("b", async () => "b")).toBe("b");
    // A quick reconcile holds nothing back.
    expect(await gate.run("b", async () => "b again")).toBe("b again");
    now = 1000;
    release();
    expect(await first).toBe("first");
    now = 2999;
    expect(await gate.run("a", async () => "too soon")).toBeUndefined();
    now = 3000;
    expect(await gate.run("a", async () => "again")).toBe("again");
  });

  it("opens again after a reconcile that failed", async () => {
    const gate = new ReconcileGate(() => 0);
    await expect(gate.run("a", () => Promise.reject(new Error("db down")))).rejects.toThrow("db down");
    expect(await gate.run("a", async () => "ok")).toBe("ok");
  });
});

describe("ReconcileGate holds", () => {
  it("nothing back after a slow reconcile that failed (it changed nothing; its time may be a dead connection's)", async () => {
    let now = 0;
    const gate = new ReconcileGate(() => now);
    await expect(gate.run("a", async () => {
      now = 60_000;
      throw new Error("connection terminated");
    })).rejects.toThrow("connection terminated");
    expect(await gate.run("a", async () => "at once")).toBe("at once");
  });

  it("at most MAX_HOLD_MS, however long the reconcile waited", async () => {
    let now = 0;
    const gate = new ReconcileGate(() => now);
    await gate.run("a", async () => {
      now = 100_000;
    });
    now = 100_000 + MAX_HOLD_MS - 1;
    expect(await gate.run("a", async () => "too soon")).toBeUndefined();
    now = 100_000 + MAX_HOLD_MS;
    expect(await gate.run("a", async () => "again")).toBe("again");
  });

  it("not a node with LOST VMs (urgent), which still never overlaps its own running reconcile", async () => {
    let now = 0;
    const gate = new ReconcileGate(() => now);
    await gate.run("a", async () => {
      now = 1000;
    });
    expect(await gate.run("a", async () => "held")).toBeUndefined();
    expect(await gate.run("a", async () => "urgent", { urgent: true })).toBe("urgent");
    let release = () => {};
    const running = gate.run("a", () => new Promise<void>((r) => (release = r)), { urgent: true });
    expect(await gate.run("a", async () => "overlapping", { urgent: true })).toBeUndefined();
    release();
    await running;
  });
});

/** What postgres.js throws when the database refuses the connection. */
const refused = () => Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED", syscall: "connect" });

/**
 * `nodes` nodes beating every `beatMs` (staggered) for `forMs` on a fake clock, each beat a
 * reconcile through the gate that runs `reconcile` (urgent: every node has LOST VMs); how many ran.
 */
async function beats(gate: ReconcileGate, clock: { now: number }, o: { nodes: number; beatMs: number; forMs: number; reconcile: (node: string) => Promise<void> }) {
  const ran = new Map<string, number>();
  const end = clock.now + o.forMs;
  for (let t = clock.now; t < end; t += 10) {
    clock.now = t;
    for (let i = 0; i < o.nodes; i++) {
      if ((t + i * 7) % o.beatMs >= 10) continue; // this node's beat is not due in this 10 ms
      const node = `n${i}`;
      await gate
        .run(node, async () => {
          ran.set(node, (ran.get(node) ?? 0) + 1);
          await o.reconcile(node);
        }, { urgent: true })
        .catch(() => {});
    }
  }
  return ran;
}
const total = (ran: Map<string, number>) => [...ran.values()].reduce((a, b) => a + b, 0);

describe("ReconcileGate under failures", () => {
  it("lets a node that keeps failing (not the store) try at once once, then backs off to at most one try per MAX_HOLD_MS", async () => {
    const clock = { now: 0 };
    const gate = new ReconcileGate(() => clock.now);
    // One node beating every 100 ms for 60 s, its reconcile failing every time (a bad row, a deadlock).
    const ran = await beats(gate, clock, { nodes: 1, beatMs: 100, forMs: 60_000, reconcile: () => Promise.reject(new Error("deadlock detected")) });
    // Before: 600 (every beat). After: 2 at once, then holds of 1, 2, 4, 8 and 10 s: 2 + 4 + (60 - 15) / 10.
    expect(ran.get("n0")).toBeGreaterThanOrEqual(2);
    expect(ran.get("n0")).toBeLessThanOrEqual(2 + 4 + Math.ceil((60_000 - 15 * FAILURE_HOLD_MS) / MAX_HOLD_MS) + 1);
    expect(gate.circuitOpen).toBe(false); // not the store: other nodes go on as before
    expect(await gate.run("other", async () => "ok")).toBe("ok");
  });

  it("opens a circuit shared by all nodes when the store is unreachable: one probe per PROBE_MS, not every beat of every node", async () => {
    const clock = { now: 0 };
    const gate = new ReconcileGate(() => clock.now);
    let storeUp = false;
    const reconcile = () => (storeUp ? Promise.resolve() : Promise.reject(refused()));
    // 1,000 nodes beating every 2 s for 20 s, all with LOST VMs, Postgres down.
    const during = await beats(gate, clock, { nodes: 1000, beatMs: 2000, forMs: 20_000, reconcile });
    // Before: 10,000 failed reconciles (500 a second). After: CIRCUIT_FAILURES, then one per PROBE_MS.
    expect(total(during)).toBeLessThanOrEqual(CIRCUIT_FAILURES + Math.ceil(20_000 / PROBE_MS) + 1);
    expect(gate.circuitOpen).toBe(true);
    // Postgres is back: the next probe closes the circuit, and every node reconciles at its next
    // beat: all within PROBE_MS and a beat.
    storeUp = true;
    const after = await beats(gate, clock, { nodes: 1000, beatMs: 2000, forMs: PROBE_MS + 2000, reconcile });
    expect(gate.circuitOpen).toBe(false);
    expect(after.size).toBe(1000);
  });

  it("keeps the circuit closed for fewer store failures in a row than CIRCUIT_FAILURES (a connection cut now and then)", async () => {
    const gate = new ReconcileGate(() => 0);
    for (let i = 0; i < CIRCUIT_FAILURES - 1; i++) await expect(gate.run(`n${i}`, () => Promise.reject(refused()))).rejects.toThrow("ECONNREFUSED");
    expect(gate.circuitOpen).toBe(false);
    expect(await gate.run("n0", async () => "ok")).toBe("ok"); // each node's first failure holds nothing back
    // A success resets the count.
    for (let i = 0; i < CIRCUIT_FAILURES - 1; i++) await expect(gate.run(`m${i}`, () => Promise.reject(refused()))).rejects.toThrow();
    expect(gate.circuitOpen).toBe(false);
  });

  it("brings a small fleet back within PROBE_MS and a beat after a long outage (no node is held by its own failures)", async () => {
    const clock = { now: 0 };
    const gate = new ReconcileGate(() => clock.now);
    let storeUp = false;
    const reconcile = () => (storeUp ? Promise.resolve() : Promise.reject(refused()));
    await beats(gate, clock, { nodes: 2, beatMs: 100, forMs: 120_000, reconcile });
    storeUp = true;
    const after = await beats(gate, clock, { nodes: 2, beatMs: 100, forMs: PROBE_MS + 100, reconcile });
    expect(after.size).toBe(2);
  });

  it("lets one more probe through once the one in flight has hung for PROBE_TIMEOUT_MS (a database that hangs)", async () => {
    let now = 0;
    const gate = new ReconcileGate(() => now);
    for (let i = 0; i < CIRCUIT_FAILURES; i++) await expect(gate.run(`n${i}`, () => Promise.reject(refused()))).rejects.toThrow();
    expect(gate.circuitOpen).toBe(true);
    now = PROBE_MS;
    const hung = gate.run("a", () => new Promise<string>(() => {}));
    now = PROBE_MS + PROBE_TIMEOUT_MS - 1;
    expect(await gate.run("b", async () => "held")).toBeUndefined();
    now = PROBE_MS + PROBE_TIMEOUT_MS;
    expect(await gate.run("b", async () => "probe")).toBe("probe");
    expect(gate.circuitOpen).toBe(false);
    void hung;
  });
});
