#!/usr/bin/env node
// drover-devcluster: a whole Drover cluster on this machine with embedded defaults.
// Scheduler on embedded Postgres unless DROVER_DATABASE_URL is set; NATS when
// reachable; three simulated hosts (libvirt test driver); one real host on
// qemu:///system when libvirtd answers. Stays up until Ctrl-C.
import { startAgent, type RunningAgent } from "@drover/agent";
import { testHostUri } from "@drover/agent/testing";
import { configFromEnv, ensureCatalogImage, ensureCatalogNetwork, issueToken, startScheduler } from "@drover/scheduler";
import { devclusterTls, writeCliConfig } from "./cluster-tls.js";
import { NAT_NETWORK, ensureNatNetwork } from "./nat-network.js";
import { TEST_GUEST_IMAGE, installTestGuestImage } from "./test-guest-image.js";
import { natsReachable } from "./probe.js";
import { devclusterDirs } from "./state-dir.js";

// Three hosts of different sizes, in two zones, so spread/pack and constraints show.
const SIMULATED = [
  { name: "sim-small", vcpus: 4, memoryMib: 8 * 1024, labels: { size: "small", zone: "a" } },
  { name: "sim-medium", vcpus: 16, memoryMib: 64 * 1024, labels: { size: "medium", zone: "a" } },
  { name: "sim-large", vcpus: 64, memoryMib: 256 * 1024, labels: { size: "large", zone: "b" } },
];

const log = (m: string) => console.log(`${new Date().toISOString().slice(11, 23)} ${m}`);

