// Postgres CPU of the one commit statement of a single create (commitPlacements: request row,
// claim, VM row, events, group members and checks), one statement at a time on one connection:
// what a grouped create's statement costs Postgres above an ungrouped one's, without the batcher,
// the engine or concurrency, committed without waiting for the WAL flush. The backend's CPU (/proc/<pid>/schedstat) per statement, median of rounds.
//   node --import tsx benchmarks/group-statement.ts [--hosts=5000] [--statements=2000] [--rounds=5]
// Run the same file in a tree of another commit to compare (it imports that tree's store).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { commitPlacements, connect, migrate, type NewVm } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { median, table } from "./common.js";
import { backendsCpuNs, backendsMsSince } from "./backend-cpu.js";
import { insertBenchHosts } from "./bench-hosts.js";
import { numberFlag } from "./flags.js";

const HOSTS = numberFlag("hosts", 5000);
const STATEMENTS = numberFlag("statements", 2000);
const ROUNDS = numberFlag("rounds", 5);
type Kind = "none" | "anti" | "affinity";
const KINDS: { kind: Kind; words: string }[] = [
  { kind: "none", words: "no group" },
  { kind: "anti", words: "hard anti-affinity, 10 groups" },
  { kind: "affinity", words: "affinity, own group" },
];

const db = await createTestDatabase();
const sql = connect(db.url, { max: 1 });
try {
  await migrate(sql);
  const names = await insertBenchHosts(sql, HOSTS);
  await sql`VACUUM ANALYZE`;
  // The statement's own work, not its commit's WAL flush (the same for every kind, and most of a lone statement's CPU).
  await sql`SET synchronous_commit = off`;
  const spec = { name: "", vcpus: 1, memoryMib: 1024, diskGib: 0, image: "", userData: "", labels: {} };
  let n = 0;
  const one = async (kind: Kind, tag: string, i: number) => {
    const node = names[(n++ * 7919) % HOSTS]!;
    const group = kind === "anti" ? `${tag}-a${i % 10}` : kind === "affinity" ? `${tag}-f${i}` : undefined;
    const requestId = randomUUID();
    const vm: NewVm = {
      id: randomUUID(), name: `${tag}-${i}`, spec, policy: group ? { [kind === "anti" ? "antiAffinityGroup" : "affinityGroup"]: group } : {},
      requestId, vcpus: 1, memoryMib: 1024, diskGib: 0, node, placement: null, project: "default",
      ...(group ? { groups: [group], ...(kind === "anti" ? { antiAffinityGroup: group } : { affinityGroup: group }) } : {}),
    };
    await commitPlacements(sql, {
      requests: [{ id: requestId, requestHash: `h-${tag}-${i}`, vmIds: [vm.id], unplaced: 0, unplacedReason: "" }],
      claims: [{ node, vcpus: 1, memoryMib: 1024, diskGib: 0 }],
      vms: [vm],
    });
  };
  const round = async (kind: Kind, r: number) => {
    const tag = `${kind}-r${r}`;
    const b0 = await backendsCpuNs(sql);
    for (let i = 0; i < STATEMENTS; i++) await one(kind, tag, i);
    return (backendsMsSince(b0, await backendsCpuNs(sql)) * 1000) / STATEMENTS;
  };
  console.log(`node ${process.version}; ${HOSTS} nodes, ${STATEMENTS} statements per round, one at a time, median of ${ROUNDS} rounds (kinds interleaved); load ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
  for (const k of KINDS) await round(k.kind, -1); // warm-up: prepared statements, caches
  const us = new Map<Kind, number[]>(KINDS.map((k) => [k.kind, []]));
  for (let r = 0; r < ROUNDS; r++) for (const k of KINDS) us.get(k.kind)!.push(await round(k.kind, r));
  const none = median(us.get("none")!);
  console.log(table(["statement of", "Postgres CPU µs / statement", "above no group"], KINDS.map((k) => {
    const m = median(us.get(k.kind)!);
    return [k.words, m.toFixed(1), k.kind === "none" ? "–" : (m - none).toFixed(1)];
  })));
  console.log(`load at the end ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
} finally {
  await sql.end();
  await db.drop();
}
