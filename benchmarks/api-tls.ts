// What TLS, node identities and API tokens cost on bench:api: benchmarks/api.ts run plain and
// --secure in alternating order (plain, secure, then secure, plain, …), each run a fresh
// process, database and fleet, on the same machine in one invocation. Prints every run and the
// median of each mode, with the secure mode's change; CPU per VM (the scheduler thread's CPU
// time over the VMs created) is less sensitive to other load on the machine than rates are.
//
//   node --import tsx benchmarks/api-tls.ts [--rounds 3] [api.ts options, e.g. --hosts 1000 --bulk 10000 --single-seconds 20]
//
// Each run's full output goes to .drover/api-tls-<round>-<mode>.log.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";

const argv = process.argv.slice(2);
const at = argv.indexOf("--rounds");
const rounds = at >= 0 ? Number(argv[at + 1]) : 3;
const passThrough = at >= 0 ? [...argv.slice(0, at), ...argv.slice(at + 2)] : argv;
const API = fileURLToPath(new URL("./api.ts", import.meta.url));

interface Figures {
  bulkRate: number;
  bulkCpuPerVmMs: number;
  singleRate: number;
  singleP50Ms: number;
  singleP99Ms: number;
  singleCpuPerVmMs: number;
  singleErrors: number;
}
type Mode = "plain" | "secure";

function run(mode: Mode, round: number): Promise<Figures> {
  mkdirSync(".drover", { recursive: true });
  const json = `.drover/api-tls-${round}-${mode}.json`;
  const log = `.drover/api-tls-${round}-${mode}.log`;
  rmSync(json, { force: true });
  const args = ["--import", "tsx", API, ...passThrough, ...(mode === "secure" ? ["--secure"] : []), "--json", json];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      writeFileSync(log, out);
      if (code !== 0) return reject(new Error(`${mode} run ${round} exited ${code}; see ${log}`));
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
const line = (mode: Mode, r: number, f: Figures) =>
  `| ${r} | ${mode} | ${fmt(f.bulkRate)}/s | ${fmt(f.bulkCpuPerVmMs, 3)} ms | ${fmt(f.singleRate)}/s | ${fmt(f.singleP50Ms, 1)} ms | ${fmt(f.singleP99Ms, 1)} ms | ${fmt(f.singleCpuPerVmMs, 3)} ms |`;

const results: Record<Mode, Figures[]> = { plain: [], secure: [] };
const rows: string[] = [];
console.log(`machine: ${cpus().length}× ${cpus()[0]?.model}; load average at start ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
for (let r = 1; r <= rounds; r++) {
  const order: Mode[] = r % 2 ? ["plain", "secure"] : ["secure", "plain"];
  for (const mode of order) {
    const f = await run(mode, r);
    results[mode].push(f);
    rows.push(line(mode, r, f));
    console.log(rows.at(-1));
  }
}
const m = (mode: Mode) => {
  const of = (k: keyof Figures) => median(results[mode].map((f) => f[k]));
  return {
    bulkRate: of("bulkRate"),
    bulkCpuPerVmMs: of("bulkCpuPerVmMs"),
    singleRate: of("singleRate"),
    singleP50Ms: of("singleP50Ms"),
    singleP99Ms: of("singleP99Ms"),
    singleCpuPerVmMs: of("singleCpuPerVmMs"),
    singleErrors: of("singleErrors"),
  };
};
const plain = m("plain");
const secure = m("secure");
const pct = (a: number, b: number) => `${b >= a ? "+" : ""}${(((b - a) / a) * 100).toFixed(1)} %`;

console.log(`\nCommand: \`node --import tsx benchmarks/api-tls.ts --rounds ${rounds} ${passThrough.join(" ")}\`; load average at end ${loadavg().map((l) => l.toFixed(1)).join(" ")}\n`);
console.log("| round | mode | a. bulk rate | a. scheduler CPU per VM | b. single rate | b. p50 | b. p99 | b. scheduler CPU per VM |");
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
console.log(line("plain", 0, plain).replace("| 0 |", "| median |"));
console.log(line("secure", 0, secure).replace("| 0 |", "| median |"));
console.log(
  `| secure vs plain | | ${pct(plain.bulkRate, secure.bulkRate)} | ${pct(plain.bulkCpuPerVmMs, secure.bulkCpuPerVmMs)} | ${pct(plain.singleRate, secure.singleRate)} | ${pct(plain.singleP50Ms, secure.singleP50Ms)} | ${pct(plain.singleP99Ms, secure.singleP99Ms)} | ${pct(plain.singleCpuPerVmMs, secure.singleCpuPerVmMs)} |`,
);
