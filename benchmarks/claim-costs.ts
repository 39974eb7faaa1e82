// CPU per call of the fixed costs a single CreateVm pays before it is placed, each measured alone
// on real Postgres (so a loaded machine moves the wall clock, not these):
// - the wire check of the request bytes (checkWire, before the generated decoder);
// - authenticating the call's token: a token-row read per call (findToken) against the TokenCache;
//   this process's CPU and the CPU of the Postgres backends that served it, per call.
//   node --import tsx benchmarks/claim-costs.ts [--calls=5000] [--concurrency=64] [--rounds=3]
// The two authentication variants alternate, round after round.
import { readFileSync } from "node:fs";
import { Metadata } from "@grpc/grpc-js";
import { CreateVmsRequest, VmSpec } from "@drover/proto";
import { Counter, Registry } from "prom-client";
import { openTestDatabase } from "@drover/store/testing";
import { requestMessage, checkWire } from "../packages/scheduler/src/api/wire-check.js";
import { Authenticator } from "../packages/scheduler/src/auth/authenticate.js";
import { issueToken } from "../packages/scheduler/src/auth/issue-token.js";
import { TokenCache } from "../packages/scheduler/src/auth/token-cache.js";
import { median, table } from "./common.js";
import { numberFlag } from "./flags.js";

const CALLS = numberFlag("calls", 5000);
const CONCURRENCY = numberFlag("concurrency", 64);
const ROUNDS = numberFlag("rounds", 3);
const TICK_MS = 10; // /proc's clock ticks (USER_HZ 100)

const db = await openTestDatabase();
const sql = db.sql;

async function backendCpuMs(): Promise<number> {
  let ms = 0;
  for (const { pid } of await sql<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      ms += (Number(f[11]) + Number(f[12])) * TICK_MS;
    } catch {
      // gone meanwhile
    }
  }
  return ms;
}

const cpuMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

try {
  // ---- the wire check: one typical single-VM request, many times
  const bytes = CreateVmsRequest.encode(
    CreateVmsRequest.fromPartial({ template: VmSpec.fromPartial({ name: "web", vcpus: 2, memoryMib: 4096, diskGib: 20, image: "debian-12" }), count: 1 }),
  ).finish();
  const message = requestMessage("/drover.v1.VmService/CreateVms");
  const wire: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = cpuMs();
    for (let i = 0; i < 100_000; i++) checkWire(message, bytes);
    wire.push(((cpuMs() - c0) * 1000) / 100_000);
  }

  // ---- authentication: the same token, CONCURRENCY calls in flight, as 64 clients of one project
  const { bearer } = await issueToken(sql, { role: "member", project: "default", description: "bench" });
  const md = new Metadata();
  md.set("authorization", `Bearer ${bearer}`);
  const refusals = new Counter({ name: "refusals", help: "-", labelNames: ["surface", "reason"], registers: [new Registry()] });
  const cache = new TokenCache(sql);
  await cache.start();
  const variants = {
    "read per call": new Authenticator(sql, false, refusals),
    "TokenCache": new Authenticator(sql, false, refusals, undefined, (id) => cache.find(id)),
  };
  const results = new Map<string, { js: number[]; pg: number[]; wall: number[] }>();
  for (let r = 0; r < 1 + ROUNDS; r++) {
    for (const [name, auth] of Object.entries(variants)) {
      const pg0 = await backendCpuMs();
      const c0 = cpuMs();
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next++ < CALLS) await auth.authenticate(md);
        }),
      );
      const wall = performance.now() - t0;
      const js = cpuMs() - c0;
      const pg = (await backendCpuMs()) - pg0;
      if (r === 0) continue; // warm-up
      const x = results.get(name) ?? { js: [], pg: [], wall: [] };
      x.js.push((js * 1000) / CALLS);
      x.pg.push((pg * 1000) / CALLS);
      x.wall.push(CALLS / (wall / 1000));
      results.set(name, x);
    }
  }
  console.log(`node ${process.version}; median of ${ROUNDS} rounds; authentication: ${CALLS} calls, ${CONCURRENCY} in flight`);
  const rows: (string | number)[][] = [["wire check of a CreateVms request (checkWire)", median(wire).toFixed(2), "–", "–"]];
  for (const [name, x] of results) rows.push([`authenticate, ${name}`, median(x.js).toFixed(1), median(x.pg).toFixed(1), median(x.wall).toFixed(0)]);
  console.log(table(["per call", "scheduler CPU µs", "Postgres CPU µs", "calls/s (wall)"], rows));
} finally {
  await db.close();
}
