import { describe, expect, it } from "vitest";
import type { NodeStateName } from "@drover/store";
import { FULL_CHECK_MS, ReportMemo, reportKey, reportMemoFor, type Seen } from "./report-memo.js";

describe("ReportMemo (the heartbeat fast path)", () => {
  const seen = (key: string, state: NodeStateName, vmChanges = "7"): Seen => ({ key, state, vmChanges });
  const unchanged = (m: ReportMemo, s: Seen) => m.unchanged("n", s.key, s.state, s.vmChanges);
  const clock = () => {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it("skips a node's reconcile only for the report, state and VM change count of its last settled one, until the full check is due", () => {
    const c = clock();
    const m = new ReportMemo(5000, c.now);
    expect(unchanged(m, seen("k", "READY"))).toBe(false); // never reconciled here
    m.checked("n", seen("k", "READY"), true);
    c.advance(2000);
    expect(unchanged(m, seen("k", "READY"))).toBe(true);
    expect(unchanged(m, seen("k2", "READY"))).toBe(false); // another report
    expect(unchanged(m, seen("k", "CORDONED"))).toBe(false); // another state
    expect(unchanged(m, seen("k", "READY", "8"))).toBe(false); // a VM row of the node changed (on any replica)
    for (let t = 2000; t < FULL_CHECK_MS - 2000; t += 2000) {
      c.advance(2000);
      expect(unchanged(m, seen("k", "READY"))).toBe(true);
    }
    c.advance(2000);
    expect(unchanged(m, seen("k", "READY"))).toBe(false); // full check due
  });

  it("reconciles a node it has not heard from for a while, one with domains to destroy, and a forgotten one", () => {
    const c = clock();
    const m = new ReportMemo(5000, c.now);
    m.checked("n", seen("k", "READY"), true);
    c.advance(6000);
    expect(unchanged(m, seen("k", "READY"))).toBe(false); // silent for 6 s: it may have been DOWN
    m.checked("n", seen("k", "READY"), false);
    expect(unchanged(m, seen("k", "READY"))).toBe(false); // the strays are asked for again
    m.checked("n", seen("k", "READY"), true);
    m.forget("n");
    expect(unchanged(m, seen("k", "READY"))).toBe(false);
  });

  // The memo server.ts gives a replica: with agents beating every 5 s (and a 25 s timeout, as in
  // bench:api) a beat a little late was "unheard of" under the fixed 5 s and reconciled in full.
  it("keeps a node beating every 5 s a little late on the fast path, until the heartbeat timeout", () => {
    const c = clock();
    const m = reportMemoFor({ heartbeatTimeoutMs: 25_000 }, c.now);
    m.checked("n", seen("k", "READY"), true);
    for (let t = 0; t + 5200 < FULL_CHECK_MS; t += 5200) {
      c.advance(5200);
      expect(unchanged(m, seen("k", "READY"))).toBe(true);
    }
    m.checked("n", seen("k", "READY"), true);
    c.advance(25_000);
    expect(unchanged(m, seen("k", "READY"))).toBe(false); // silent for the whole timeout: it may have been DOWN
  });

  it("keys a report by the agent's run and each domain's state, generation, reason and addresses", () => {
    const beat = (over: object) => ({ name: "n", bootId: "b", seq: 1, libvirtUnavailable: "", domains: [{ vmId: "v", state: "running" as const, generation: 3 }], ...over });
    const k = reportKey(beat({}));
    expect(reportKey(beat({ seq: 2 }))).toBe(k); // the seq is no part of it
    expect(reportKey(beat({ bootId: "c" }))).not.toBe(k);
    expect(reportKey(beat({ domains: [{ vmId: "v", state: "running", generation: 4 }] }))).not.toBe(k);
    expect(reportKey(beat({ domains: [{ vmId: "v", state: "shutoff", generation: 3 }] }))).not.toBe(k);
    expect(reportKey(beat({ domains: [{ vmId: "v", state: "running", generation: 3, reason: "unpaused" }] }))).not.toBe(k);
    expect(reportKey(beat({ domains: [{ vmId: "v", state: "running", generation: 3, interfaces: [{ mac: "m", addresses: ["a"] }] }] }))).not.toBe(k);
  });
});
