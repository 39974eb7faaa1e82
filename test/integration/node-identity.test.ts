// Node identity against the real parts: a scheduler serving TLS from a cluster CA, agents
// that joined with one-time tokens, Postgres. Every refusal here was an accepted call before
// (RegisterNode and Heartbeat trusted the name in the request; AgentService answered anyone).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { credentials, Metadata, status, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "@drover/cli";
import { createKeyAndCsr, generateKeyPair, issueSchedulerCertificate, privateKeyToPem } from "@drover/pki";
import { AgentServiceClient, DomainState, NodeRegistryServiceClient, NodeState, VmState, type JoinNodeResponse } from "@drover/proto";
import { createJoinToken, loadClusterCa } from "@drover/scheduler";
import { recordSchedulerCertificate, revokeCertificates } from "@drover/store";
import { rejects, vmSpec } from "../support/requests.js";
import { startSecureCluster, type SecureCluster } from "../support/secure-cluster.js";
import { waitFor } from "../support/wait.js";

type Cb<T> = (err: ServiceError | null, res: T) => void;
const unary = <T>(fn: (cb: Cb<T>) => void) => new Promise<T>((resolve, reject) => fn((e, r) => (e ? reject(e) : resolve(r))));
const deadline = () => ({ deadline: new Date(Date.now() + 5000) });

function registry(address: string, creds: ChannelCredentials) {
  const c = new NodeRegistryServiceClient(address, creds);
  return {
    register: (name: string, vcpus = 100_000, address = "203.0.113.9:7401") =>
      unary((cb) => c.registerNode({ name, address, capacity: { vcpus, memoryMib: 1 << 30, diskGib: 1000 }, labels: {} }, new Metadata(), deadline(), cb)),
    heartbeat: (name: string, vmIds: string[] = []) =>
      unary((cb) =>
        c.heartbeat(
          {
            name,
            domains: vmIds.map((vmId) => ({ vmId, name: vmId, state: DomainState.DOMAIN_STATE_SHUTOFF, reason: "", interfaces: [], reportInterfaces: false, generation: 0 })),
            bootId: "",
            seq: 0,
            libvirtUnavailable: "",
            intervalMs: 0,
          },
          new Metadata(),
          deadline(),
          cb,
        ),
      ),
    join: (joinToken: string, nodeName: string, csrPem: string) => unary<JoinNodeResponse>((cb) => c.joinNode({ joinToken, nodeName, csrPem }, new Metadata(), deadline(), cb)),
    close: () => c.close(),
  };
}

/** Joins `name` through the RPC with a fresh key; the credentials of the certificate it got. */
async function joinAs(cluster: SecureCluster, name: string): Promise<ChannelCredentials> {
  const { token } = await createJoinToken(cluster.scheduler.sql, { nodeName: name, ttlMs: 60_000 });
  const { keyPem, csrPem } = await createKeyAndCsr(name);
  const r = registry(cluster.scheduler.address, cluster.serverAuthOnly());
  const res = await r.join(token, name, csrPem);
  r.close();
  return credentials.createSsl(cluster.caPem, Buffer.from(keyPem), Buffer.from(res.certificatePem));
}

