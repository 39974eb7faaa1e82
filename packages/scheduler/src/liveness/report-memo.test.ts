import { describe, expect, it } from "vitest";
import type { MarkedVm, NodeStateName } from "@drover/store";
import type { DomainReport } from "./heartbeat.js";
import { FULL_CHECK_BEATS, FULL_CHECK_MS, ReportMemo, reportKey, type Seen } from "./report-memo.js";

describe("ReportMemo (the heartbeat fast path)", () => {
  const seen = (key: string, state: NodeStateName, vmChanges = "7"): Seen => ({ key, state, vmChanges });
  // A beat allowing 5 s of silence (heartbeat.ts stampBeat gives each beat its timeout).
  const unchanged = (m: ReportMemo, s: Seen, timeoutMs = 5000) => m.unchanged("n", s.key, s.state, s.vmChanges, timeoutMs);
  const clock = () => {
    let t = 0;
    return { now: () => t, advance: (ms: number) => (t += ms) };
  };

  it("skips a node's reconcile only for the report, state and VM change count of its last settled one, until the full check is due", () => {
    const c = clock();
    const m = new ReportMemo(c.now);
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
    const m = new ReportMemo(c.now);
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
    const m = new ReportMemo(c.now);
    m.checked("n", seen("k", "READY"), true);
    for (let t = 0; t + 5200 < FULL_CHECK_MS; t += 5200) {
      c.advance(5200);
      expect(unchanged(m, seen("k", "READY"), 25_000)).toBe(true);
    }
    m.checked("n", seen("k", "READY"), true);
    c.advance(25_000);
    expect(unchanged(m, seen("k", "READY"), 25_000)).toBe(false); // silent for the whole timeout: it may have been DOWN
  });

  // The beat-rate cap slows agents to 10 s at 10,000 nodes, and each beat says so: judged by the
  // configured 10 s timeout, every beat a little late reconciled in full, and a fixed 30 s full
  // check made every third beat one.
  it("keeps a node the beat-rate cap slowed on the fast path by the timeout its beats allow, and checks it in full every FULL_CHECK_BEATS beats", () => {
    const c = clock();
    const m = new ReportMemo(c.now);
    // The timeout a beat saying 10 s has (beat-rate.ts: 10 s configured for 2 s, scaled by 5).
    const slowed = (s: Seen) => m.unchanged("n", s.key, s.state, s.vmChanges, 50_000, 10_000);
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

  it("judges a beat that says no interval, or a shorter one than configured, by the timeout its stamp allows and FULL_CHECK_MS", () => {
    const c = clock();
    const m = new ReportMemo(c.now);
    m.checked("n", seen("k", "READY"), true);
    c.advance(10_200);
    expect(m.unchanged("n", "k", "READY", "7", 10_000, 0)).toBe(false);
    m.checked("n", seen("k", "READY"), true);
    c.advance(9_000);
    expect(m.unchanged("n", "k", "READY", "7", 10_000, 1000)).toBe(true);
    c.advance(9_000);
    expect(m.unchanged("n", "k", "READY", "7", 10_000, 1000)).toBe(true);
    c.advance(FULL_CHECK_MS - 18_000);
    expect(m.unchanged("n", "k", "READY", "7", 10_000, 1000)).toBe(false);
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

// The beat after this replica's own RUNNING mark (RunningMarker: store markRunningCounted): its
// report has the new domain and its count the mark's changes, yet a reconcile would change nothing.
describe("ReportMemo after a RUNNING mark of this replica", () => {
  const running = (vmId: string, generation: number, more: Partial<DomainReport> = {}): DomainReport => ({ vmId, state: "running", generation, ...more });
  const report = (...domains: DomainReport[]) => ({ bootId: "boot", domains });
  const memo = () => {
    let t = 0;
    const m = new ReportMemo(() => t);
    const r0 = report(running("a", 1));
    m.checked("n", { key: reportKey(r0), state: "READY", vmChanges: "7" }, true, r0);
    return { m, advance: (ms: number) => (t += ms) };
  };
  const newVm = (id = "b", generation = 5, interfaces: MarkedVm["interfaces"] = []): MarkedVm => ({ id, generation, interfaces });
  /** Marked, committed at 100 (performance.now() of the beats' arrival). */
  const mark = (m: ReportMemo, countBefore = "7", vms = [newVm()], committedAt = 100) => m.marked([{ node: "n", countBefore, vms }], committedAt);
  /** A READY beat arrived at `arrivedAt` with this report and count. */
  const beat = (m: ReportMemo, r: ReturnType<typeof report>, vmChanges: string, arrivedAt = 200) => m.unchanged("n", reportKey(r), "READY", vmChanges, 5000, 0, r, arrivedAt);

  it("takes the fast path for the report and count the marks predict, wherever the new domain is listed, and keeps it after", () => {
    const { m } = memo();
    mark(m);
    expect(beat(m, report(running("b", 5), running("a", 1)), "8")).toBe(true);
    expect(beat(m, report(running("b", 5), running("a", 1)), "8")).toBe(true); // the memo is that report now
    expect(beat(m, report(running("b", 5), running("a", 1)), "9")).toBe(false); // and only that
  });

  it("takes it with the new domain's NICs as its row has them, or none, and with any libvirt reason for running", () => {
    for (const domain of [running("b", 5, { interfaces: [] }), running("b", 5, { reason: "booted" })]) {
      const { m } = memo();
      mark(m);
      expect(beat(m, report(running("a", 1), domain), "8")).toBe(true);
    }
    const { m } = memo();
    const nic = { mac: "52:54:00:00:00:01", addresses: ["10.0.0.2/24"] };
    mark(m, "7", [newVm("b", 5, [nic])]);
    expect(beat(m, report(running("a", 1), running("b", 5, { interfaces: [nic] })), "8")).toBe(true);
  });

  it("reconciles in full when anything else changed: the count, the other domains, the new domain's state, generation or NICs, a domain missing", () => {
    const cases: [string, ReturnType<typeof report>, string][] = [
      ["another change to the node's VMs (another replica, an edited row)", report(running("a", 1), running("b", 5)), "9"],
      ["the mark not counted yet", report(running("a", 1), running("b", 5)), "7"],
      ["another domain changed", report(running("a", 2), running("b", 5)), "8"],
      ["a domain more", report(running("a", 1), running("b", 5), running("c", 1)), "8"],
      ["the new domain shut off", report(running("a", 1), { vmId: "b", state: "shutoff", generation: 6 }), "8"],
      ["the new domain at another generation", report(running("a", 1), running("b", 6)), "8"],
      ["NICs its row does not have", report(running("a", 1), running("b", 5, { interfaces: [{ mac: "m", addresses: [] }] })), "8"],
      ["the new domain not listed", report(running("a", 1)), "8"],
      ["another run of the agent", { bootId: "boot2", domains: [running("a", 1), running("b", 5)] }, "8"],
    ];
    for (const [why, r, count] of cases) {
      const { m } = memo();
      mark(m);
      expect(beat(m, r, count), why).toBe(false);
    }
  });

  it("needs the memo's count to be the one the mark's statement read, and the beat to have arrived after the mark was committed", () => {
    const { m } = memo();
    mark(m, "6"); // a change between the memo's beat and the mark
    expect(beat(m, report(running("a", 1), running("b", 5)), "7")).toBe(false);
    const late = memo();
    mark(late.m);
    // Arrived before the commit: its record may not see the mark, and its count be another change's.
    expect(beat(late.m, report(running("a", 1), running("b", 5)), "8", 99)).toBe(false);
    expect(beat(late.m, report(running("a", 1), running("b", 5)), "8", 101)).toBe(true);
  });

  it("serves one beat: after a beat that saw the mark and did not match, the note is gone", () => {
    const { m } = memo();
    mark(m);
    expect(beat(m, report(running("a", 1), running("b", 5)), "9")).toBe(false);
    expect(beat(m, report(running("a", 1), running("b", 5)), "8")).toBe(false);
  });

  it("takes a report that had the new domain already (listed while PROVISIONING) with the mark's count", () => {
    const m = new ReportMemo(() => 0);
    const r0 = report(running("a", 1), running("b", 5));
    m.checked("n", { key: reportKey(r0), state: "READY", vmChanges: "7" }, true, r0);
    mark(m);
    expect(beat(m, r0, "8")).toBe(true);
  });

  it("adds a mark to the node's earlier one that ends at its count; one that does not replaces it", () => {
    const { m } = memo();
    mark(m, "7", [newVm("b")], 100);
    mark(m, "8", [newVm("c", 9)], 150);
    expect(beat(m, report(running("a", 1), running("b", 5), running("c", 9)), "9", 140)).toBe(false); // before the second commit
    const two = memo();
    mark(two.m, "7", [newVm("b")], 100);
    mark(two.m, "8", [newVm("c", 9)], 150);
    expect(beat(two.m, report(running("a", 1), running("b", 5), running("c", 9)), "9")).toBe(true);
    const gap = memo();
    mark(gap.m, "7", [newVm("b")], 100);
    mark(gap.m, "9", [newVm("c", 9)], 150); // a change between the two marks
    expect(beat(gap.m, report(running("a", 1), running("b", 5), running("c", 9)), "10")).toBe(false);
  });

  it("keeps no note of a node it keeps no memo of, and keeps the full check due when it was", () => {
    const { m, advance } = memo();
    m.marked([{ node: "elsewhere", countBefore: "1", vms: [newVm()] }], 100);
    expect(m.unchanged("elsewhere", reportKey(report(running("b", 5))), "READY", "2", 5000, 0, report(running("b", 5)), 200)).toBe(false);
    for (let t = 0; t + 2000 < FULL_CHECK_MS; t += 2000) {
      advance(2000);
      expect(beat(m, report(running("a", 1)), "7")).toBe(true);
    }
    mark(m);
    expect(beat(m, report(running("a", 1), running("b", 5)), "8")).toBe(true);
    advance(2000);
    expect(beat(m, report(running("a", 1), running("b", 5)), "8")).toBe(false); // the full check, due 30 s after the last one
  });
});
