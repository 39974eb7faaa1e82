// Real-guest benchmark on this machine's qemu:///system: the test guest (scripts/build-test-guest.sh)
// through Drover's API, each next to `virsh create` of the same domain XML as the floor.
//
//   node --import tsx benchmarks/real-guest.ts [--runs 5] [--bulk 10]
//
// Rows: API (CreateVms) -> RUNNING; API -> the user data's marker on the serial console; a bulk
// of --bulk VMs in one CreateVms, all RUNNING. The floor boots the domain XML the agent wrote
// (dumpxml of a Drover VM, with a new name and UUID) with virsh create, timing create and the
// marker in its console log. Everything stays on this machine (drover-nat is a NAT network here).
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startAgent } from "@drover/agent";
import { VmState } from "@drover/proto";
import { defaultConfig, startScheduler } from "@drover/scheduler";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient } from "../test/support/clients.js";
import { NATS_URL } from "../test/support/cluster.js";
import { vmSpec } from "../test/support/requests.js";
import { waitFor } from "../test/support/wait.js";
import { qemuStateDir } from "../test/e2e/qemu-host.js";
import { NAT_NETWORK, ensureNatNetwork, guestBoot, installGuest, testGuest } from "../test/e2e/test-guest.js";
import { median, table } from "./common.js";

const { values: args } = parseArgs({ options: { runs: { type: "string", default: "5" }, bulk: { type: "string", default: "10" } } });
const RUNS = Number(args.runs);
const BULK = Number(args.bulk);
const URI = "qemu:///system";
const MARKER = "drover-bench-marker";
const virsh = (...a: string[]) => execFileSync("virsh", ["-q", "-c", URI, ...a], { encoding: "utf8" });
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