/** drover_auth_refusals_total{surface,reason} from the scheduler's /metrics (0 before the first). */
async function refusals(cluster: SecureCluster, surface: string, reason: string): Promise<number> {
  const text = await (await fetch(`http://${cluster.scheduler.metricsAddress}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("drover_auth_refusals_total{") && l.includes(`surface="${surface}"`) && l.includes(`reason="${reason}"`));
  return line ? Number(line.split(" ").pop()) : 0;
}

describe("node identity", () => {
  let cluster: SecureCluster;

  beforeAll(async () => {
    cluster = await startSecureCluster(["node-a", "node-b"]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("the scheduler reaches joined agents over mTLS: a VM placed there runs", async () => {
    const [vm] = (await cluster.api.createVms({ template: vmSpec("tls-vm", 1, 512), count: 1 })).vms;
    await waitFor("the VM RUNNING", async () => ((await cluster.api.getVm(vm!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
  });

  it("a made-up RegisterNode without a certificate is refused and leaves nothing behind", async () => {
    const before = await refusals(cluster, "node-registry", "no-certificate");
    const r = registry(cluster.scheduler.address, cluster.serverAuthOnly());
    const err = await rejects(r.register("attacker"));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toMatch(/certificate/);
    const hb = await rejects(r.heartbeat("node-a"));
    expect(hb.code).toBe(status.UNAUTHENTICATED);
    r.close();
    // Plain text does not even reach the service.
    const plain = registry(cluster.scheduler.address, credentials.createInsecure());
    expect((await rejects(plain.register("attacker"))).code).toBe(status.UNAVAILABLE);
    plain.close();
    expect((await cluster.api.listNodes()).map((n) => n.name).sort()).toEqual(["node-a", "node-b"]);
    expect(await refusals(cluster, "node-registry", "no-certificate")).toBe(before + 2);
  });

  it("a node's certificate cannot register or heartbeat as another name, and changes nothing", async () => {
    const nodeB = await cluster.api.getNode("node-b");
    const r = registry(cluster.scheduler.address, cluster.asNode("node-a"));
    const reg = await rejects(r.register("node-b"));
    expect(reg.code).toBe(status.PERMISSION_DENIED);
    expect(reg.details).toContain("node node-a cannot act as node node-b");
    expect((await rejects(r.register("node-new"))).code).toBe(status.PERMISSION_DENIED);
    const [vm] = (await cluster.api.createVms({ template: vmSpec("on-b", 1, 256), count: 1, policy: undefined })).vms;
    const hb = await rejects(r.heartbeat("node-b", [vm!.id]));
    expect(hb.code).toBe(status.PERMISSION_DENIED);
    r.close();
    const after = await cluster.api.getNode("node-b");
    expect(after.address).toBe(nodeB.address);
    expect(after.capacity).toEqual(nodeB.capacity);
    expect((await cluster.api.listNodes()).map((n) => n.name)).not.toContain("node-new");
    await waitFor("the VM RUNNING", async () => ((await cluster.api.getVm(vm!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    expect(await refusals(cluster, "node-registry", "other-node")).toBeGreaterThanOrEqual(3);
  });

  it("a join token works once only, and an unbound token cannot take a known name", async () => {
    const { token } = await createJoinToken(cluster.scheduler.sql, { ttlMs: 60_000 });
    const r = registry(cluster.scheduler.address, cluster.serverAuthOnly());
    const held = await rejects(r.join(token, "node-a", (await createKeyAndCsr("node-a")).csrPem));
    expect(held.code).toBe(status.PERMISSION_DENIED);
    expect(held.details).toContain("join-token create --name node-a");
    const first = await r.join(token, "node-once", (await createKeyAndCsr("node-once")).csrPem);
    expect(first.certificatePem).toContain("BEGIN CERTIFICATE");
    const again = await rejects(r.join(token, "node-twice", (await createKeyAndCsr("node-twice")).csrPem));
    expect(again.code).toBe(status.UNAUTHENTICATED);
    expect(again.details).toContain("already used");
    const bad = await rejects(r.join("0123abcd.0123456789abcdef0123456789abcdef", "node-x", (await createKeyAndCsr("x")).csrPem));
    expect(bad.code).toBe(status.UNAUTHENTICATED);
    const bound = await createJoinToken(cluster.scheduler.sql, { nodeName: "node-c", ttlMs: 60_000 });
    const other = await rejects(r.join(bound.token, "node-d", (await createKeyAndCsr("node-d")).csrPem));
    expect(other.code).toBe(status.PERMISSION_DENIED);
    r.close();
  });

  it("a revoked certificate is refused at once, on the connection it already has", async () => {
    const r = registry(cluster.scheduler.address, await joinAs(cluster, "node-r"));
    await r.register("node-r", 4, "127.0.0.1:1");
    await r.heartbeat("node-r");
    expect(await revokeCertificates(cluster.scheduler.sql, { nodeName: "node-r" })).toBe(1);
    const err = await rejects(r.heartbeat("node-r"));
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toContain("revoked");
    r.close();
  });

  it("AgentService refuses a client without the scheduler's certificate", async () => {
    const agent = cluster.agents[0]!;
    const list = (creds: ChannelCredentials) => {
      const c = new AgentServiceClient(agent.address, creds);
      return unary((cb) => c.listDomains({}, new Metadata(), deadline(), cb)).finally(() => c.close());
    };
    expect((await rejects(list(credentials.createInsecure()))).code).toBe(status.UNAVAILABLE);
    // No client certificate: the handshake itself fails.
    expect((await rejects(list(cluster.serverAuthOnly()))).code).toBe(status.UNAVAILABLE);
    // Another node's certificate from the same CA: the call is refused by identity.
    const nodeB = await rejects(list(cluster.asNode("node-b")));
    expect(nodeB.code).toBe(status.PERMISSION_DENIED);
    expect(nodeB.details).toContain("only the scheduler");
  });

  it("the CLI verifies the scheduler with the cluster CA from DROVER_CA_FILE, --ca or the config file, and says what is missing without it", async () => {
    const drover = async (env: Record<string, string>, ...argv: string[]) => {
      let out = "";
      let err = "";
      const code = await run(argv, { DROVER_ADDR: cluster.scheduler.address, DROVER_TOKEN: cluster.adminToken, HOME: "/nonexistent-drover-home", ...env }, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
      return { code, out, err };
    };
    const caFile = join(cluster.dir, "ca", "ca.pem");
    const viaEnv = await drover({ DROVER_CA_FILE: caFile }, "node", "list");
    expect(viaEnv.code, viaEnv.err).toBe(0);
    expect(viaEnv.out).toContain("node-a");
    expect((await drover({}, "--ca", caFile, "node", "list")).code).toBe(0);
    const config = join(cluster.dir, "cli.json");
    writeFileSync(config, JSON.stringify({ addr: cluster.scheduler.address, caFile, token: cluster.adminToken }));
    expect((await drover({ DROVER_CONFIG: config, DROVER_TOKEN: "" }, "node", "list")).code).toBe(0);
    // The token from --token, DROVER_TOKEN or the file is what the API checks.
    const noToken = await drover({ DROVER_CA_FILE: caFile, DROVER_TOKEN: "" }, "node", "list");
    expect(noToken.code).toBe(1);
    expect(noToken.err).toContain("UNAUTHENTICATED");
    expect((await drover({ DROVER_CA_FILE: caFile, DROVER_TOKEN: "" }, "--token", cluster.adminToken, "node", "list")).code).toBe(0);
    const without = await drover({}, "node", "list");
    expect(without.code).toBe(1);
    expect(without.err).toContain("--ca");
    // Plaintext to a TLS scheduler gets nowhere.
    expect((await drover({ DROVER_INSECURE: "1" }, "node", "list")).code).toBe(1);
  });

  it("registering a capacity below the node's claims is refused and the row is kept", async () => {
    const r = registry(cluster.scheduler.address, await joinAs(cluster, "node-small"));
    await r.register("node-small", 8, "127.0.0.1:1");
    // Claims exist only on nodes with agents that answer, so claim directly like a placement would.
    await cluster.scheduler.sql`UPDATE nodes SET alloc_vcpus = 6 WHERE name = 'node-small'`;
    const err = await rejects(r.register("node-small", 1, "127.0.0.1:1"));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toContain("vcpus: 6 claimed, 4 allocatable");
    expect((await cluster.api.getNode("node-small")).capacity?.vcpus).toBe(8);
    r.close();
  });
});

describe("certificate rotation", () => {
  let cluster: SecureCluster;

  beforeAll(async () => {
    // Node and scheduler certificates live 3 s: each side renews at 2 s, several times in this test.
    cluster = await startSecureCluster(["node-rot"], { nodeCertTtlMs: 3000, schedulerCertTtlMs: 3000, heartbeatTimeoutMs: 1500 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("a short-lived certificate is renewed and calls keep working both ways", async () => {
    const agent = cluster.agents[0]!;
    const first = agent.tls!.notAfter;
    await waitFor("two renewals", async () => (agent.tls!.renewals >= 2 ? true : undefined), 15_000);
    expect(agent.tls!.notAfter.getTime()).toBeGreaterThan(first.getTime());
    // The first certificate has expired by now; heartbeats (timeout 1.5 s) kept the node READY.
    expect(Date.now()).toBeGreaterThan(first.getTime());
    await sleep(500);
    expect((await cluster.api.getNode("node-rot")).state).toBe(NodeState.NODE_STATE_READY);
    // The scheduler, on its renewed certificate, still reaches the agent.
    const [vm] = (await cluster.api.createVms({ template: vmSpec("after-rotation", 1, 256), count: 1 })).vms;
    await waitFor("the VM RUNNING", async () => ((await cluster.api.getVm(vm!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
  });
});

describe("the scheduler checks the agent it dials is the node it means", () => {
  let cluster: SecureCluster;

  beforeAll(async () => {
    cluster = await startSecureCluster(["node-a", "node-b"]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("another node's certificate served at a node's address fails the dispatch, naming both, and gets no spec", async () => {
    // node-fake joined honestly but registered node-b's address: there node-b's agent answers,
    // with node-b's certificate. Before, any node certificate was accepted there.
    const nodeB = cluster.agents.find((a) => a.name === "node-b")!;
    const r = registry(cluster.scheduler.address, await joinAs(cluster, "node-fake"));
    await r.register("node-fake", 64, nodeB.address);
    await r.heartbeat("node-fake");
    await cluster.api.cordonNode("node-a");
    await cluster.api.cordonNode("node-b");
    const [vm] = (await cluster.api.createVms({ template: vmSpec("misdirected", 1, 256), count: 1 })).vms;
    expect(vm!.node).toBe("node-fake");
    const failed = await waitFor("the VM FAILED", async () => {
      await r.heartbeat("node-fake");
      const v = await cluster.api.getVm(vm!.id);
      return v.state === VmState.VM_STATE_FAILED ? v : undefined;
    });
    r.close();
    expect(failed.reason).toContain("for node node-fake served the certificate of node node-b");
    const c = new AgentServiceClient(nodeB.address, cluster.asNode("node-b"));
    const listed = await unary<{ domains: { vmId: string }[] }>((cb) => c.listDomains({}, new Metadata(), deadline(), cb));
    c.close();
    expect(listed.domains.map((d) => d.vmId)).not.toContain(vm!.id);
  });
});

describe("revoked scheduler certificates", () => {
  let cluster: SecureCluster;

  beforeAll(async () => {
    cluster = await startSecureCluster(["node-a"]);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** A scheduler certificate from the cluster CA, recorded like a replica's own. */
  async function schedulerCertificate(): Promise<{ creds: ChannelCredentials; serial: string }> {
    const ca = await loadClusterCa(join(cluster.dir, "ca"));
    const keys = await generateKeyPair();
    const cert = await issueSchedulerCertificate(ca, keys.publicKey, ["127.0.0.1"], 600_000);
    await recordSchedulerCertificate(cluster.scheduler.sql, cert);
    const creds = credentials.createSsl(cluster.caPem, Buffer.from(await privateKeyToPem(keys.privateKey)), Buffer.from(cert.certificatePem), {
      checkServerIdentity: () => undefined,
    });
    return { creds, serial: cert.serial };
  }

  const listDomains = (creds: ChannelCredentials) => {
    const c = new AgentServiceClient(cluster.agents[0]!.address, creds);
    return unary((cb) => c.listDomains({}, new Metadata(), deadline(), cb)).finally(() => c.close());
  };

  it("an agent refuses a scheduler certificate once it is revoked, on the connection it already has", async () => {
    const { creds, serial } = await schedulerCertificate();
    await listDomains(creds);
    expect(await revokeCertificates(cluster.scheduler.sql, { serial })).toBe(1);
    // The agent learns it with its next heartbeat answer (every 200 ms here; the list is read at most every 2 s).
    const err = await waitFor("the revoked certificate refused", async () => {
      const e = await listDomains(creds).then(() => undefined, (x: unknown) => x as ServiceError);
      return e;
    }, 15_000);
    expect(err.code).toBe(status.UNAUTHENTICATED);
    expect(err.details).toBe(`the certificate ${serial} is revoked (the scheduler says so)`);
    // Kept in the agent's TLS dir for its next start.
    expect(readFileSync(join(cluster.dir, "nodes", "node-a", "revoked-serials.json"), "utf8")).toContain(serial);
  });

  it("a replica whose own certificate is revoked takes a new one and still reaches its agents", async () => {
    const [own] = await cluster.scheduler.sql<{ serial: string }[]>`
      SELECT serial FROM node_certificates WHERE kind = 'scheduler' AND revoked_at IS NULL ORDER BY issued_at LIMIT 1`;
    expect(await revokeCertificates(cluster.scheduler.sql, { serial: own!.serial })).toBe(1);
    await waitFor("a new scheduler certificate", async () => {
      const [n] = await cluster.scheduler.sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM node_certificates WHERE kind = 'scheduler' AND revoked_at IS NULL AND serial <> ${own!.serial}`;
      return n!.n >= 1 ? true : undefined;
    }, 15_000);
    // Let the agent learn the revocation too: then only the new certificate can dispatch.
    await sleep(2500);
    const [vm] = (await cluster.api.createVms({ template: vmSpec("after-revocation", 1, 256), count: 1 })).vms;
    await waitFor("the VM RUNNING", async () => ((await cluster.api.getVm(vm!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
  });
});
