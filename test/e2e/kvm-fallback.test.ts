import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { pickDomainType, startAgent, type RunningAgent } from "@drover/agent";
import { AgentServiceClient, type EnsureDomainResponse, type GetHostInfoResponse } from "@drover/proto";
import { defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { createTestDatabase } from "@drover/store/testing";
import { NATS_URL } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";

const URI = "qemu:///system";
const virsh = (...args: string[]) => execFileSync("virsh", ["-c", URI, ...args], { encoding: "utf8" });

// The agent is told KVM is there (a stand-in device file every user may open), so it defines
// the first domain as type kvm. Where QEMU cannot really use /dev/kvm (on this machine it is
// root-only), the start fails and the agent must switch to software emulation, start the VM
// anyway, and report the type it now uses. Where QEMU can use KVM, the VM simply runs on KVM.
// Slow here: with a root-only /dev/kvm, libvirtd re-probes QEMU on every define ("KVM was enabled
// when probing, but it is not available now"), about 40 s each.
describe("agent on qemu:///system told that KVM is usable", () => {
  const expected = pickDomainType(URI) === "kvm" ? "kvm" : "qemu";
  const dir = mkdtempSync(join(tmpdir(), "drover-kvm-fallback-"));
  const fakeKvm = join(dir, "kvm");
  let db: { url: string; drop(): Promise<void> };
  let scheduler: RunningScheduler;
  let agent: RunningAgent;
  let client: AgentServiceClient;
  const logs: string[] = [];
  const vmId = randomUUID();

  beforeAll(async () => {
    writeFileSync(fakeKvm, "");
    chmodSync(fakeKvm, 0o666);
    db = await createTestDatabase();
    scheduler = await startScheduler({ ...defaultConfig, databaseUrl: db.url, natsUrl: NATS_URL, listen: "127.0.0.1:0", metricsListen: "" }, () => {});
    agent = await startAgent(
      { nodeName: "fallback-host", libvirtUri: URI, listen: "127.0.0.1:0", schedulerAddress: scheduler.address, heartbeatIntervalMs: 500, stateDir: join(dir, "state") },
      { log: (m) => logs.push(m), kvmPath: fakeKvm },
    );
    client = new AgentServiceClient(agent.address, credentials.createInsecure());
  });
  afterAll(async () => {
    await new Promise((r) => client?.destroyDomain({ vmId }, r));
    client?.close();
    await agent?.stop();
    await scheduler?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`starts the VM and reports domain type ${expected}`, async () => {
    expect(agent.domainType).toBe("kvm");
    const res = await new Promise<EnsureDomainResponse>((resolve, reject) =>
      client.ensureDomain({ vmId, spec: vmSpec("fallback", 1, 128) }, (err: ServiceError | null, r: EnsureDomainResponse) => (err ? reject(err) : resolve(r))),
    );
    expect(res.domain?.vmId).toBe(vmId);
    expect(virsh("dumpxml", vmId)).toMatch(new RegExp(`<domain type='${expected}'`));
    expect(agent.domainType).toBe(expected);
    const info = await new Promise<GetHostInfoResponse>((resolve, reject) =>
      client.getHostInfo({}, (err: ServiceError | null, r: GetHostInfoResponse) => (err ? reject(err) : resolve(r))),
    );
    expect(info.domainType).toBe(expected);
    if (expected === "qemu") expect(logs.join("\n")).toMatch(/KVM is not usable by QEMU[\s\S]*software emulation/);
  }, 180_000);
});
