import { describe, expect, it } from "vitest";
import { MAX_HOLD_MS, ReconcileGate } from "./reconcile-gate.js";

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
