import { randomUUID } from "node:crypto";
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentServiceClient, type ReadConsoleLogResponse } from "@drover/proto";
import { type RunningAgent, startAgent } from "./agent.js";
import { consoleLogPath } from "./console-log.js";
import { testHostUri } from "./test-host.js";

const spec = { name: "con", vcpus: 1, memoryMib: 64, diskGib: 0, image: "", userData: "", network: "", labels: {}, kernel: "", initrd: "", cmdline: "", restartPolicy: "" };

// The test driver runs no guest, so the log is written here as virtlogd would write it.
describe("ReadConsoleLog", () => {
  const stateDir = mkdtempSync(join(tmpdir(), "drover-console-rpc-"));
  let agent: RunningAgent;
  let client: AgentServiceClient;

  beforeAll(async () => {
    agent = await startAgent(
      { insecure: true, nodeName: "con", libvirtUri: testHostUri({ vcpus: 4, memoryMib: 4096 }), listen: "127.0.0.1:0", schedulerAddress: "127.0.0.1:1", stateDir, clusterId: "5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901" },
      { log: () => {} },
    );
    client = new AgentServiceClient(agent.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await agent?.stop();
  });

  const ensure = (vmId: string) => new Promise((resolve, reject) => client.ensureDomain({ vmId, spec }, (e: ServiceError | null, r: unknown) => (e ? reject(e) : resolve(r))));
  const destroy = (vmId: string) => new Promise((resolve, reject) => client.destroyDomain({ vmId }, (e: ServiceError | null, r: unknown) => (e ? reject(e) : resolve(r))));
  const writeLog = (vmId: string, text: string) => {
    mkdirSync(dirname(consoleLogPath(stateDir, vmId)), { recursive: true });
    writeFileSync(consoleLogPath(stateDir, vmId), text);
  };

  /** Reads the stream to its end: the text, and the status it ended with. */
  function read(vmId: string, follow: boolean, onData?: (text: string) => void): Promise<{ text: string; code: status }> {
    return new Promise((resolve) => {
      let text = "";
      const stream = client.readConsoleLog({ vmId, follow });
      stream.on("data", (r: ReadConsoleLogResponse) => {
        text += Buffer.from(r.data).toString();
        onData?.(text);
      });
      stream.on("error", (e: ServiceError) => resolve({ text, code: e.code }));
      stream.on("end", () => resolve({ text, code: status.OK }));
    });
  }

  it("streams the log of an existing domain", async () => {
    const vmId = randomUUID();
    await ensure(vmId);
    expect(await read(vmId, false)).toEqual({ text: "", code: status.OK }); // nothing written yet
    writeLog(vmId, "SeaBIOS (version 1.16)\nBooting from Hard Disk...\n");
    expect(await read(vmId, false)).toEqual({ text: "SeaBIOS (version 1.16)\nBooting from Hard Disk...\n", code: status.OK });
  });

  it("follows new output and ends when the domain is destroyed", async () => {
    const vmId = randomUUID();
    await ensure(vmId);
    writeLog(vmId, "login: ");
    let seen = "";
    const following = read(vmId, true, (t) => (seen = t));
    await sleep(400);
    appendFileSync(consoleLogPath(stateDir, vmId), "root\n");
    for (let i = 0; i < 40 && !seen.includes("root"); i++) await sleep(50);
    expect(seen).toBe("login: root\n");
    await destroy(vmId);
    expect(await following).toEqual({ text: "login: root\n", code: status.OK });
  });

  it("answers NOT_FOUND for a VM without a domain and INVALID_ARGUMENT for a bad id", async () => {
    expect((await read(randomUUID(), false)).code).toBe(status.NOT_FOUND);
    expect((await read("vm-1", true)).code).toBe(status.INVALID_ARGUMENT);
  });
});
