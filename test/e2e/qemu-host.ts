// Shared by the end-to-end tests on qemu:///system.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, type AgentConfig, type RunningAgent } from "@drover/agent";
import { defaultConfig, startScheduler, type RunningScheduler, type SchedulerConfig } from "@drover/scheduler";
import type { Sql } from "@drover/store";
import { openTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "../support/clients.js";
import { NATS_URL } from "../support/cluster.js";

export const QEMU_URI = "qemu:///system";

/**
 * A domain start must be RUNNING within this. Healthy, it takes under a second (KVM or software
 * emulation alike); with a /dev/kvm QEMU cannot open, libvirtd re-probes QEMU on every define and a
 * start takes ~35 s: the tests fail on that rather than wait it out.
 */
export const START_WITHIN_MS = 15_000;

/** A state dir QEMU's user (libvirt-qemu) can enter: mkdtemp makes 0700, which fails every disk. */
export function qemuStateDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}

/**
 * Prints which domain type the host runs VMs with and why, so an emulated run says so; fails at
 * once, with the agent's fix, when libvirtd answers so slowly that every start would take tens of
 * seconds (then waiting for START_WITHIN_MS only to fail, and for the starts in flight, takes minutes).
 */
export function announceDomainType(agent: RunningAgent): void {
  console.log(`${agent.name}: domain type ${agent.domainType}: ${agent.domainTypeReason}`);
  if (agent.libvirtProbe?.slow) throw new Error(agent.warnings.join("\n"));
}

/** kill -9 of the QEMU process that runs the VM's domain; its pid, to tell the next QEMU from it. */
export function killQemu(vmId: string): number {
  const name = execFileSync("virsh", ["-q", "-c", QEMU_URI, "domname", vmId], { encoding: "utf8" }).trim();
  const pid = Number(readFileSync(`/run/libvirt/qemu/${name}.pid`, "utf8").trim());
  process.kill(pid, "SIGKILL");
  return pid;
}

/** The pid of the QEMU running the VM's domain now, or undefined while none runs. */
export function qemuPid(vmId: string): number | undefined {
  try {
    const name = execFileSync("virsh", ["-q", "-c", QEMU_URI, "domname", vmId], { encoding: "utf8" }).trim();
    if (!execFileSync("virsh", ["-q", "-c", QEMU_URI, "domstate", vmId], { encoding: "utf8" }).startsWith("running")) return undefined;
    return Number(readFileSync(`/run/libvirt/qemu/${name}.pid`, "utf8").trim());
  } catch {
    return undefined;
  }
}

/**
 * Destroys and undefines the test's domains, whatever state they are in. A failed
 * assertion skips DeleteVm, and QEMU would run on with its files gone.
 */
export function removeDomains(uri: string, ids: Iterable<string>): void {
  for (const id of ids) {
    for (const cmd of ["destroy", "undefine"]) {
      try {
        execFileSync("virsh", ["-c", uri, cmd, id], { stdio: "ignore" });
      } catch {
        // already gone: the test deleted it
      }
    }
  }
}

export interface QemuHost {
  scheduler: RunningScheduler;
  agent: RunningAgent;
  /** The public API of the scheduler. */
  api: ApiClient;
  /** The scheduler's database, for the test's own checks. */
  sql: Sql;
  /** Removes the domains of `created` (see removeDomains), stops both, drops the database, deletes the state dir. */
  stop(): Promise<void>;
}

/**
 * An insecure scheduler on a database of its own and one agent on qemu:///system named `node`,
 * keeping its files in `stateDir` (qemuStateDir; a test may fill it first, e.g. with a guest
 * image), registered before it returns. `created` is the test's list of the VMs it made.
 */
export async function startQemuHost(o: {
  node: string;
  stateDir: string;
  created: readonly string[];
  scheduler?: Partial<SchedulerConfig>;
  agent?: Partial<AgentConfig>;
}): Promise<QemuHost> {
  const db = await openTestDatabase();
  const scheduler = await startScheduler(
    { ...defaultConfig, insecure: true, databaseUrl: db.url, natsUrl: NATS_URL, listen: "127.0.0.1:0", metricsListen: "", tickMs: 50, ...o.scheduler },
    () => {},
  );
  const agent = await startAgent(
    { insecure: true, nodeName: o.node, libvirtUri: QEMU_URI, listen: "127.0.0.1:0", schedulerAddress: scheduler.address, heartbeatIntervalMs: 300, stateDir: o.stateDir, ...o.agent },
    { log: () => {} },
  );
  announceDomainType(agent);
  await agent.registered();
  const api = apiClient(scheduler.address);
  return {
    scheduler,
    agent,
    api,
    sql: db.sql,
    async stop() {
      removeDomains(QEMU_URI, o.created);
      api.close();
      await agent.stop();
      await scheduler.stop();
      await db.close();
      rmSync(o.stateDir, { recursive: true, force: true });
    },
  };
}

/** The VM's console log as the API returns it now (not followed). */
export async function consoleText(api: ApiClient, id: string): Promise<string> {
  let out = "";
  await new Promise<void>((resolve, reject) => {
    const stream = api.vms.getConsoleLog({ id, follow: false });
    stream.on("data", (m: { data: Uint8Array }) => (out += Buffer.from(m.data).toString("utf8")));
    stream.on("end", () => resolve());
    stream.on("error", reject);
  });
  return out;
}
