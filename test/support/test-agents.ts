// Agents on libvirt's test driver for the test clusters (support/cluster.ts, faults/fault-cluster.ts,
// support/replicas.ts): one host spec, one way to start them.
import { join } from "node:path";
import { startAgent, type RunningAgent } from "@drover/agent";
import { testHostUri } from "@drover/agent/testing";

export interface HostSpec {
  name: string;
  vcpus: number;
  memoryMib: number;
  diskGib?: number;
  labels?: Record<string, string>;
  /** The agent's image directory (catalog images resolve there); default <state dir>/images. */
  imageDir?: string;
  /** Another libvirt URI than an in-process test:// host of this size (e.g. test+unix:// through libvirtd). */
  libvirtUri?: string;
  /** The agent's state dir (a URI other than test:// keeps the cluster id there); default the agent's. */
  stateDir?: string;
  /** Where the agent listens; default a free port on 127.0.0.1. */
  listen?: string;
  /** The address the scheduler dials (e.g. a proxy in front of `listen`); default the bound one. */
  advertiseAddress?: string;
}

export interface TestAgentOptions {
  /** The scheduler each agent registers with and beats to (by its index among the hosts). */
  scheduler: string | ((i: number) => string);
  heartbeatIntervalMs: number;
  log: (m: string) => void;
  /** TLS instead of insecure: each agent trusts the cluster CA, joins with a one-time token and keeps its certificate in nodesDir/<name>. */
  secure?: { caFile: string; nodesDir: string; joinToken(node: string): Promise<string> };
}

/** An agent per host (insecure unless `o.secure`), every one registered before it returns. */
export async function startTestAgents(hosts: HostSpec[], o: TestAgentOptions): Promise<RunningAgent[]> {
  const agents = await Promise.all(
    hosts.map(async (h, i) =>
      startAgent(
        {
          ...(o.secure
            ? { insecure: false, caFile: o.secure.caFile, tlsDir: join(o.secure.nodesDir, h.name), joinToken: await o.secure.joinToken(h.name) }
            : { insecure: true }),
          nodeName: h.name,
          libvirtUri: h.libvirtUri ?? testHostUri({ vcpus: h.vcpus, memoryMib: h.memoryMib }),
          listen: h.listen ?? "127.0.0.1:0",
          ...(h.advertiseAddress ? { advertiseAddress: h.advertiseAddress } : {}),
          schedulerAddress: typeof o.scheduler === "string" ? o.scheduler : o.scheduler(i),
          heartbeatIntervalMs: o.heartbeatIntervalMs,
          labels: h.labels ?? {},
          diskGib: h.diskGib ?? 1000,
          ...(h.imageDir ? { imageDir: h.imageDir } : {}),
          ...(h.stateDir ? { stateDir: h.stateDir } : {}),
        },
        { log: o.log },
      ),
    ),
  );
  await Promise.all(agents.map((a) => a.registered()));
  return agents;
}
