import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testHostUri } from "@drover/agent/testing";
import { VANISHED_GRACE_MS } from "@drover/scheduler";
import { connect, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { freePort } from "../support/ports.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";
import { startFaultCluster, type FaultCluster } from "./fault-cluster.js";
import { expectInvariants } from "./invariants.js";
import { privateNats } from "./services.js";

// The restarted agent must beat again before its node is judged DOWN. A node process
// start took more than 5 s on a loaded 2-core CI machine (the node went DOWN and its VMs
// LOST, which is not this scenario), so the timeout leaves room for a slow start.
const RESTART_ALLOWANCE_MS = 20_000;

const AGENT_MAIN = fileURLToPath(new URL("../../packages/agent/dist/main.js", import.meta.url));

/** A drover-agent process on a test-driver host; its domains live in the process, so a kill -9 loses them. */
function agentProcess(env: Record<string, string>) {
  let child: ChildProcess | undefined;
  return {
    start() {
      child = spawn(process.execPath, [AGENT_MAIN], { env: { ...process.env, ...env }, stdio: "ignore" });
    },
    async kill() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await exited;
    },
  };
}

// An agent process is killed (-9) in the middle of a 500-VM bulk and started
// again at once, before its node could be judged DOWN. The test driver keeps
// domains in the process, so the new agent has none: the VMs that ran there
// must be re-created (or end FAILED/LOST with a reason), never stay RUNNING
// without a domain.
describe("kill -9 of an agent in the middle of a 500-VM bulk", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let nats: Awaited<ReturnType<typeof privateNats>>;
  let cluster: FaultCluster;
  let sql: Sql;
  const stateDir = mkdtempSync(join(tmpdir(), "drover-fault-agent-"));
  const agents: { name: string; address: string; proc: ReturnType<typeof agentProcess> }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    nats = await privateNats();
    cluster = await startFaultCluster(db.url, nats.url, [], { heartbeatTimeoutMs: RESTART_ALLOWANCE_MS });
    sql = connect(db.url, { max: 2 });
    for (const name of ["a", "b", "c"]) {
      const address = `127.0.0.1:${await freePort()}`;
      const proc = agentProcess({
        DROVER_INSECURE: "1",
        DROVER_NODE_NAME: name,
        DROVER_LIBVIRT_URI: testHostUri({ vcpus: 256, memoryMib: 262144 }),
        DROVER_AGENT_LISTEN: address,
        DROVER_SCHEDULER_ADDR: cluster.scheduler.address,
        DROVER_HEARTBEAT_MS: "500",
        DROVER_STATE_DIR: join(stateDir, name),
        DROVER_NODE_DISK_GIB: "1000",
        DROVER_AGENT_METRICS: "",
      });
      proc.start();
      agents.push({ name, address, proc });
    }
    await waitFor("3 agent processes registered", async () => ((await cluster.api.listNodes()).length === 3 ? true : undefined), 30_000);
  });
  afterAll(async () => {
    for (const a of agents) await a.proc.kill();
    await cluster?.stop();
    await sql?.end();
    await nats?.stop();
    await db?.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("re-creates the VMs whose domains the restarted agent lost; none stays RUNNING without a domain", async () => {
    const res = await cluster.api.createVms({ template: vmSpec("big", 1, 64), count: 500 });
    expect(res.vms).toHaveLength(500);
    const onB = res.vms.filter((v) => v.node === "b").map((v) => v.id);
    expect(onB.length).toBeGreaterThan(0);
    await waitFor("some VMs on b RUNNING", async () => {
      const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE node = 'b' AND state = 'RUNNING'`;
      return row!.n > 10 ? true : undefined;
    }, 30_000, 20);
    const b = agents.find((a) => a.name === "b")!;
    await b.proc.kill();
    await sleep(500);
    b.proc.start();
    // A VM must have run VANISHED_GRACE_MS before a beat without its domain counts; then one beat more.
    await sleep(VANISHED_GRACE_MS + 2000);
    await waitFor("all 500 VMs RUNNING again", async () => {
      const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE state = 'RUNNING'`;
      return row!.n === 500 ? true : undefined;
    }, 60_000, 200);

    await expectInvariants(sql, agents, nats.url);
    const [row] = await sql<{ running: number; down: number }[]>`
      SELECT (SELECT count(*)::int FROM vms WHERE state = 'RUNNING') AS running,
        (SELECT count(*)::int FROM outbox WHERE subject = 'drover.node.down') AS down`;
    expect(row).toEqual({ running: 500, down: 0 });
  }, 180_000);
});
