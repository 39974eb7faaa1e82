import { AddressSource, GetCapacityResponse, Node, NodeState, PlacementStrategy, Vm, VmState } from "@drover/proto";
import { describe, expect, it } from "vitest";
import {
  capacityReport,
  eventLine,
  formatAge,
  formatGiB,
  formatMiB,
  formatTable,
  nodeTable,
  vmDetail,
  vmTable,
} from "./format.js";

/** A wire Timestamp of an ISO time plus microseconds past its millisecond. */
const at = (iso: string, micros = 0) => {
  const ms = Date.parse(iso);
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 + micros * 1000 };
};

describe("formatMiB / formatGiB", () => {
  it.each([
    [0, "0MiB"],
    [512, "512MiB"],
    [1023, "1023MiB"],
    [1024, "1GiB"],
    [1536, "1.5GiB"],
    [4096, "4GiB"],
    [65536, "64GiB"],
    [1048576, "1TiB"],
    [1572864, "1.5TiB"],
  ])("%d MiB -> %s", (mib, want) => {
    expect(formatMiB(mib)).toBe(want);
  });

  it.each([
    [0, "0GiB"],
    [20, "20GiB"],
    [1024, "1TiB"],
    [2560, "2.5TiB"],
  ])("%d GiB -> %s", (gib, want) => {
    expect(formatGiB(gib)).toBe(want);
  });
});

describe("formatTable", () => {
  it.each([
    {
      name: "pads columns to the widest cell",
      headers: ["A", "LONGER"],
      rows: [["xxxx", "y"]],
      want: "A     LONGER\nxxxx  y\n",
    },
    {
      name: "prints empty cells as -",
      headers: ["ID", "NODE", "X"],
      rows: [["1", "", "z"]],
      want: "ID  NODE  X\n1   -     z\n",
    },
    {
      name: "prints only headers for no rows",
      headers: ["ID", "NAME"],
      rows: [],
      want: "ID  NAME\n",
    },
    {
      name: "drops trailing spaces",
      headers: ["NAME", "S"],
      rows: [["a", "b"], ["abcdef", "c"]],
      want: "NAME    S\na       b\nabcdef  c\n",
    },
  ])("$name", ({ headers, rows, want }) => {
    expect(formatTable(headers, rows)).toBe(want);
  });
});

const vm = Vm.fromPartial({
  id: "7d2c6a1e-0000-4000-8000-000000000001",
  spec: { name: "web-1", vcpus: 2, memoryMib: 4096, diskGib: 20, image: "debian-12", labels: { app: "web" } },
  node: "node-a",
  state: VmState.VM_STATE_RUNNING,
  policy: { strategy: PlacementStrategy.PLACEMENT_STRATEGY_SPREAD, constraints: ["zone=a"], antiAffinityGroup: "web" },
  placement: { node: "node-a", totalScore: 0.8125, scores: { spread: 0.75, affinity: 1 }, feasibleNodes: 2, evaluatedNodes: 3 },
  attempts: 1,
  createdAt: at("2025-01-02T03:04:05.000Z", 42),
});

describe("VM output", () => {
  it("prints the VM table", () => {
    const withAddress = { ...vm, interfaces: [{ mac: "52:54:00:00:00:01", addresses: ["192.168.213.57/24"], source: AddressSource.ADDRESS_SOURCE_DHCP_LEASE }] };
    expect(vmTable([withAddress, Vm.fromPartial({ id: "x", spec: { name: "db", vcpus: 1, memoryMib: 512 }, state: VmState.VM_STATE_PENDING })])).toBe(
      [
        "ID                                    NAME   STATE    NODE    VCPUS  MEMORY  ADDRESS",
        "7d2c6a1e-0000-4000-8000-000000000001  web-1  RUNNING  node-a  2      4GiB    192.168.213.57",
        "x                                     db     PENDING  -       1      512MiB  -",
        "",
      ].join("\n"),
    );
  });

  it("shows the placement explanation in the detail view", () => {
    const out = vmDetail(vm);
    expect(out).toContain("State:          RUNNING");
    expect(out).toContain("Memory:         4GiB");
    expect(out).toContain("Disk:           20GiB");
    expect(out).toContain("Strategy:       SPREAD");
    expect(out).toContain("Constraints:    zone=a");
    expect(out).toContain("Anti-affinity:  web");
    expect(out).toContain("Labels:         app=web");
    expect(out).toMatch(/Placement:\n {2}Node: +node-a\n {2}Total score: +0\.8125\n {2}Feasible nodes: +2 of 3 evaluated\n {2}Scores:\n {4}affinity: +1\n {4}spread: +0\.75\n/);
    expect(out).not.toContain("Reason");
    expect(out).not.toContain("Interfaces");
    const nic = vmDetail({
      ...vm,
      interfaces: [
        { mac: "52:54:00:00:00:01", addresses: ["192.168.213.57/24"], source: AddressSource.ADDRESS_SOURCE_DHCP_LEASE },
        { mac: "52:54:00:00:00:02", addresses: [], source: AddressSource.ADDRESS_SOURCE_UNSPECIFIED },
        { mac: "52:54:00:00:00:03", addresses: ["10.0.0.5/24"], source: AddressSource.ADDRESS_SOURCE_STATIC },
      ],
    });
    expect(nic).toContain("Interfaces:     52:54:00:00:00:01 192.168.213.57/24 (DHCP lease); 52:54:00:00:00:02 (no address yet); 52:54:00:00:00:03 10.0.0.5/24 (static, configured)");
  });

  it("shows the reason of a failed VM and that it is not placed", () => {
    const out = vmDetail(Vm.fromPartial({ id: "f", spec: { name: "f", vcpus: 1, memoryMib: 1 }, state: VmState.VM_STATE_FAILED, reason: "no node fits" }));
    expect(out).toContain("State:      FAILED\n");
    expect(out).toContain("Reason:     no node fits\n");
    expect(out).toContain("Placement:  not placed yet\n");
  });
});

