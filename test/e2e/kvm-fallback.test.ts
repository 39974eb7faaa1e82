import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { pickDomainType, startAgent, type RunningAgent } from "@drover/agent";
import { AgentServiceClient, type EnsureDomainResponse, type GetHostInfoResponse } from "@drover/proto";
import { defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { createTestDatabase } from "@drover/store/testing";
import { NATS_URL } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { START_WITHIN_MS, announceDomainType, qemuStateDir } from "./qemu-host.js";

const URI = "qemu:///system";
const virsh = (...args: string[]) => execFileSync("virsh", ["-c", URI, ...args], { encoding: "utf8" });

// The agent is told KVM is there (a stand-in device file every user may open), so it defines
// the first domain as type kvm. Where QEMU cannot really use KVM, the start fails and the agent
// must switch to software emulation, start the VM anyway, and report the type it now uses and
// why. Where QEMU can use KVM (scripts/test.sh makes /dev/kvm usable when it can), the VM simply
// runs on KVM. Either way within START_WITHIN_MS: this took 90 s when a root-only /dev/kvm made
// libvirtd re-probe QEMU on each of the two defines. The fallback itself is also tested, fast
// and on any host, in packages/agent/src/kvm-fallback.test.ts.
describe("agent on qemu:///system told that KVM is usable", () => {
  const dir = qemuStateDir("drover-kvm-fallback-");
  // The agent is told the host has hardware virtualisation (kvm_amd), even under kvm_pvm.
  const sysModules = join(dir, "sys-module");
  mkdirSync(join(sysModules, "kvm_amd"), { recursive: true });
  const expected = pickDomainType(URI, "/dev/kvm", sysModules) === "kvm" ? "kvm" : "qemu";
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
    scheduler = await startScheduler({ ...defaultConfig, insecure: true, databaseUrl: db.url, natsUrl: NATS_URL, listen: "127.0.0.1:0", metricsListen: "" }, () => {});
    agent = await startAgent(
      { insecure: true, nodeName: "fallback-host", libvirtUri: URI, listen: "127.0.0.1:0", schedulerAddress: scheduler.address, heartbeatIntervalMs: 500, stateDir: join(dir, "state") },
      { log: (m) => logs.push(m), kvmPath: fakeKvm, sysModulesPath: sysModules },
    );
    client = new AgentServiceClient(agent.address, credentials.createInsecure());
    announceDomainType(agent);
  });
  afterAll(async () => {
    await new Promise((r) => client?.destroyDomain({ vmId }, r));
    client?.close();
    await agent?.stop();
    await scheduler?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`starts the VM within ${START_WITHIN_MS / 1000} s and reports domain type ${expected}`, async () => {
    expect(agent.domainType).toBe("kvm");
    const deadline = { deadline: Date.now() + START_WITHIN_MS };
    const res = await new Promise<EnsureDomainResponse>((resolve, reject) =>
      client.ensureDomain({ vmId, spec: vmSpec("fallback", 1, 128) }, new Metadata(), deadline, (err: ServiceError | null, r: EnsureDomainResponse) => (err ? reject(err) : resolve(r))),
    );
    announceDomainType(agent);
    expect(res.domain?.vmId).toBe(vmId);
    expect(virsh("dumpxml", vmId)).toMatch(new RegExp(`<domain type='${expected}'`));
    expect(agent.domainType).toBe(expected);
    const info = await new Promise<GetHostInfoResponse>((resolve, reject) =>
      client.getHostInfo({}, (err: ServiceError | null, r: GetHostInfoResponse) => (err ? reject(err) : resolve(r))),
    );
    expect(info.domainType).toBe(expected);
    // What libvirtd took to answer at agent start: seconds would mean every start is slow.
    expect(info.libvirtProbeSeconds).toBeGreaterThan(0);
    expect(info.libvirtProbeSeconds).toBeLessThan(1);
    if (expected === "qemu") {
      expect(info.domainTypeReason).toMatch(/a domain start with KVM failed/);
      expect(logs.join("\n")).toMatch(/KVM is not usable by QEMU[\s\S]*software emulation/);
    } else {
      expect(info.domainTypeReason).toMatch(/is usable by QEMU's user/);
    }
  }, 2 * START_WITHIN_MS);
});
