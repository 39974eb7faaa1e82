import { describe, expect, it } from "vitest";
import { ReconcileGate } from "./reconcile-gate.js";

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