describe("node and capacity output", () => {
  const now = new Date("2025-01-02T03:04:05.000Z");
  it("prints allocated/allocatable with units", () => {
    const node = Node.fromPartial({
      name: "node-a",
      address: "10.0.0.1:7401",
      state: NodeState.NODE_STATE_READY,
      allocatable: { vcpus: 64, memoryMib: 126976, diskGib: 1800 },
      allocated: { vcpus: 6, memoryMib: 12288, diskGib: 60 },
      vmCount: 3,
      lastHeartbeat: at(new Date(now.getTime() - 4000).toISOString()),
    });
    expect(nodeTable([node], now)).toBe(
      [
        "NAME    STATE  ADDRESS        VCPU  MEMORY        DISK          VMS  HEARTBEAT",
        "node-a  READY  10.0.0.1:7401  6/64  12GiB/124GiB  60GiB/1.8TiB  3    4s ago",
        "",
      ].join("\n"),
    );
  });

  it("prints cluster totals then a row per node", () => {
    const out = capacityReport(
      GetCapacityResponse.fromPartial({
        capacity: { vcpus: 32, memoryMib: 131072, diskGib: 2000 },
        allocatable: { vcpus: 60, memoryMib: 126976, diskGib: 1800 },
        allocated: { vcpus: 6, memoryMib: 12288, diskGib: 60 },
        free: { vcpus: 54, memoryMib: 114688, diskGib: 1740 },
        vms: [
          { state: VmState.VM_STATE_RUNNING, count: 3 },
          { state: VmState.VM_STATE_STOPPED, count: 0 },
        ],
        nodes: [
          {
            name: "node-a",
            state: NodeState.NODE_STATE_READY,
            allocatable: { vcpus: 60, memoryMib: 126976, diskGib: 1800 },
            allocated: { vcpus: 6, memoryMib: 12288, diskGib: 60 },
            free: { vcpus: 54, memoryMib: 114688, diskGib: 1740 },
            vms: [{ state: VmState.VM_STATE_RUNNING, count: 3 }],
          },
          { name: "node-b", state: NodeState.NODE_STATE_DOWN },
        ],
      }),
    );
    expect(out).toContain("Cluster: 2 nodes, 1 ready\n");
    expect(out).toContain("  vCPU:    6 allocated / 60 allocatable, 54 free (raw capacity 32)\n");
    expect(out).toContain("  Memory:  12GiB allocated / 124GiB allocatable, 112GiB free (raw capacity 128GiB)\n");
    expect(out).toContain("  VMs:     RUNNING=3\n");
    expect(out).toContain(
      [
        "NODE    STATE  VCPU  MEMORY        DISK          FREE VCPU  FREE MEMORY  FREE DISK  VMS",
        "node-a  READY  6/60  12GiB/124GiB  60GiB/1.8TiB  54         112GiB       1.7TiB     RUNNING=3",
        "node-b  DOWN   0/0   0MiB/0MiB     0GiB/0GiB     0          0MiB         0GiB       -",
      ].join("\n"),
    );
  });

  it.each([
    [undefined, "never"],
    [new Date(now.getTime() - 5_000), "5s ago"],
    [new Date(now.getTime() - 600_000), "10m ago"],
    [new Date(now.getTime() - 3 * 3600_000), "3h ago"],
    [new Date(now.getTime() - 5 * 86400_000), "5d ago"],
  ])("age of %s is %s", (then, want) => {
    expect(formatAge(then, now)).toBe(want);
  });
});

describe("eventLine", () => {
  it("prints the fields the event carries", () => {
    expect(
      eventLine({
        id: 42,
        subject: "drover.vm.failed",
        type: "vm.failed",
        project: "default",
        vmId: "abc",
        node: "node-a",
        vmState: VmState.VM_STATE_FAILED,
        nodeState: NodeState.NODE_STATE_UNSPECIFIED,
        reason: "image missing",
        time: at("2025-01-02T03:04:05.123Z", 456),
      }),
    ).toBe('2025-01-02T03:04:05.123456Z  #42  drover.vm.failed  vm=abc  node=node-a  vm_state=FAILED  reason="image missing"');
  });
});
