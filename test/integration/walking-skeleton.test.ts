import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { followEvents, type ReceivedEvent } from "@drover/events";
import { DomainState, VmState, type Node, type Vm } from "@drover/proto";
import { listDomains } from "../support/agent-client.js";
import { NATS_URL, startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// Three simulated hosts of different sizes on libvirt's test driver.
const HOSTS = [
  { name: "small", vcpus: 4, memoryMib: 8192 },
  { name: "medium", vcpus: 8, memoryMib: 32768 },
  { name: "large", vcpus: 16, memoryMib: 65536 },
];

const CLAIMING = new Set([VmState.VM_STATE_SCHEDULED, VmState.VM_STATE_PROVISIONING, VmState.VM_STATE_RUNNING, VmState.VM_STATE_STOPPED, VmState.VM_STATE_DELETING, VmState.VM_STATE_LOST]);

describe("walking skeleton: gRPC → placement → Postgres claim → libvirt → NATS → capacity", () => {
  let cluster: TestCluster;
  const events: ReceivedEvent[] = [];
  let subscription: { stop(): Promise<void> };

  beforeAll(async () => {
    subscription = await followEvents(NATS_URL, (e) => events.push(e), { subjects: "drover.vm.>", since: new Date() });
    cluster = await startTestCluster(HOSTS, { cpuAllocationRatio: 4, memoryAllocationRatio: 1 });
  });
  afterAll(async () => {
    await subscription?.stop();
    await cluster?.stop();
  });

  const waitRunning = (ids: string[]) =>
    waitFor(`${ids.length} VMs RUNNING`, async () => {
      const vms = await Promise.all(ids.map((id) => cluster.api.getVm(id)));
      const failed = vms.find((v) => v.state === VmState.VM_STATE_FAILED);
      if (failed) throw new Error(`vm ${failed.id} FAILED: ${failed.reason}`);
      return vms.every((v) => v.state === VmState.VM_STATE_RUNNING) ? vms : undefined;
    });

  let single: Vm;
  let batch: Vm[] = [];

  it("places, claims and starts one VM", async () => {
    const res = await cluster.api.createVms({ template: vmSpec("web", 2, 2048), count: 1 });
    expect(res.vms).toHaveLength(1);
    // The dispatcher had room: the VM committed PROVISIONING, already handed to it.
    expect(res.vms[0]!.state).toBe(VmState.VM_STATE_PROVISIONING);
    single = (await waitRunning([res.vms[0]!.id]))[0]!;
    expect(single!.spec?.name).toBe("web");
    expect(HOSTS.map((h) => h.name)).toContain(single!.node);
    // The placement explanation says why this node won.
    expect(single!.placement?.node).toBe(single!.node);
    expect(single!.placement?.feasibleNodes).toBe(3);
  });

  it("bulk-creates 50 VMs in one call, all RUNNING on nodes with room", async () => {
    const res = await cluster.api.createVms({ template: vmSpec("batch", 1, 1024), count: 50 });
    expect(res.vms).toHaveLength(50);
    expect(res.unplaced).toBe(0);
    expect(new Set(res.vms.map((v) => v.spec?.name)).size).toBe(50);
    batch = await waitRunning(res.vms.map((v) => v.id));
  });

  it("never claims more than allocatable, and node totals equal the VM rows", async () => {
    const nodes = await cluster.api.listNodes();
    const all = (await cluster.api.listVms({ pageSize: 1000 })).vms;
    expect(all).toHaveLength(51);
    for (const node of nodes) {
      const mine = all.filter((v) => v.node === node.name && CLAIMING.has(v.state));
      const vcpus = mine.reduce((s, v) => s + v.spec!.vcpus, 0);
      const memory = mine.reduce((s, v) => s + v.spec!.memoryMib, 0);
      expect(node.allocated).toEqual({ vcpus, memoryMib: memory, diskGib: 0 });
      expect(vcpus).toBeLessThanOrEqual(node.allocatable!.vcpus);
      expect(memory).toBeLessThanOrEqual(node.allocatable!.memoryMib);
    }
    // Spread puts work on every host.
    expect(nodes.every((n: Node) => n.allocated!.vcpus > 0)).toBe(true);
  });

  it("runs each VM's domain on the node it was placed on", async () => {
    const all = [single, ...batch];
    for (const agent of cluster.agents) {
      const domains = await listDomains(agent.address);
      const expected = all.filter((v) => v.node === agent.name).map((v) => v.id).sort();
      expect(domains.map((d) => d.vmId).sort()).toEqual(expected);
      expect(domains.every((d) => d.state === DomainState.DOMAIN_STATE_RUNNING)).toBe(true);
    }
  });

  it("reports capacity that agrees with the rows", async () => {
    const cap = await cluster.api.getCapacity();
    const nodes = await cluster.api.listNodes();
    const sum = (f: (n: Node) => number) => nodes.reduce((s, n) => s + f(n), 0);
    expect(cap.capacity).toEqual({ vcpus: 28, memoryMib: 106496, diskGib: 3000 });
    // 4.0 CPU overcommit, 1.0 memory.
    expect(cap.allocatable).toEqual({ vcpus: 112, memoryMib: 106496, diskGib: 3000 });
    expect(cap.allocated).toEqual({ vcpus: 52, memoryMib: 2048 + 50 * 1024, diskGib: 0 });
    expect(cap.allocated!.vcpus).toBe(sum((n) => n.allocated!.vcpus));
    expect(cap.free).toEqual({ vcpus: 112 - 52, memoryMib: 106496 - 2048 - 50 * 1024, diskGib: 3000 });
    expect(cap.vms).toEqual([{ state: VmState.VM_STATE_RUNNING, count: 51 }]);
    for (const n of cap.nodes) {
      const node = nodes.find((x) => x.name === n.name)!;
      expect(n.allocated).toEqual(node.allocated);
      expect(n.free!.memoryMib).toBe(node.allocatable!.memoryMib - node.allocated!.memoryMib);
      expect(n.vms.reduce((s, c) => s + c.count, 0)).toBe(node.vmCount);
    }
  });

  it("publishes every VM's events on the JetStream stream", async () => {
    const ids = batch.map((v) => v.id);
    const subjectsOf = (id: string) => events.filter((e) => e.data.vmId === id).map((e) => e.subject);
    // The bulk (more VMs a node than the dispatcher runs at once) committed SCHEDULED; the single VM PROVISIONING.
    await waitFor("scheduled, provisioning and running events for all 51 VMs", async () =>
      ids.every((id) => subjectsOf(id).join() === "drover.vm.scheduled,drover.vm.provisioning,drover.vm.running") &&
      subjectsOf(single.id).join() === "drover.vm.provisioning,drover.vm.running"
        ? true
        : undefined,
    );
    const running = events.find((e) => e.subject === "drover.vm.running" && e.data.vmId === single.id)!;
    expect(running.data.vmState).toBe("VM_STATE_RUNNING");
    expect(running.data.node).toBe(single.node);
    expect(running.msgId).toMatch(/^[0-9a-f-]{36}:\d+$/);
  });

  it("exposes capacity and placement metrics for Prometheus", async () => {
    const text = await (await fetch(`http://${cluster.scheduler.metricsAddress}/metrics`)).text();
    expect(text).toContain('drover_vms{state="RUNNING"} 51');
    expect(text).toMatch(/drover_node_allocatable\{node="large",resource="vcpus"\} 64/);
    expect(text).toMatch(/drover_node_allocated\{node="[a-z]+",resource="memory_bytes"\} \d+/);
    expect(text).toMatch(/drover_placement_duration_seconds_count 2/);
  });

  it("deletes a VM: domain destroyed, claim released", async () => {
    await cluster.api.deleteVm(single.id);
    const gone = await waitFor("VM DELETED", async () => {
      const vm = await cluster.api.getVm(single.id);
      return vm.state === VmState.VM_STATE_DELETED ? vm : undefined;
    });
    expect(gone.node).toBe(single.node);
    const agent = cluster.agents.find((a) => a.name === single.node)!;
    expect((await listDomains(agent.address)).map((d) => d.vmId)).not.toContain(single.id);
    const cap = await cluster.api.getCapacity();
    expect(cap.allocated).toEqual({ vcpus: 50, memoryMib: 50 * 1024, diskGib: 0 });
  });
});

