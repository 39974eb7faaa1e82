// What TLS, node identities and API tokens cost on bench:api: benchmarks/api.ts run plain and
// --secure in alternating order (plain, secure, then secure, plain, …), each run a fresh
// process, database and fleet, on the same machine in one invocation. Prints every run and the
// median of each mode, with the secure mode's change; CPU per VM (the scheduler thread's CPU
// time over the VMs created) is less sensitive to other load on the machine than rates are.
//
//   node --import tsx benchmarks/api-tls.ts [--rounds 3] [--before DIR] [api.ts options, e.g. --hosts 1000 --bulk 10000 --single-seconds 20 --idle-seconds 10]
//
// With --idle-seconds each row also shows (b)'s scheduler CPU per VM above the idle rate (heartbeats and
// loops with no creates), which a lower create rate otherwise spreads over fewer VMs.
//
// With --before DIR (another checkout, e.g. a git worktree of main built with npx tsc -b, with
// this checkout's benchmarks/ copied in) every round also runs that tree's api.ts plain and secure,
// interleaved with this one's (round 1: before plain, before secure, after secure, after plain;
// round 2 the reverse, …), so that both trees and both modes see the same machine.
// Each run's full output goes to .drover/api-tls-<round>-<tree>-<mode>.log.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { flag, numberFlag, withoutFlags } from "./flags.js";

const rounds = numberFlag("rounds", 3, { positive: true });
const beforeDir = flag("before");
const passThrough = withoutFlags(process.argv.slice(2), ["rounds", "before"]);
const HERE = fileURLToPath(new URL("..", import.meta.url));
type Tree = "before" | "after";
const trees: Tree[] = beforeDir ? ["before", "after"] : ["after"];
const dirOf = (t: Tree) => (t === "before" ? beforeDir! : HERE);

interface Figures {
  bulkRate: number;
  bulkCpuPerVmMs: number;
  singleRate: number;
  singleP50Ms: number;
  singleP99Ms: number;
  singleCpuPerVmMs: number;
  /** With --idle-seconds: the scheduler's CPU per VM above its rate with no creates (heartbeats, loops). */
  singleCpuPerVmAboveIdleMs?: number;
  singleErrors: number;
}
type Mode = "plain" | "secure";

function run(tree: Tree, mode: Mode, round: number): Promise<Figures> {
  mkdirSync(".drover", { recursive: true });
  const json = resolvePath(`.drover/api-tls-${round}-${tree}-${mode}.json`);
  const log = `.drover/api-tls-${round}-${tree}-${mode}.log`;
  rmSync(json, { force: true });
  const api = join(dirOf(tree), "benchmarks", "api.ts");
  const args = ["--import", "tsx", api, ...passThrough, ...(mode === "secure" ? ["--secure"] : []), "--json", json];
  return new Promise((resolve, reject) => {
    // Run in the tree's own directory, so that it loads that tree's packages.
    const child = spawn(process.execPath, args, { cwd: dirOf(tree), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      writeFileSync(log, out);
      if (code !== 0) return reject(new Error(`${tree} ${mode} run ${round} exited ${code}; see ${log}`));
      resolve(JSON.parse(readFileSync(json, "utf8")) as Figures);
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const label = (tree: Tree, mode: Mode) => (beforeDir ? `${tree} | ${mode}` : mode);
const aboveIdle = passThrough.includes("--idle-seconds");
const line = (r: string, tree: Tree, mode: Mode, f: Figures) =>
  `| ${r} | ${label(tree, mode)} | ${fmt(f.bulkRate)}/s | ${fmt(f.bulkCpuPerVmMs, 3)} ms | ${fmt(f.singleRate)}/s | ${fmt(f.singleP50Ms, 1)} ms | ${fmt(f.singleP99Ms, 1)} ms | ${fmt(f.singleCpuPerVmMs, 3)} ms |` +
  (aboveIdle ? ` ${fmt(f.singleCpuPerVmAboveIdleMs ?? NaN, 3)} ms |` : "");

const key = (t: Tree, m: Mode) => `${t} ${m}`;
const results = new Map<string, Figures[]>();
const rows: string[] = [];
console.log(`machine: ${cpus().length}× ${cpus()[0]?.model}; load average at start ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
const runs: [Tree, Mode][] = trees.flatMap((t) => (t === "before" ? [[t, "plain"], [t, "secure"]] : [[t, "secure"], [t, "plain"]]) as [Tree, Mode][]);
if (!beforeDir) runs.reverse(); // one tree: plain, secure, then secure, plain
for (let r = 1; r <= rounds; r++) {
  const order = r % 2 ? runs : [...runs].reverse();
  for (const [tree, mode] of order) {
    const f = await run(tree, mode, r);
    results.set(key(tree, mode), [...(results.get(key(tree, mode)) ?? []), f]);
    rows.push(line(String(r), tree, mode, f));
    console.log(rows.at(-1));
  }
}
const medians = (tree: Tree, mode: Mode): Figures => {
  const all = results.get(key(tree, mode))!;
  const of = (k: keyof Figures) => median(all.map((f) => f[k] ?? NaN));
  return {
    bulkRate: of("bulkRate"),
    bulkCpuPerVmMs: of("bulkCpuPerVmMs"),
    singleRate: of("singleRate"),
    singleP50Ms: of("singleP50Ms"),
    singleP99Ms: of("singleP99Ms"),
    singleCpuPerVmMs: of("singleCpuPerVmMs"),
    singleCpuPerVmAboveIdleMs: of("singleCpuPerVmAboveIdleMs"),
    singleErrors: of("singleErrors"),
  };
};
const pct = (a: number, b: number) => `${b >= a ? "+" : ""}${(((b - a) / a) * 100).toFixed(1)} %`;
const cols = beforeDir ? "| round | tree | mode |" : "| round | mode |";
const sep = beforeDir ? "|---|---|---|" : "|---|---|";

console.log(`\nCommand: \`node --import tsx benchmarks/api-tls.ts --rounds ${rounds}${beforeDir ? ` --before ${beforeDir}` : ""} ${passThrough.join(" ")}\`; load average at end ${loadavg().map((l) => l.toFixed(1)).join(" ")}\n`);
console.log(`${cols} a. bulk rate | a. scheduler CPU per VM | b. single rate | b. p50 | b. p99 | b. scheduler CPU per VM |${aboveIdle ? " b. … above idle |" : ""}`);
console.log(`${sep}---|---|---|---|---|---|${aboveIdle ? "---|" : ""}`);
for (const r of rows) console.log(r);
for (const tree of trees) {
  const plain = medians(tree, "plain");
  const secure = medians(tree, "secure");
  console.log(line("median", tree, "plain", plain));
  console.log(line("median", tree, "secure", secure));
  console.log(
    `| secure vs plain | ${beforeDir ? `${tree} | ` : ""}| ${pct(plain.bulkRate, secure.bulkRate)} | ${pct(plain.bulkCpuPerVmMs, secure.bulkCpuPerVmMs)} | ${pct(plain.singleRate, secure.singleRate)} | ${pct(plain.singleP50Ms, secure.singleP50Ms)} | ${pct(plain.singleP99Ms, secure.singleP99Ms)} | ${pct(plain.singleCpuPerVmMs, secure.singleCpuPerVmMs)} |${aboveIdle ? ` ${pct(plain.singleCpuPerVmAboveIdleMs!, secure.singleCpuPerVmAboveIdleMs!)} |` : ""}`,
  );
}
