// The placement decision of one grouped CreateVms (one VM, hard anti-affinity or affinity) in
// isolation: the scheduler's CPU per request between "request validated" and "claim sent",
// without Postgres, gRPC or the rest of the API path.
//   node --import tsx benchmarks/group-decision.ts [--hosts=1000,5000] [--time=1] [--rounds=3]
// Cases, each with the scheduler's default (spread, 64 candidates above 256 nodes):
// - "before": what a grouped request did before issue 13's fix once the rows were read: a fresh
//   snapshot of every node with the group's counts (takeSnapshot), then the engine on it. The
//   reading and parsing of every node row (listNodes) is NOT counted: the real cost was higher.
// - "after": the node cache's NodeList with the request's groups' members laid over it
//   (group-overlay.ts), then the engine, then the booking into both caches, as the batcher does.
// Anti-affinity "10 groups" starts with 20% of the nodes holding a member of each group; affinity
// "10 groups" with each group's members on one node; "own group" names a new group per request.
// Each round books its placements and starts again from the base every 500 decisions (untimed).
import { defaultMaxCandidates, NodeList, placeBatch, type NodeSnapshot, type VmRequest } from "../packages/placement/src/index.js";
import { withGroups } from "../packages/scheduler/src/create/group-overlay.js";
import { arg, makeCluster, median, prng, quantile, table } from "./common.js";

const HOSTS = arg("hosts", "1000,5000").split(",").map(Number);
const TIME_S = Number(arg("time", "1"));
const ROUNDS = Number(arg("rounds", "3"));
const RESET = 500;

type Kind = "anti" | "affinity" | "none";
interface Case {
  kind: Kind;
  /** 0: a new group per request. */
  groups: number;
  path: "before" | "after";
}

const CASES: Case[] = [
  { kind: "none", groups: 0, path: "after" },
  { kind: "anti", groups: 10, path: "before" },
  { kind: "anti", groups: 10, path: "after" },
  { kind: "anti", groups: 0, path: "before" },
  { kind: "anti", groups: 0, path: "after" },
  { kind: "affinity", groups: 10, path: "before" },
  { kind: "affinity", groups: 10, path: "after" },
  { kind: "affinity", groups: 0, path: "before" },
  { kind: "affinity", groups: 0, path: "after" },
];

/** Members per group and node before a round: anti groups on 20% of the nodes, affinity groups on one node each. */
function startingMembers(c: Case, nodes: NodeSnapshot[], seed: number): Map<string, Map<string, number>> {
  const rnd = prng(seed);
  const out = new Map<string, Map<string, number>>();
  for (let g = 0; g < c.groups; g++) {
    const m = new Map<string, number>();
    if (c.kind === "anti") {
      for (const n of nodes) if (rnd() < 0.2) m.set(n.name, 1);
    } else {
      m.set(nodes[Math.floor(rnd() * nodes.length)]!.name, 3);
    }
    out.set(`${c.kind}-${g}`, m);
  }
  return out;
}

function round(base: NodeSnapshot[], c: Case, r: number): { cpuRate: number; p50: number; p99: number } {
  const list = new NodeList(base);
  const index = new Map(base.map((n, i) => [n.name, i]));
  let members = startingMembers(c, base, 7 + r);
  const booked = new Set<number>();
  const opts = (seed: string) => {
    const limit = defaultMaxCandidates("spread", base.length);
    return limit === undefined ? { strategy: "spread" as const, seed } : { strategy: "spread" as const, seed, maxCandidates: limit };
  };
  let v = 0;
  const one = (): number => {
    if (v % RESET === RESET - 1) {
      for (const i of booked) list.set(i, base[i]!);
      booked.clear();
      members = startingMembers(c, base, 7 + r);
    }
    const i = v++;
    const group = c.kind === "none" ? undefined : c.groups > 0 ? `${c.kind}-${i % c.groups}` : `${c.kind}-own-${r}-${i}`;
    const vm: VmRequest = {
      key: `r${r}-${i}`,
      resources: { vcpus: 1, memoryMib: 1024, diskGib: 0 },
      constraints: [],
      preferences: [],
      ...(c.kind === "anti" ? { antiAffinityGroup: group } : c.kind === "affinity" ? { affinityGroup: group } : {}),
    };
    const own = group === undefined ? new Map<string, Map<string, number>>() : new Map([[group, members.get(group) ?? new Map<string, number>()]]);
    const t0 = process.hrtime.bigint();
    let node: string | undefined;
    if (c.path === "before") {
      // takeSnapshot: every node as a new object, its groups' counts filled in.
      const snapshot = list.snapshots.map((n) => {
        const groups: Record<string, number> = {};
        for (const [g, m] of own) {
          const k = m.get(n.name);
          if (k) groups[g] = k;
        }
        return { ...n, groups };
      });
      node = placeBatch(snapshot, [vm], opts(vm.key)).placements[0]?.node;
    } else {
      node = withGroups(list, index, own, (nodes) => placeBatch(nodes, [vm], opts(vm.key))).placements[0]?.node;
    }
    if (node !== undefined) {
      // The booking both caches do (node-cache.ts reserve, group-cache.ts reserve).
      const k = index.get(node)!;
      const n = list.snapshots[k]!;
      list.set(k, { ...n, allocated: { ...n.allocated, vcpus: n.allocated.vcpus + 1, memoryMib: n.allocated.memoryMib + 1024 } });
      booked.add(k);
      if (group !== undefined) {
        const m = members.get(group) ?? new Map<string, number>();
        m.set(node, (m.get(node) ?? 0) + 1);
        members.set(group, m);
      }
    }
    return Number(process.hrtime.bigint() - t0);
  };
  for (let w = 0; w < 200; w++) one();
  const lat: number[] = [];
  let total = 0;
  const cpu0 = process.cpuUsage();
  while ((total < TIME_S * 1e9 || lat.length < 200) && lat.length < 200_000) {
    const dt = one();
    lat.push(dt);
    total += dt;
  }
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  return { cpuRate: lat.length / ((cpu.user + cpu.system) / 1e6), p50: quantile(lat, 0.5) / 1e3, p99: quantile(lat, 0.99) / 1e3 };
}

const fmtRate = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
console.log(`node ${process.version}, ${process.arch}; ${ROUNDS} rounds of ${TIME_S} s per cell (median shown); one thread`);
const rows: (string | number)[][] = [];
for (const hosts of HOSTS) {
  const base = makeCluster(hosts, 42);
  for (const c of CASES) {
    const rs = Array.from({ length: ROUNDS }, (_, r) => round(base, c, r));
    const cpuRate = median(rs.map((x) => x.cpuRate));
    const row = [
      hosts,
      c.kind === "none" ? "no group" : c.kind === "anti" ? "hard anti-affinity" : "affinity",
      c.kind === "none" ? "–" : c.groups > 0 ? `${c.groups} groups` : "own group",
      c.path,
      fmtRate(cpuRate),
      (1e6 / cpuRate).toFixed(1),
      median(rs.map((x) => x.p50)).toFixed(1),
      median(rs.map((x) => x.p99)).toFixed(1),
    ];
    rows.push(row);
    console.error(row.join("  "));
  }
}
console.log(table(["hosts", "request", "groups", "path", "decisions per CPU-s", "CPU µs/decision", "p50 µs", "p99 µs"], rows));
