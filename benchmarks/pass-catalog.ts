// What a dispatch pass's catalog lookups cost (dispatch/pass-catalog.ts): 24 VMs of one image and
// one network looked up VM by VM (getImage and getNetwork each, as the dispatcher did) against once
// for the pass (getImagesNamed and getNetworksNamed), on one connection, alternating. Per VM: the
// Postgres backend's CPU (/proc/<pid>/schedstat) and this process's (postgres.js's side).
//
//   node --import tsx benchmarks/pass-catalog.ts [--rounds=300] [--pairs=6]
import { readFileSync } from "node:fs";
import * as store from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { numberFlag } from "./flags.js";

const ROUNDS = numberFlag("rounds", 300, { positive: true });
const PAIRS = numberFlag("pairs", 6, { positive: true });
const PASS = 24; // VMs a pass, as bench:api's 64 clients made them

const backendCpuUs = (pid: number) => Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
const ownCpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const db = await createTestDatabase();
const sql = store.connect(db.url, { max: 1 });
try {
  await store.migrate(sql);
  await store.insertImage(sql, { name: "debian-12", format: "qcow2", sizeBytes: 1, sha256: "0".repeat(64), kernel: "", initrd: "", cmdline: "", kernelSha256: "", initrdSha256: "" });
  await store.insertNetwork(sql, { name: "lan", description: "", type: "bridge" });
  const pid = (await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
  const perVm = async () => {
    await Promise.all(Array.from({ length: PASS }, async () => [await store.getImage(sql, "debian-12"), await store.getNetwork(sql, "lan")]));
  };
  const perPass = async () => {
    const [images, networks] = await Promise.all([store.getImagesNamed(sql, ["debian-12"]), store.getNetworksNamed(sql, ["lan"])]);
    for (let i = 0; i < PASS; i++) void [images.get("debian-12"), networks.get("lan")];
  };
  const rows: string[] = [];
  for (let pair = 0; pair < PAIRS; pair++) {
    for (const [label, pass] of pair % 2 === 0 ? ([["VM by VM", perVm], ["once a pass", perPass]] as const) : ([["once a pass", perPass], ["VM by VM", perVm]] as const)) {
      const b0 = backendCpuUs(pid);
      const o0 = ownCpuUs();
      for (let r = 0; r < ROUNDS; r++) await pass();
      const vms = ROUNDS * PASS;
      rows.push(`| ${label} (${pair + 1}) | ${((backendCpuUs(pid) - b0) / vms).toFixed(1)} µs | ${((ownCpuUs() - o0) / vms).toFixed(1)} µs |`);
    }
  }
  console.log(`\nCatalog lookups per VM dispatched, passes of ${PASS} VMs of one image and network, ${ROUNDS} passes a row\n`);
  console.log("| lookups | Postgres backend | this process |");
  console.log("|---|---|---|");
  for (const r of rows) console.log(r);
} finally {
  await sql.end();
  await db.drop();
}
