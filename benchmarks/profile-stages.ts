// Breaks a CPU profile of the scheduler thread (benchmarks/api.ts --profile) down by stage of a
// create's path, per VM; with an idle profile (--idle-seconds S --profile), above that idle rate.
//
//   node --import tsx benchmarks/profile-stages.ts --load .drover/b-scheduler-….cpuprofile
//        [--idle .drover/b-idle-….cpuprofile]
//
// A sample goes to the stage of the innermost frame that says what it is doing: our own code by
// its module (validation, batcher, dispatcher, heartbeats, …), or a library (postgres.js,
// grpc-js's server or client side, NATS, prom-client). Node's internals (streams, http2, buffers)
// count for the nearest such frame above them, or "node internals" if there is none: an http2
// read of a socket has no caller on its stack. postgres.js work that runs off a socket read
// (parsing results, resolving queries) has no caller on its stack either; it is its own stage.
import { readFileSync } from "node:fs";
import { flag } from "./flags.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Our modules by stage, first match wins (paths under packages/, as built). */
const OURS: [RegExp, string][] = [
  [/scheduler\/dist\/api\/(wire-check|validation)\.js/, "validation (wire check, validateCreate)"],
  [/scheduler\/dist\/auth\//, "auth and guard"],
  [/scheduler\/dist\/create\/plan\.js$/, "batcher: plan, request hash, rows, response"],
  [/placement\/dist\//, "placement engine"],
  [/scheduler\/dist\/create\/|scheduler\/dist\/api\/vm-service\.js/, "batcher: queue, caches, placement glue"],
  [/store\/dist\/(placements|claims|quota|requests|audit|groups|vms|array-literal|event-sql)\.js/, "commit: statement parameters (store)"],
  [/scheduler\/dist\/dispatch\/running-marker\.js/, "dispatch: RunningMarker"],
  [/scheduler\/dist\/dispatch\//, "dispatch: lease, EnsureDomain request"],
  [/store\/dist\/work\.js/, "dispatch: lease, EnsureDomain request"],
  [/scheduler\/dist\/relay\/|store\/dist\/outbox\.js|events\/dist\//, "relay (outbox to NATS)"],
  [/scheduler\/dist\/(liveness|nodes)\/|scheduler\/dist\/api\/(heartbeat-stream|registry-service|beat-from-proto)\.js|store\/dist\/(nodes|vm-truth|liveness-window)\.js/, "heartbeats and reconcile"],
  [/scheduler\/dist\/metrics\.js|prom-client\//, "metrics"],
  [/scheduler\/dist\/loop\.js/, "scheduler loop"],
];
const LIBRARIES: [RegExp, string][] = [
  [/postgres\/src\//, "postgres.js"],
  [/grpc-js\/build\/src\//, "grpc-js"],
  [/nats|nats-base-client/, "NATS client"],
];
const GRPC_SERVER = /grpc-js\/build\/src\/(server|server-interceptors|server-call)\.js/;
const GRPC_CLIENT = /grpc-js\/build\/src\/(client|client-interceptors|call|channel|internal-channel|resolving-call|retrying-call|load-balancing-call|subchannel|subchannel-call|transport|compression-filter)\.js/;

/** grpc-js files serve both sides (metadata, the stream decoder): the side is the nearest side-specific frame. */
function grpcSide(stack: CallFrame[], from: number): string {
  for (let i = from; i < stack.length; i++) {
    const url = stack[i]!.url;
    if (GRPC_SERVER.test(url)) return "gRPC server (grpc-js)";
    if (GRPC_CLIENT.test(url)) return "gRPC client to agents (grpc-js)";
  }
  return "grpc-js (either side)";
}

const short = (url: string) => url.replace(/.*node_modules\//, "").replace(/.*\/packages\//, "");

/** The stage of one sample's stack (leaf first). */
function stageOf(stack: CallFrame[]): string {
  const leaf = stack[0]!;
  if (leaf.functionName === "(garbage collector)") return "garbage collection";
  if (leaf.functionName === "(idle)") return "(idle)";
  if (leaf.functionName === "(program)") return "(program: V8 and native, unattributed)";
  let encoding = false;
  for (const [i, f] of stack.entries()) {
    const url = short(f.url);
    if (/proto\/dist\/gen\/|@bufbuild\/protobuf/.test(url)) {
      encoding = true;
      continue;
    }
    for (const [re, stage] of OURS) if (re.test(url)) return stage;
    for (const [re, lib] of LIBRARIES) {
      if (!re.test(url)) continue;
      if (lib === "postgres.js") return postgresStage(stack);
      const name = lib === "grpc-js" ? grpcSide(stack, i) : lib;
      return encoding ? `${name}: protobuf encode/decode` : name;
    }
  }
  return encoding ? "protobuf (no caller on the stack)" : "node internals (no caller on the stack)";
}

/** postgres.js: reading what a socket brought (results), or a query built and written for a caller. */
function postgresStage(stack: CallFrame[]): string {
  for (const f of stack) {
    const url = short(f.url);
    for (const [re, stage] of OURS) if (re.test(url)) return `postgres.js, called from ${stage}`;
  }
  const reading = stack.some((f) => f.functionName === "data" && /postgres\/src\/connection\.js/.test(f.url));
  return reading ? "postgres.js: reading results" : "postgres.js: building and writing queries";
}

/**
 * Milliseconds on a CPU per stage: each stage's share of the busy samples times the thread's CPU
 * time over the profile (its .json sidecar, from /proc). Samples are counted, not weighted by
 * their time deltas: on a loaded machine a delta also holds the time the thread waited for a core.
 */
function stages(file: string): { ms: Map<string, number>; wallMs: number; vms: number } {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const side = JSON.parse(readFileSync(`${file}.json`, "utf8")) as { cpuMs: number; wallMs: number; vms?: number };
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stageById = new Map<number, string>();
  const counts = new Map<string, number>();
  for (const id of p.samples) {
    let stage = stageById.get(id);
    if (!stage) {
      const stack: CallFrame[] = [];
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur)!.callFrame);
      stage = stageOf(stack);
      stageById.set(id, stage);
    }
    if (stage !== "(idle)") counts.set(stage, (counts.get(stage) ?? 0) + 1);
  }
  const busy = [...counts.values()].reduce((a, b) => a + b, 0);
  const ms = new Map([...counts].map(([k, n]) => [k, (side.cpuMs * n) / busy]));
  return { ms, wallMs: side.wallMs, vms: side.vms ?? 0 };
}

const loadFile = flag("load");
if (!loadFile) throw new Error("usage: --load FILE [--idle FILE]");
const load = stages(loadFile);
const vms = load.vms;
if (!(vms > 0)) throw new Error(`${loadFile}: no VM count in its .json (an idle profile goes after --idle)`);
const idleFile = flag("idle");
const idle = idleFile ? stages(idleFile) : undefined;
/** The idle profile's cost of a stage over the load profile's wall time, per VM. */
const idlePerVm = (s: string) => (idle ? ((idle.ms.get(s) ?? 0) / idle.wallMs) * (load.wallMs / vms) : 0);
const names = [...new Set([...load.ms.keys(), ...(idle?.ms.keys() ?? [])])];
const rows = names.map((s) => ({ s, perVm: (load.ms.get(s) ?? 0) / vms, above: (load.ms.get(s) ?? 0) / vms - idlePerVm(s) }));
rows.sort((a, b) => b.above - a.above);
const total = rows.reduce((a, r) => a + r.perVm, 0);
const totalAbove = rows.reduce((a, r) => a + r.above, 0);
console.log(`load profile ${(load.wallMs / 1000).toFixed(1)} s, ${vms} VMs, ${((load.ms.size && total * vms) / (load.wallMs / 1000)).toFixed(0)} ms/s on a CPU${idle ? `; idle profile ${(idle.wallMs / 1000).toFixed(1)} s, ${([...idle.ms.values()].reduce((a, b) => a + b, 0) / (idle.wallMs / 1000)).toFixed(0)} ms/s` : ""}`);
console.log(`| stage | µs per VM | ${idle ? "µs per VM above idle | " : ""}share |`);
console.log(`|---|---|${idle ? "---|" : ""}---|`);
for (const r of rows) {
  if (Math.abs(r.perVm) < 0.0005 && Math.abs(r.above) < 0.0005) continue;
  console.log(`| ${r.s} | ${(r.perVm * 1000).toFixed(1)} | ${idle ? `${(r.above * 1000).toFixed(1)} | ` : ""}${(100 * (idle ? r.above / totalAbove : r.perVm / total)).toFixed(1)} % |`);
}
console.log(`| **all on a CPU** | **${(total * 1000).toFixed(1)}** | ${idle ? `**${(totalAbove * 1000).toFixed(1)}** | ` : ""}100 % |`);
