import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerUnaryCall, ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DomainState, type AgentServiceServer, type GetHostInfoResponse } from "@drover/proto";
import { createAgentService } from "./agent-service.js";
import type { DomainTypeChoice } from "./domain-type.js";
import { LibvirtHost } from "./libvirt.js";
import { testHostUri } from "./test-host.js";

// What QEMU says when it cannot open /dev/kvm (seen with a root-only device, QEMU as libvirt-qemu).
const KVM_ERROR = "internal error: process exited while connecting to monitor: Could not access KVM kernel module: Permission denied";

/**
 * A test-driver host whose QEMU cannot use KVM: defining a kvm domain fails as QEMU would, and
 * a qemu domain is defined on the test driver (which models only type test). The one fault
 * injected is the one no healthy host can produce on demand.
 */
function hostWithoutKvm(real: LibvirtHost, definedTypes: string[]): LibvirtHost {
  return new Proxy(real, {
    get(target, prop) {
      if (prop === "define") {
        return async (xml: string) => {
          const type = /<domain type='(\w+)'>/.exec(xml)![1]!;
          definedTypes.push(type);
          if (type === "kvm") throw new Error(KVM_ERROR);
          return target.define(xml.replace(`<domain type='${type}'>`, "<domain type='test'>"));
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function call<Res>(service: AgentServiceServer, method: "ensureDomain" | "getHostInfo", request: object): Promise<Res> {
  const handler = service[method] as unknown as (c: Partial<ServerUnaryCall<object, Res>>, cb: (e: ServiceError | null, r?: Res) => void) => void;
  return new Promise((resolve, reject) => handler({ request }, (e, r) => (e ? reject(e) : resolve(r!))));
}

describe("falling back to software emulation when QEMU cannot use KVM", () => {
  let real: LibvirtHost;
  let service: AgentServiceServer;
  const definedTypes: string[] = [];
  const fallbacks: DomainTypeChoice[] = [];

  beforeAll(async () => {
    real = await LibvirtHost.connect(testHostUri({ vcpus: 4, memoryMib: 4096 }));
    service = createAgentService({
      libvirt: hostWithoutKvm(real, definedTypes),
      clusterId: () => "5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901",
      domainType: { type: "kvm", reason: "/dev/kvm (root:kvm 0660) is usable by QEMU's user libvirt-qemu" },
      onKvmUnavailable: (c) => fallbacks.push(c),
      stateDir: mkdtempSync(join(tmpdir(), "drover-fallback-")),
      imageDir: "/nonexistent/images",
      hostInfo: async () => ({ name: "no-kvm", capacity: { vcpus: 4, memoryMib: 4096, diskGib: 10 }, libvirtProbeSeconds: 0.04 }),
    });
  });
  afterAll(async () => {
    await real?.close();
  });

  it("retries the start as qemu, keeps qemu for later VMs, and says why", async () => {
    const first = await call<{ domain: { state: DomainState } }>(service, "ensureDomain", { vmId: randomUUID(), spec: { name: "a", vcpus: 1, memoryMib: 64, labels: {} } });
    expect(first.domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect(definedTypes).toEqual(["kvm", "qemu"]);

    await call(service, "ensureDomain", { vmId: randomUUID(), spec: { name: "b", vcpus: 1, memoryMib: 64, labels: {} } });
    expect(definedTypes).toEqual(["kvm", "qemu", "qemu"]); // no second try with kvm

    expect(fallbacks).toHaveLength(1);
    const info = await call<GetHostInfoResponse>(service, "getHostInfo", {});
    expect(info.domainType).toBe("qemu");
    expect(info.domainTypeReason).toBe(`a domain start with KVM failed (${KVM_ERROR}): software emulation from now on`);
    expect(info.libvirtProbeSeconds).toBe(0.04);
  });
});
