import type { ServiceError } from "@grpc/grpc-js";
import type { PlacementPolicy, VmSpec } from "@drover/proto";

/** A diskless VM spec of this size. */
export const vmSpec = (name: string, vcpus: number, memoryMib: number, over: Partial<VmSpec> = {}): VmSpec => ({
  name,
  vcpus,
  memoryMib,
  diskGib: 0,
  image: "",
  userData: "",
  network: "",
  kernel: "",
  initrd: "",
  cmdline: "",
  restartPolicy: "",
  labels: {},
  ...over,
});

/** A placement policy with every field at its default but those given. */
export const policy = (p: Partial<PlacementPolicy> = {}): PlacementPolicy => ({
  strategy: 0,
  constraints: [],
  antiAffinityGroup: "",
  affinityGroup: "",
  preferences: [],
  softAntiAffinityGroup: "",
  ...p,
});

/** The gRPC error a call fails with; fails the test if the call succeeds. */
export async function rejects(p: Promise<unknown>): Promise<ServiceError> {
  try {
    await p;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("expected the call to fail");
}
