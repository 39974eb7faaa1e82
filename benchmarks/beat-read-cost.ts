// What a streamed beat costs between its HTTP/2 stream and the heartbeat handler, alone: the
// frame reader (DirectBeatCall) and the repeated-beat fast path (BeatReader) of this tree and of
// --before DIR, each in a server process of its own, fed by --streams connections (one stream
// each, as every agent has its own) beating the same beat but for seq, --rate beats a second in
// all. No Postgres, no loops, no TLS (the TLS read is the same for both builds): the server's CPU
// (all its threads, user and system) per beat, before and after alternating over --rounds (ABBA).
//
//   npx tsc -b && node --import tsx benchmarks/beat-read-cost.ts --before DIR [--streams 2000] [--rate 5000] [--seconds 15] [--rounds 2]
import { fork, type ChildProcess } from "node:child_process";
import { connect, createServer, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { randomUUID } from "node:crypto";
import { DomainState, StreamHeartbeatsRequest, type HeartbeatRequest } from "@drover/proto";
import { flag, importBuilt, numberFlag, requiredBeforeDir } from "./flags.js";
import { slotClock } from "./slot-clock.js";

interface Built {
  DirectBeatCall: new (stream: unknown, headers: unknown, maxBytes: number) => { onMessage(f: (b: Buffer) => void): void };
}
interface Reader {
  BeatReader: new () => { read(b: Buffer): { seq: number } };
}

/** The server: every stream read by the build in `dir`; answers {beats, cpuUs} when asked. */
async function serve(dir: string): Promise<void> {
  const { DirectBeatCall } = await importBuilt<Built>(dir, "packages/scheduler/dist/api/direct-beats.js");
  const { BeatReader } = await importBuilt<Reader>(dir, "packages/scheduler/dist/api/beat-reader.js");
  let beats = 0;
  const h2 = createServer();
  h2.on("stream", (stream, headers) => {
    const reader = new BeatReader();
    new DirectBeatCall(stream, headers, 1 << 20).onMessage((b) => {
      reader.read(b);
      beats++;
    });
  });
  h2.listen(0, "127.0.0.1", () => process.send!({ port: (h2.address() as { port: number }).port }));
  process.on("message", () => {
    const u = process.cpuUsage();
    process.send!({ beats, cpuUs: u.user + u.system });
  });
}

/** One beat's framed bytes, as an agent's StreamHeartbeats message with 2 RUNNING domains. */
function framed(req: HeartbeatRequest): Buffer {
  const body = StreamHeartbeatsRequest.encode({ beat: req }).finish();
  const out = Buffer.alloc(5 + body.length);
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
}

async function measure(label: string, dir: string, streams: number, rate: number, seconds: number): Promise<string> {
  const child: ChildProcess = fork(import.meta.filename, ["--serve", dir], { execArgv: ["--import", "tsx"] });
  const next = () => new Promise<any>((resolve) => child.once("message", resolve));
  const { port } = await next();
  const sessions: ClientHttp2Session[] = [];
  const calls: ClientHttp2Stream[] = [];
  const reqs: HeartbeatRequest[] = [];
  for (let i = 0; i < streams; i++) {
    const s = connect(`http://127.0.0.1:${port}`);
    sessions.push(s);
    calls.push(s.request({ ":method": "POST", ":path": "/drover.v1.NodeRegistryService/StreamHeartbeats", "content-type": "application/grpc" }, { endStream: false }));
    const vm = () => ({ vmId: randomUUID(), name: "vm", state: DomainState.DOMAIN_STATE_RUNNING, reason: "", interfaces: [], reportInterfaces: false, generation: 1 });
    reqs.push({ name: `node-${i}`, bootId: randomUUID(), seq: 0, libvirtUnavailable: "", intervalMs: 0, domains: [vm(), vm()] });
  }
  // Every stream once per streams/rate seconds, in 100 slots.
  const SLOTS = 100;
  const stopClock = slotClock(SLOTS, (streams / rate) * 1000, (k) => {
    for (let i = k; i < streams; i += SLOTS) {
      reqs[i]!.seq++;
      calls[i]!.write(framed(reqs[i]!));
    }
  });
  await new Promise((r) => setTimeout(r, 3000)); // warm-up
  child.send("report");
  const a = await next();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  child.send("report");
  const b = await next();
  const wallS = (performance.now() - t0) / 1000;
  stopClock();
  for (const s of sessions) s.destroy();
  child.kill();
  const perBeat = (b.cpuUs - a.cpuUs) / (b.beats - a.beats);
  return `| ${label} | ${streams} | ${Math.round((b.beats - a.beats) / wallS)} | ${((b.cpuUs - a.cpuUs) / 1e4 / wallS).toFixed(1)} % | ${perBeat.toFixed(1)} µs |`;
}

async function main(): Promise<void> {
  const before = requiredBeforeDir();
  const after = flag("after") ?? import.meta.dirname + "/..";
  const streams = numberFlag("streams", 2000, { positive: true });
  const rate = numberFlag("rate", 5000, { positive: true });
  const seconds = numberFlag("seconds", 15, { positive: true });
  const rounds = numberFlag("rounds", 2, { positive: true });
  const rows: string[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const label of r % 2 === 0 ? ["before", "after"] : ["after", "before"]) {
      rows.push(await measure(label, label === "before" ? before : after, streams, rate, seconds));
      console.log(rows.at(-1));
    }
  }
  console.log(`\n| build | streams | beats/s read | server CPU (% of a core) | CPU per beat |\n|---|---|---|---|---|\n${rows.join("\n")}`);
}

const serveDir = flag("serve");
if (serveDir) void serve(serveDir);
else
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