async function main(): Promise<void> {
  // Security is on (TLS, node certificates, API tokens) unless the caller says DROVER_INSECURE=1.
  const env = { DROVER_LISTEN: "127.0.0.1:7400", DROVER_METRICS_LISTEN: "127.0.0.1:9400", ...process.env };
  const config = configFromEnv(env, (m) => log(`warning: ${m}`));
  // A fresh CA per run unless the caller brought one (DROVER_TLS_DIR) or turned TLS off.
  const tls = config.insecure ? undefined : await devclusterTls(config.tlsDir || undefined);
  if (tls) config.tlsDir = tls.caDir;
  if (config.natsUrl && !(await natsReachable(config.natsUrl))) {
    log(`NATS not reachable at ${config.natsUrl}: events stay in the outbox (WatchEvents still serves them) and go out once NATS is up`);
  }
  // The real host's VMs get a NIC on drover-nat unless they name another network: DHCP from
  // libvirt's dnsmasq, and an address Drover reports.
  const nat = natNetwork();
  if (nat && !process.env.DROVER_DEFAULT_NETWORK) config.defaultNetwork = NAT_NETWORK;
  const scheduler = await startScheduler(config, (m) => log(`scheduler: ${m}`));
  if (nat) await ensureCatalogNetwork(scheduler.sql, { name: NAT_NETWORK, description: "libvirt NAT network on this machine (scripts/lib/setup.sh ensure_nat_network)", type: "libvirt" });

  const agentLog = (name: string) => (m: string) => log(`${name}: ${m}`);
  // Each agent joins with a one-time token made for its name.
  const identity = async (name: string) =>
    tls ? { caFile: tls.caFile, tlsDir: tls.agentTlsDir(name), joinToken: await tls.joinToken(scheduler, name) } : { insecure: config.insecure };
  const agents: RunningAgent[] = [];
  let port = 7411;
  for (const h of SIMULATED) {
    agents.push(
      await startAgent(
        {
          nodeName: h.name,
          libvirtUri: testHostUri(h),
          listen: `127.0.0.1:${port++}`,
          schedulerAddress: scheduler.address,
          labels: h.labels,
          ...(await identity(h.name)),
        },
        { log: agentLog(h.name) },
      ),
    );
  }
  let imagesDir: string | undefined;
  try {
    const dirs = devclusterDirs();
    const stateDir = dirs.stateDir;
    imagesDir = dirs.imagesDir;
    agents.push(
      await startAgent(
        {
          nodeName: "kvm-local",
          libvirtUri: "qemu:///system",
          listen: `127.0.0.1:${port++}`,
          schedulerAddress: scheduler.address,
          labels: { size: "real", zone: "local" },
          stateDir,
          imageDir: imagesDir,
          metricsListen: "127.0.0.1:9401",
          ...(await identity("kvm-local")),
        },
        { log: agentLog("kvm-local") },
      ),
    );
  } catch (err) {
    log(`no real host: qemu:///system is not available (${(err as Error).message})`);
  }
  await Promise.all(agents.map((a) => a.registered()));
  const real = agents.find((a) => a.name === "kvm-local");
  const guestImage = real && imagesDir ? installTestGuestImage(imagesDir) : undefined;
  if (guestImage) await ensureCatalogImage(scheduler.sql, guestImage);
  // The first admin token, shown here once (the store keeps only its hash) and given to the CLI.
  const admin = tls ? await issueToken(scheduler.sql, { role: "admin", project: "default", description: "npm run cluster admin" }) : undefined;
  const cliConfig = tls && admin ? writeCliConfig(scheduler.address, tls.caFile, admin.bearer) : undefined;

  console.log(`
Drover is running.
  gRPC API      ${scheduler.address}   (export DROVER_ADDR=${scheduler.address})
  TLS           ${tls ? `cluster CA ${tls.caFile}; ${cliConfig ? `the CLI finds it through ${cliConfig}` : `export DROVER_CA_FILE=${tls.caFile}`}` : "OFF (DROVER_INSECURE=1)"}
  admin token   ${admin ? `${admin.bearer}   (${cliConfig ? `in ${cliConfig} for the CLI` : "export DROVER_TOKEN=… for the CLI"})` : "none: tokens are off (DROVER_INSECURE=1)"}
  metrics       ${scheduler.metricsAddress ? `http://${scheduler.metricsAddress}/metrics` : "off"}
  database      ${config.databaseUrl ? "Postgres at DROVER_DATABASE_URL" : `embedded Postgres (PGlite) at ${scheduler.databaseUrl}`}
  events        ${config.natsUrl ? `NATS ${config.natsUrl}, stream DROVER, subjects drover.vm.* / drover.node.*` : "outbox only (DROVER_NATS_URL is empty)"}
  hosts         ${agents.map((a) => `${a.name} (${a.domainType})`).join(", ")}
${real ? `  kvm-local     domain type ${real.domainType}: ${real.domainTypeReason}
` : ""}${imagesDir ? `  images        ${imagesDir}   (kvm-local's image directory: put a file NAME here, then drover image create NAME; --image NAME)
` : ""}${nat ? `  network       ${NAT_NETWORK} (libvirt NAT, DHCP): every VM's NIC unless it names another network (DROVER_DEFAULT_NETWORK=${config.defaultNetwork})
` : ""}
Try:
  bin/drover node list
  bin/drover vm create web --vcpus 1 --memory 512M --count 20
${guestImage ? `  bin/drover vm create guest --vcpus 1 --memory 128M --disk 1G --image ${TEST_GUEST_IMAGE} --constraint size=real
  bin/drover vm list     (the guest's DHCP address on ${NAT_NETWORK} shows under ADDRESS once it booted)
` : ""}  bin/drover capacity
  bin/drover events --from-start
Ctrl-C stops everything.
`);

  let stopping = false;
  const stop = async () => {
    if (stopping) process.exit(130);
    stopping = true;
    log("stopping");
    await Promise.all(agents.map((a) => a.stop()));
    await scheduler.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}

/** Whether drover-nat is up (set up now if need be); false, said once, where libvirt cannot give it. */
function natNetwork(): boolean {
  try {
    ensureNatNetwork();
    return true;
  } catch (err) {
    log(`no NAT network for the real host: ${(err as Error).message}`);
    return false;
  }
}

main().catch((err: unknown) => {
  console.error(`drover-devcluster: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
