import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleLogPath, startAgent, type RunningAgent } from "@drover/agent";
import { testHostUri } from "@drover/agent/testing";
import { VmState, type GetConsoleLogResponse } from "@drover/proto";
import { defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "../support/clients.js";
import { NATS_URL } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// VmService.GetConsoleLog relays the agent's ReadConsoleLog. The test driver runs no guest, so
// the log is written where virtlogd would write it on a real host (test/e2e/qemu.test.ts reads a
// real one).
describe("GetConsoleLog through the scheduler", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "drover-console-it-"));
  let db: { url: string; drop(): Promise<void> };
  let scheduler: RunningScheduler;
  let agent: RunningAgent;
  let api: ApiClient;

  beforeAll(async () => {
    db = await createTestDatabase();
    scheduler = await startScheduler({ ...defaultConfig, insecure: true, databaseUrl: db.url, natsUrl: NATS_URL, listen: "127.0.0.1:0", metricsListen: "", tickMs: 50 }, () => {});
    agent = await startAgent(
      { insecure: true, nodeName: "con-1", libvirtUri: testHostUri({ vcpus: 4, memoryMib: 4096 }), listen: "127.0.0.1:0", schedulerAddress: scheduler.address, heartbeatIntervalMs: 200, stateDir },
      { log: () => {} },
    );
    await agent.registered();
    api = apiClient(scheduler.address);
  });
  afterAll(async () => {
    api?.close();
    await agent?.stop();
    await scheduler?.stop();
    await db?.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  function read(id: string, follow: boolean, onData?: (text: string) => void): Promise<{ text: string; code: status; details: string }> {
    return new Promise((resolve) => {
      let text = "";
      const stream = api.vms.getConsoleLog({ id, follow });
      stream.on("data", (r: GetConsoleLogResponse) => {
        text += Buffer.from(r.data).toString();
        onData?.(text);
      });
      stream.on("error", (e: ServiceError) => resolve({ text, code: e.code, details: e.details }));
      stream.on("end", () => resolve({ text, code: status.OK, details: "" }));
    });
  }

  async function runningVm(): Promise<string> {
    const id = (await api.createVms({ template: vmSpec("con", 1, 64), count: 1 })).vms[0]!.id;
    await waitFor("VM RUNNING", async () => ((await api.getVm(id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    mkdirSync(dirname(consoleLogPath(stateDir, id)), { recursive: true });
    writeFileSync(consoleLogPath(stateDir, id), "Debian GNU/Linux 12 con ttyS0\n\ncon login: ");
    return id;
  }

  it("returns the log of a running VM", async () => {
    const id = await runningVm();
    expect(await read(id, false)).toEqual({ text: "Debian GNU/Linux 12 con ttyS0\n\ncon login: ", code: status.OK, details: "" });
  });

  it("follows until the VM is deleted", async () => {
    const id = await runningVm();
    let seen = "";
    const following = read(id, true, (t) => (seen = t));
    await waitFor("the log so far", async () => (seen.endsWith("login: ") ? true : undefined), 5000, 50);
    appendFileSync(consoleLogPath(stateDir, id), "root\n");
    await waitFor("the appended line", async () => (seen.endsWith("root\n") ? true : undefined), 5000, 50);
    await api.deleteVm(id);
    const end = await Promise.race([following, sleep(10_000).then(() => undefined)]);
    expect(end).toMatchObject({ code: status.OK });
  });

  it("says what is wrong with the request", async () => {
    expect(await read("not-a-uuid", false)).toMatchObject({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^id/) });
    expect(await read("0badc0de-0000-4000-8000-00000000000a", true)).toMatchObject({ code: status.NOT_FOUND });
  });
});
