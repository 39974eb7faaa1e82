// The CLI against a real grpc-js peer on 127.0.0.1:0 that records what it was sent.
import * as grpc from "@grpc/grpc-js";
import {
  CapacityServiceService,
  type CreateVmsRequest,
  type CreateVmsResponse,
  type GetCapacityResponse,
  type ListVmsRequest,
  type ListVmsResponse,
  Node,
  NodeServiceService,
  NodeState,
  PlacementStrategy,
  type StopVmRequest,
  type Vm,
  VmServiceService,
  unaryAdapter,
  VmState,
  type WatchEventsRequest,
  type WatchEventsResponse,
} from "@drover/proto";
import { afterEach, describe, expect, it } from "vitest";
import { run } from "./run.js";

type Handlers = Record<string, grpc.UntypedHandleCall>;

let server: grpc.Server | undefined;

afterEach(() => {
  server?.forceShutdown();
  server = undefined;
});

/** Starts a server with the given handlers; unlisted methods answer UNIMPLEMENTED. */
async function serve(vm: Handlers = {}, node: Handlers = {}, capacity: Handlers = {}): Promise<string> {
  server = new grpc.Server();
  server.addService(VmServiceService, vm);
  server.addService(NodeServiceService, node);
  server.addService(CapacityServiceService, capacity);
  const port = await new Promise<number>((resolve, reject) =>
    server!.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return `127.0.0.1:${port}`;
}

function unaryHandler<Req, Res>(fn: (req: Req) => Res | grpc.ServerErrorResponse): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const out = fn(call.request);
    if (out instanceof Error || (typeof out === "object" && out !== null && "code" in out && "details" in out)) {
      callback(out as grpc.ServerErrorResponse, null);
    } else {
      callback(null, out);
    }
  };
}

async function drover(addr: string, argv: string[], signal?: AbortSignal, onStdout?: (all: string) => void) {
  let stdout = "";
  let stderr = "";
  const code = await run(
    argv,
    { DROVER_ADDR: addr, DROVER_INSECURE: "1", HOME: "/nonexistent-drover-home" },
    {
      stdout: (s) => {
        stdout += s;
        onStdout?.(stdout);
      },
      stderr: (s) => (stderr += s),
    },
    signal ? { signal } : {},
  );
  return { code, stdout, stderr };
}

function vm(n: number, over: Partial<Vm> = {}): Vm {
  return {
    id: `00000000-0000-4000-8000-00000000000${n}`,
    project: "default",
    spec: { name: `web-${n}`, vcpus: 2, memoryMib: 4096, diskGib: 20, image: "debian-12", userData: "", network: "", labels: {}, kernel: "", initrd: "", cmdline: "", restartPolicy: "" },
    node: `node-${n}`,
    state: VmState.VM_STATE_SCHEDULED,
    reason: "",
    attempts: 0,
    interfaces: [],
    ...over,
  };
}