async function main(): Promise<void> {
  const guest = testGuest();
  ensureNatNetwork();
  const db = await createTestDatabase();
  const stateDir = qemuStateDir("drover-bench-guest-");
  installGuest(guest, join(stateDir, "images"));
  const scheduler = await startScheduler({ ...defaultConfig, insecure: true, databaseUrl: db.url, natsUrl: NATS_URL, listen: "127.0.0.1:0", metricsListen: "", tickMs: 20 }, () => {});
  const agent = await startAgent(
    { insecure: true, nodeName: "bench-host", libvirtUri: URI, listen: "127.0.0.1:0", schedulerAddress: scheduler.address, heartbeatIntervalMs: 500, stateDir },
    { log: () => {} },
  );
  await agent.registered();
  const api = apiClient(scheduler.address);
  await api.createNetwork(NAT_NETWORK, "libvirt NAT network on this machine");
  // Ten 1-vCPU guests on a 2-core host: overcommit the CPU (they idle after boot).
  await api.updateNode({ name: "bench-host", cpuAllocationRatio: 16 });
  const spec = (name: string) => vmSpec(name, 1, 128, { ...guestBoot(guest, `#!/bin/sh\necho ${MARKER}\n`), network: NAT_NETWORK });
  const consoleFile = (id: string) => join(stateDir, "consoles", `${id}.log`);
  const hasMarker = (path: string) => existsSync(path) && readFileSync(path, "utf8").includes(MARKER);
  const result = { running: [] as number[], marker: [] as number[], floorCreate: [] as number[], floorMarker: [] as number[], bulk: [] as number[], floorBulk: [] as number[] };

  try {
    let xml = "";
    for (let r = 0; r < RUNS; r++) {
      const t0 = process.hrtime.bigint();
      const id = (await api.createVms({ template: spec(`bench-${r}`), count: 1 })).vms[0]!.id;
      await waitFor("RUNNING", async () => ((await api.getVm(id)).state === VmState.VM_STATE_RUNNING ? true : undefined), 30_000, 5);
      result.running.push(ms(t0));
      await waitFor("marker", async () => (hasMarker(consoleFile(id)) ? true : undefined), 60_000, 20);
      result.marker.push(ms(t0));
      if (!xml) {
        // Keep the seed for the floor: DeleteVm removes the VM's own.
        const seed = join(stateDir, "floor-seed.iso");
        copyFileSync(join(stateDir, "seeds", `${id}.iso`), seed);
        xml = virsh("dumpxml", "--inactive", id).replace(/<source file='[^']*\/seeds\/[^']*'/, `<source file='${seed}'`);
      }
      await api.deleteVm(id);
    }
    // The floor: the same XML, a new name, UUID and console log, no agent and no scheduler.
    for (let r = 0; r < RUNS; r++) {
      const uuid = randomUUID();
      const log = join(stateDir, `floor-${r}.log`);
      const file = join(stateDir, `floor-${r}.xml`);
      writeFileSync(file, xml.replace(/<name>[^<]*<\/name>/, `<name>floor-${r}</name>`).replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuid}</uuid>`).replace(/<log file='[^']*'/, `<log file='${log}'`).replace(/<mac address='[^']*'\/>/, ""));
      const t0 = process.hrtime.bigint();
      virsh("create", file);
      result.floorCreate.push(ms(t0));
      await waitFor("floor marker", async () => (hasMarker(log) ? true : undefined), 60_000, 20);
      result.floorMarker.push(ms(t0));
      virsh("destroy", uuid);
      rmSync(log, { force: true });
    }
    await waitFor("the deleted VMs gone", async () => ((await api.listVms({ state: VmState.VM_STATE_RUNNING })).vms.length === 0 ? true : undefined), 30_000);
    // A bulk of BULK VMs in one request, all RUNNING.
    {
      const t0 = process.hrtime.bigint();
      const ids = (await api.createVms({ template: spec("bulk"), count: BULK })).vms.map((v) => v.id);
      await waitFor("bulk RUNNING", async () => {
        const vms = await Promise.all(ids.map((id) => api.getVm(id)));
        const failed = vms.find((v) => v.state === VmState.VM_STATE_FAILED);
        if (failed) throw new Error(`VM ${failed.id} FAILED: ${failed.reason}`);
        return vms.every((v) => v.state === VmState.VM_STATE_RUNNING) ? true : undefined;
      }, 60_000, 10).catch(async (err: unknown) => {
        for (const id of ids) await api.deleteVm(id).catch(() => {});
        throw err;
      });
      result.bulk.push(ms(t0));
      for (const id of ids) await api.deleteVm(id);
    }
    {
      const files = Array.from({ length: BULK }, (_, i) => {
        const file = join(stateDir, `floor-bulk-${i}.xml`);
        writeFileSync(file, xml.replace(/<name>[^<]*<\/name>/, `<name>floor-bulk-${i}</name>`).replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${randomUUID()}</uuid>`).replace(/<log file='[^']*'/, `<log file='${join(stateDir, `floor-bulk-${i}.log`)}'`).replace(/<mac address='[^']*'\/>/, ""));
        return file;
      });
      const t0 = process.hrtime.bigint();
      for (const f of files) virsh("create", f);
      result.floorBulk.push(ms(t0));
      for (let i = 0; i < BULK; i++) virsh("destroy", `floor-bulk-${i}`);
    }
  } finally {
    api.close();
    await agent.stop();
    await scheduler.stop();
    await db.drop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  const f = (xs: number[]) => `${Math.round(median(xs))} ms`;
  console.log(`domain type ${agent.domainType}: ${agent.domainTypeReason}`);
  console.log(table(
    ["measure", `Drover p50 (n=${RUNS})`, "virsh create p50 (floor)", "goal"],
    [
      ["API -> RUNNING", f(result.running), f(result.floorCreate), "<= 300 ms"],
      ["API -> marker on the console", f(result.marker), f(result.floorMarker), "<= 2 s"],
      [`bulk of ${BULK}, all RUNNING`, f(result.bulk), `${f(result.floorBulk)} (${BULK} sequential creates)`, "<= 3 s"],
    ],
  ));
}

await main();
process.exit(0);
