// The placement decision of one grouped CreateVms (one VM, hard anti-affinity or affinity) in
// isolation: the scheduler's CPU per request between "request validated" and "claim sent",
// without Postgres, gRPC or the rest of the API path.
//   node --import tsx benchmarks/group-decision.ts [--hosts=1000,5000] [--time=1] [--rounds=3]
//   [--anti-share=0.2]
// Each case runs the scheduler's path with its default (spread, 64 candidates above 256 nodes):
// the node cache's NodeList and the request's groups' members from the group cache passed to the
// engine as they are (PlacementOptions.groupMembers), then the booking into both caches, as the
// batcher does. (Before issue 13's second step the members were laid over the list as one new
// snapshot per node holding one, group-overlay.ts; run this file in a tree of that commit for it.)
// Anti-affinity "10 groups" starts with --anti-share (20%) of the nodes holding a member of each
// group; affinity "10 groups" with each group's members on one node; "own group" names a new
// group per request.
// Each round books its placements and starts again from the base every 500 decisions (untimed).
// "refused": requests with no node, each explained by a pass over every node. An affinity group's
// node fills up after a few of its 50 requests per restart, so most of affinity "10 groups" are
// refusals (the same ones on any tree: the decisions are the same).
import { defaultMaxCandidates, NodeList, placeBatch, type NodeSnapshot, type VmRequest } from "../packages/placement/src/index.js";
import { makeCluster, median, prng, quantile, table } from "./common.js";
import { flag, numberFlag } from "./flags.js";

const HOSTS = (flag("hosts") ?? "1000,5000").split(",").map(Number);
const TIME_S = numberFlag("time", 1);
const ROUNDS = numberFlag("rounds", 3);
const RESET = 500;
const ANTI_SHARE = numberFlag("anti-share", 0.2);

type Kind = "anti" | "affinity" | "none";
interface Case {
  kind: Kind;
  /** 0: a new group per request. */
  groups: number;
}

const CASES: Case[] = [
  { kind: "none", groups: 0 },
  { kind: "anti", groups: 10 },
  { kind: "anti", groups: 0 },
  { kind: "affinity", groups: 10 },
  { kind: "affinity", groups: 0 },
];

/** Members per group and node before a round: anti groups on ANTI_SHARE of the nodes, affinity groups on one node each. */
function startingMembers(c: Case, nodes: NodeSnapshot[], seed: number): Map<string, Map<string, number>> {
  const rnd = prng(seed);
  const out = new Map<string, Map<string, number>>();
  for (let g = 0; g < c.groups; g++) {
    const m = new Map<string, number>();
    if (c.kind === "anti") {
      for (const n of nodes) if (rnd() < ANTI_SHARE) m.set(n.name, 1);
    } else {
      m.set(nodes[Math.floor(rnd() * nodes.length)]!.name, 3);
    }
    out.set(`${c.kind}-${g}`, m);
  }
  return out;
}

function round(base: NodeSnapshot[], c: Case, r: number): { cpuRate: number; p50: number; p99: number; refused: number } {
  const list = new NodeList(base);
  const index = new Map(base.map((n, i) => [n.name, i]));
  let members = startingMembers(c, base, 7 + r);
  const booked = new Set<number>();
  const opts = (seed: string) => {
    const limit = defaultMaxCandidates("spread", base.length);
    return limit === undefined ? { strategy: "spread" as const, seed } : { strategy: "spread" as const, seed, maxCandidates: limit };
  };
  let v = 0;
  let refused = 0;
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
    const node = placeBatch(list, [vm], own.size === 0 ? opts(vm.key) : { ...opts(vm.key), groupMembers: own }).placements[0]?.node;
    if (node === undefined) refused++;
    else {
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
  refused = 0;
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
  return { cpuRate: lat.length / ((cpu.user + cpu.system) / 1e6), p50: quantile(lat, 0.5) / 1e3, p99: quantile(lat, 0.99) / 1e3, refused: refused / lat.length };
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
      fmtRate(cpuRate),
      (1e6 / cpuRate).toFixed(1),
      median(rs.map((x) => x.p50)).toFixed(1),
      median(rs.map((x) => x.p99)).toFixed(1),
      `${(median(rs.map((x) => x.refused)) * 100).toFixed(0)}%`,
    ];
    rows.push(row);
    console.error(row.join("  "));
  }
}
console.log(table(["hosts", "request", "groups", "decisions per CPU-s", "CPU µs/decision", "p50 µs", "p99 µs", "refused"], rows));