function error(code: grpc.status, details: string): grpc.ServerErrorResponse {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

describe("vm create", () => {
  it("sends the request built from the flags and prints the created VMs", async () => {
    let got: CreateVmsRequest | undefined;
    const addr = await serve({
      createVms: unaryHandler<CreateVmsRequest, CreateVmsResponse>((req) => {
        got = req;
        return { vms: [vm(1), vm(2)], unplaced: 1, unplacedReason: "anti-affinity group web: no third node", dryRun: false };
      }),
    });
    const r = await drover(addr, [
      "vm", "create", "web",
      "--vcpus", "2", "--memory", "4G", "--disk", "1T", "--image", "debian-12",
      "--count", "3", "--min-count", "2",
      "--strategy", "Pack",
      "--constraint", "zone=a", "--constraint", "gpu in (a100,h100)",
      "--prefer", "ssd",
      "--anti-affinity", "web",
      "--label", "app=web", "--label", "tier=front",
      "--network", "default",
      "--idempotency-key", "key-123",
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(got).toEqual({
      project: "",
      template: {
        name: "web",
        vcpus: 2,
        memoryMib: 4096,
        diskGib: 1024,
        image: "debian-12",
        userData: "",
        network: "default",
        labels: { app: "web", tier: "front" },
        kernel: "",
        initrd: "",
        cmdline: "",
        restartPolicy: "",
        staticIpv4: undefined,
      },
      count: 3,
      minCount: 2,
      policy: {
        strategy: PlacementStrategy.PLACEMENT_STRATEGY_PACK,
        constraints: ["zone=a", "gpu in (a100,h100)"],
        preferences: ["ssd"],
        antiAffinityGroup: "web",
        affinityGroup: "",
        softAntiAffinityGroup: "",
      },
      idempotencyKey: "key-123",
      groups: [],
      dryRun: false,
    });
    expect(r.stdout).toBe(
      [
        "ID                                    NAME   STATE      NODE    VCPUS  MEMORY  ADDRESS",
        "00000000-0000-4000-8000-000000000001  web-1  SCHEDULED  node-1  2      4GiB    -",
        "00000000-0000-4000-8000-000000000002  web-2  SCHEDULED  node-2  2      4GiB    -",
        "1 of 3 VMs not placed: anti-affinity group web: no third node",
        "",
      ].join("\n"),
    );
  });

  it("sends defaults: count 1, min-count 0, no strategy; memory in plain MiB", async () => {
    let got: CreateVmsRequest | undefined;
    const addr = await serve({
      createVms: unaryHandler<CreateVmsRequest, CreateVmsResponse>((req) => {
        got = req;
        return { vms: [vm(1)], unplaced: 0, unplacedReason: "", dryRun: false };
      }),
    });
    const r = await drover(addr, ["vm", "create", "db", "--vcpus", "1", "--memory", "512"]);
    expect(r.code).toBe(0);
    expect(got?.count).toBe(1);
    expect(got?.minCount).toBe(0);
    expect(got?.template?.memoryMib).toBe(512);
    expect(got?.template?.diskGib).toBe(0);
    expect(got?.policy?.strategy).toBe(PlacementStrategy.PLACEMENT_STRATEGY_UNSPECIFIED);
    expect(got?.idempotencyKey).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(r.stdout).not.toContain("not placed");
  });

  it("retries after UNAVAILABLE and DEADLINE_EXCEEDED with the same idempotency key", async () => {
    const keys: string[] = [];
    const addr = await serve({
      createVms: (call: grpc.ServerUnaryCall<CreateVmsRequest, CreateVmsResponse>, callback: grpc.sendUnaryData<CreateVmsResponse>) => {
        keys.push(call.request.idempotencyKey);
        if (keys.length === 1) return callback(error(grpc.status.UNAVAILABLE, "database unavailable; retry"), null);
        if (keys.length === 2) return; // never answers: the client's deadline passes
        callback(null, { vms: [vm(1)], unplaced: 0, unplacedReason: "", dryRun: false });
      },
    });
    const r = await drover(addr, ["--timeout", "0.5", "vm", "create", "db", "--vcpus", "1", "--memory", "512"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).not.toBe("");
    expect(r.stdout).toContain("web-1");
  });

  it("keeps a given key across retries, and after the last says how to retry without creating twice", async () => {
    const keys: string[] = [];
    const addr = await serve({
      createVms: unaryHandler<CreateVmsRequest, CreateVmsResponse>((req) => {
        keys.push(req.idempotencyKey);
        return error(grpc.status.UNAVAILABLE, "database unavailable; retry");
      }),
    });
    const r = await drover(addr, ["vm", "create", "db", "--vcpus", "1", "--memory", "512", "--idempotency-key", "deploy-7"]);
    expect(r.code).toBe(1);
    expect(keys).toEqual(["deploy-7", "deploy-7", "deploy-7"]);
    expect(r.stderr).toContain("run the same command with --idempotency-key deploy-7 to get them without creating more");
    expect(r.stderr).toContain("UNAVAILABLE: database unavailable; retry");
  });

  it("sends no key with --dry-run, and does not retry it", async () => {
    const keys: string[] = [];
    const addr = await serve({
      createVms: unaryHandler<CreateVmsRequest, CreateVmsResponse>((req) => {
        keys.push(req.idempotencyKey);
        return error(grpc.status.UNAVAILABLE, "database unavailable; retry");
      }),
    });
    const r = await drover(addr, ["vm", "create", "db", "--vcpus", "1", "--memory", "512", "--dry-run"]);
    expect(r.code).toBe(1);
    expect(keys).toEqual([""]);
  });

  it("prints a gRPC error as error: CODE: details and exits 1", async () => {
    const addr = await serve({
      createVms: unaryHandler<CreateVmsRequest, CreateVmsResponse>(() =>
        error(grpc.status.RESOURCE_EXHAUSTED, "placed 1 of 3 VMs, need 3: no node has 64 vCPUs free"),
      ),
    });
    const r = await drover(addr, ["vm", "create", "big", "--vcpus", "64", "--memory", "1G", "--count", "3"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("error: RESOURCE_EXHAUSTED: placed 1 of 3 VMs, need 3: no node has 64 vCPUs free\n");
  });

  it("prints the response as JSON with enum names with -o json", async () => {
    const addr = await serve({
      createVms: unaryHandler<CreateVmsRequest, CreateVmsResponse>(() => ({ vms: [vm(1)], unplaced: 0, unplacedReason: "", dryRun: false })),
    });
    const r = await drover(addr, ["-o", "json", "vm", "create", "web", "--vcpus", "2", "--memory", "4G"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.vms[0].state).toBe("VM_STATE_SCHEDULED");
    expect(out.vms[0].spec.memoryMib).toBe(4096);
  });

  it("uses --addr over DROVER_ADDR", async () => {
    const addr = await serve({
      createVms: unaryHandler<CreateVmsRequest, CreateVmsResponse>(() => ({ vms: [vm(1)], unplaced: 0, unplacedReason: "", dryRun: false })),
    });
    let stderr = "";
    const code = await run(
      ["vm", "create", "web", "--vcpus", "1", "--memory", "1G", "--addr", addr],
      { DROVER_ADDR: "127.0.0.1:1", DROVER_INSECURE: "1", HOME: "/nonexistent-drover-home" },
      { stdout: () => {}, stderr: (s) => (stderr += s) },
    );
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });
});

describe("other commands", () => {
  it("vm list follows page tokens with --all and maps --state", async () => {
    const seen: ListVmsRequest[] = [];
    const addr = await serve({
      listVms: unaryHandler<ListVmsRequest, ListVmsResponse>((req) => {
        seen.push(req);
        return req.pageToken === "" ? { vms: [vm(1)], nextPageToken: "p2" } : { vms: [vm(2)], nextPageToken: "" };
      }),
    });
    const all = await drover(addr, ["vm", "list", "--all", "--state", "running", "--node", "node-1"]);
    expect(all.code).toBe(0);
    expect(seen.map((s) => s.pageToken)).toEqual(["", "p2"]);
    expect(seen[0]).toMatchObject({ state: VmState.VM_STATE_RUNNING, node: "node-1", pageSize: 100 });
    expect(all.stdout.split("\n").filter(Boolean)).toHaveLength(3);
    expect(all.stderr).toBe("");

    seen.length = 0;
    const first = await drover(addr, ["vm", "list"]);
    expect(seen).toHaveLength(1);
    expect(first.stdout).toContain("web-1");
    expect(first.stdout).not.toContain("web-2");
    expect(first.stderr).toContain("use --all");
  });

  it("vm get shows the placement explanation", async () => {
    const addr = await serve({
      getVm: unaryHandler<{ id: string }, { vm: Vm }>((req) => ({
        vm: vm(1, {
          id: req.id,
          state: VmState.VM_STATE_RUNNING,
          placement: { node: "node-1", totalScore: 0.9, scores: { spread: 0.8, prefer: 1 }, feasibleNodes: 2, evaluatedNodes: 4 },
        }),
      })),
    });
    const r = await drover(addr, ["vm", "get", "abc"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID: +abc\n/);
    expect(r.stdout).toMatch(/\nState: +RUNNING\n/);
    expect(r.stdout).toMatch(/\nPlacement:\n {2}Node: +node-1\n {2}Total score: +0\.9\n {2}Feasible nodes: +2 of 4 evaluated\n {2}Scores:\n {4}prefer: +1\n {4}spread: +0\.8\n$/);
  });

  it("vm stop --force sends force, and NOT_FOUND is exit 1", async () => {
    let got: StopVmRequest | undefined;
    const addr = await serve({
      stopVm: unaryHandler<StopVmRequest, { vm: Vm } | grpc.ServerErrorResponse>((req) => {
        got = req;
        return req.id === "missing" ? error(grpc.status.NOT_FOUND, "vm missing not found") : { vm: vm(1, { state: VmState.VM_STATE_STOPPED }) };
      }),
    });
    const ok = await drover(addr, ["vm", "stop", "x", "--force"]);
    expect(ok.code).toBe(0);
    expect(got).toEqual({ id: "x", force: true });
    expect(ok.stdout).toContain("STOPPED");
    const missing = await drover(addr, ["vm", "stop", "missing"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("error: NOT_FOUND: vm missing not found\n");
  });

  it("an unimplemented method is reported with its code", async () => {
    const addr = await serve();
    const r = await drover(addr, ["vm", "reboot", "x"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: UNIMPLEMENTED: /);
  });

  it("node cordon sends the name and prints the node", async () => {
    let got = "";
    const addr = await serve(
      {},
      {
        cordonNode: unaryHandler<{ name: string }, { node: Node }>((req) => {
          got = req.name;
          return {
            node: Node.fromPartial({ name: req.name, address: "10.0.0.1:7401", state: NodeState.NODE_STATE_CORDONED, vmCount: 2 }),
          };
        }),
      },
    );
    const r = await drover(addr, ["node", "cordon", "node-a"]);
    expect(r.code).toBe(0);
    expect(got).toBe("node-a");
    expect(r.stdout).toMatch(/node-a\s+CORDONED\s+10\.0\.0\.1:7401/);
  });

  it("capacity prints totals and per-node rows", async () => {
    let got = "-";
    const addr = await serve({}, {}, {
      getCapacity: unaryHandler<{ node: string }, GetCapacityResponse>((req) => {
        got = req.node;
        return {
          capacity: { vcpus: 16, memoryMib: 65536, diskGib: 500 },
          allocatable: { vcpus: 32, memoryMib: 61440, diskGib: 450 },
          allocated: { vcpus: 4, memoryMib: 8192, diskGib: 40 },
          free: { vcpus: 28, memoryMib: 53248, diskGib: 410 },
          vms: [{ state: VmState.VM_STATE_RUNNING, count: 2 }],
          nodes: [
            {
              name: "node-a",
              state: NodeState.NODE_STATE_READY,
              allocatable: { vcpus: 32, memoryMib: 61440, diskGib: 450 },
              allocated: { vcpus: 4, memoryMib: 8192, diskGib: 40 },
              free: { vcpus: 28, memoryMib: 53248, diskGib: 410 },
              vms: [{ state: VmState.VM_STATE_RUNNING, count: 2 }],
            },
          ],
        };
      }),
    });
    const r = await drover(addr, ["capacity", "--node", "node-a"]);
    expect(r.code).toBe(0);
    expect(got).toBe("node-a");
    expect(r.stdout).toContain("Memory:  8GiB allocated / 60GiB allocatable, 52GiB free (raw capacity 64GiB)");
    expect(r.stdout).toMatch(/node-a\s+READY\s+4\/32\s+8GiB\/60GiB\s+40GiB\/450GiB\s+28\s+52GiB\s+410GiB\s+RUNNING=2/);
  });

  it("events prints one line per event until interrupted", async () => {
    let got: WatchEventsRequest | undefined;
    const addr = await serve({
      watchEvents: ((call: grpc.ServerWritableStream<WatchEventsRequest, WatchEventsResponse>) => {
        got = call.request;
        for (const id of [1, 2]) {
          call.write({
            event: {
              id,
              subject: "drover.vm.running",
              type: "vm.running",
              project: "default",
              vmId: `vm-${id}`,
              node: "node-a",
              vmState: VmState.VM_STATE_RUNNING,
              nodeState: NodeState.NODE_STATE_UNSPECIFIED,
              reason: "",
              time: { seconds: Date.parse("2025-01-01T00:00:00Z") / 1000, nanos: 0 },
            },
          });
        }
        // Stay open, like the real stream.
      }) as grpc.handleServerStreamingCall<WatchEventsRequest, WatchEventsResponse>,
    });
    const interrupt = new AbortController();
    const r = await drover(addr, ["-o", "json", "events", "--from-start", "--prefix", "drover.vm."], interrupt.signal, (out) => {
      if (out.split("\n").length > 2) interrupt.abort();
    });
    expect(r.code).toBe(0);
    expect(got).toEqual({ afterId: 0, fromStart: true, subjectPrefix: "drover.vm." });
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { id: 1, subject: "drover.vm.running", type: "vm.running", vmId: "vm-1", node: "node-a", vmState: "VM_STATE_RUNNING", project: "default", time: "2025-01-01T00:00:00.000Z" },
      { id: 2, subject: "drover.vm.running", type: "vm.running", vmId: "vm-2", node: "node-a", vmState: "VM_STATE_RUNNING", project: "default", time: "2025-01-01T00:00:00.000Z" },
    ]);
  });

  it("gives no 'is the scheduler running' hint when the scheduler itself answered UNAVAILABLE", async () => {
    const unary = unaryAdapter({ toStatus: () => ({ code: grpc.status.UNAVAILABLE, details: "database unavailable; retry" }), program: "scheduler", log: () => {} });
    const addr = await serve({ listVms: unary(async () => Promise.reject(new Error("down"))) });
    const r = await drover(addr, ["vm", "list"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: UNAVAILABLE: database unavailable; retry\n");
  });

  it("reports an unreachable scheduler as UNAVAILABLE with a hint", async () => {
    const r = await drover("127.0.0.1:1", ["vm", "list", "--timeout", "5"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: UNAVAILABLE: /);
    expect(r.stderr).toContain("is the scheduler running at 127.0.0.1:1?");
  });
});
