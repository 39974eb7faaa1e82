import { describe, expect, it } from "vitest";
import type { NodeStateName } from "@drover/store";
import { FULL_CHECK_BEATS, FULL_CHECK_MS, ReportMemo, reportKey, reportMemoFor, type Seen } from "./report-memo.js";

describe("ReportMemo (the heartbeat fast path)", () => {
  const seen = (key: string, state: NodeStateName, vmChanges = "7"): Seen => ({ key, state, vmChanges });
  const unchanged = (m: ReportMemo, s: Seen) => m.unchanged("n", s.key, s.state, s.vmChanges);
  const clock = () => {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it("skips a node's reconcile only for the report, state and VM change count of its last settled one, until the full check is due", () => {
    const c = clock();
    const m = new ReportMemo({ heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 5000 }, c.now);
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
    const m = new ReportMemo({ heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 5000 }, c.now);
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
    const m = reportMemoFor({ heartbeatIntervalMs: 5000, heartbeatTimeoutMs: 25_000 }, c.now);
    m.checked("n", seen("k", "READY"), true);
    for (let t = 0; t + 5200 < FULL_CHECK_MS; t += 5200) {
      c.advance(5200);
      expect(unchanged(m, seen("k", "READY"))).toBe(true);
    }
    m.checked("n", seen("k", "READY"), true);
    c.advance(25_000);
    expect(unchanged(m, seen("k", "READY"))).toBe(false); // silent for the whole timeout: it may have been DOWN
  });

  // The beat-rate cap slows agents to 10 s at 10,000 nodes, and each beat says so: judged by the
  // configured 10 s timeout, every beat a little late reconciled in full, and a fixed 30 s full
  // check made every third beat one.
  it("keeps a node the beat-rate cap slowed on the fast path by the timeout its beats allow, and checks it in full every FULL_CHECK_BEATS beats", () => {
    const c = clock();
    const m = reportMemoFor({ heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 10_000 }, c.now);
    const slowed = (s: Seen) => m.unchanged("n", s.key, s.state, s.vmChanges, 10_000);
    m.checked("n", seen("k", "READY"), true);
    let beats = 0;
    for (let t = 10_200; t < FULL_CHECK_BEATS * 10_000; t += 10_200) {
      c.advance(10_200);
      beats++;
      expect(slowed(seen("k", "READY"))).toBe(true);
    }
    expect(beats).toBeGreaterThan(FULL_CHECK_MS / 10_200);
    c.advance(10_200);
    expect(slowed(seen("k", "READY"))).toBe(false); // full check due after FULL_CHECK_BEATS intervals
    m.checked("n", seen("k", "READY"), true);
    c.advance(50_000);
    expect(slowed(seen("k", "READY"))).toBe(false); // silent for its whole timeout (5 x 10 s): it may have been DOWN
  });

  it("judges a beat that says no interval, or a shorter one than configured, by the configured timeout and FULL_CHECK_MS", () => {
    const c = clock();
    const m = reportMemoFor({ heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 10_000 }, c.now);
    m.checked("n", seen("k", "READY"), true);
    c.advance(10_200);
    expect(m.unchanged("n", "k", "READY", "7", 0)).toBe(false);
    m.checked("n", seen("k", "READY"), true);
    c.advance(9_000);
    expect(m.unchanged("n", "k", "READY", "7", 1000)).toBe(true);
    c.advance(9_000);
    expect(m.unchanged("n", "k", "READY", "7", 1000)).toBe(true);
    c.advance(FULL_CHECK_MS - 18_000);
    expect(m.unchanged("n", "k", "READY", "7", 1000)).toBe(false);
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
