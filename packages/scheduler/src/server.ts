import { randomUUID } from "node:crypto";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import {
  AccessServiceService,
  CapacityServiceService,
  ImageServiceService,
  NetworkServiceService,
  NodeRegistryServiceService,
  NodeServiceService,
  ProjectServiceService,
  VmServiceService,
} from "@drover/proto";
import type { NatsTls } from "@drover/events";
import { connect, migrate, recordSchedulerCertificate, startEmbeddedPostgres, type EmbeddedPostgres, type Sql } from "@drover/store";
import { AgentClients } from "./dispatch/agent-clients.js";
import type { SchedulerConfig } from "./config.js";
import type { SchedulerContext } from "./context.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { capacityService } from "./api/capacity-service.js";
import { imageService, networkService } from "./api/catalog-service.js";
import { nodeService } from "./api/node-service.js";
import { registryService } from "./api/registry-service.js";
import { vmService } from "./api/vm-service.js";
import { accessService } from "./api/access-service.js";
import { projectService } from "./api/project-service.js";
import { AuditLog, Authenticator, DenialLog, TOKEN_SWEEP_MS, TokenStreams } from "./auth/index.js";
import { TokenCache } from "./auth/token-cache.js";
import { addReflection } from "./api/reflection.js";
import { checkedService } from "./api/checked-service.js";
import { HEARTBEAT_LINGER_MS, HeartbeatBatcher } from "./liveness/heartbeat-batcher.js";
import { ReconcileReads } from "./liveness/reconcile-reads.js";
import { ReconcileGate } from "./liveness/reconcile-gate.js";
import { ReportMemo } from "./liveness/report-memo.js";
import { DirectBeatCall, routeBeforeGrpc, STREAM_HEARTBEATS_PATH } from "./api/direct-beats.js";
import { serveBeats } from "./api/heartbeat-stream.js";
import { livenessPeriodMs, livenessTick } from "./liveness/liveness.js";
import { vmTimersTick } from "./vms/vm-timers.js";
import { Loop } from "./loop.js";
import { STORE_PROBE_MS, StoreHealth } from "./store-health.js";
import { createMetrics, serveMetrics, type SchedulerMetrics } from "./metrics.js";
import { placementOptionsFor, type PlacementOptionsFor } from "./create/placement-options.js";
import { CreateBatcher } from "./create/batcher.js";
import { GroupCache } from "./create/group-cache.js";
import { NodeCache } from "./create/node-cache.js";
import { BeatFloor, beatBoundMs } from "./liveness/beat-rate.js";
import { OutboxRelay } from "./relay/relay.js";
import { VmRetention, vmRetentionPeriodMs } from "./vms/retention.js";
import { loadClusterCa } from "./tls/cluster-ca.js";
import { SchedulerIdentity } from "./tls/scheduler-identity.js";
import { RevokedSerials } from "./tls/revoked-serials.js";
import { NODE_STREAM_SWEEP_MS, NodeStreams } from "./tls/node-streams.js";
import { revokedRefusal, refuse } from "./tls/authorize-node.js";
import { StandingBatcher } from "./tls/standing-batcher.js";
import { ShutdownSteps } from "./shutdown.js";

export interface RunningScheduler {
  /** host:port the gRPC API listens on. */
  address: string;
  /** host:port of /metrics, or "" when disabled. */
  metricsAddress: string;
  /** The database URL in use (the embedded one's when no URL was configured). */
  databaseUrl: string;
  sql: Sql;
  /** True when tokens are not checked (DROVER_INSECURE=1). */
  insecure: boolean;
  /**
   * Stops the replica: open work gets config.shutdownGraceMs, then the database connections are
   * cut (statements Postgres never answers fail) and open calls cancelled.
   */
  stop(): Promise<StopOutcome>;
  /** While stop() runs: what it still waits on, e.g. "loop dispatcher (10.2 s)"; for the process's last log line. */
  shutdownOpen(): string[];
}

/** How a stop ended. `cut`: what was still open when the grace ended and the database connections were cut; undefined when all of it ended within the grace. */
export interface StopOutcome {
  cut?: string[];
}

const SERVICES = [
  "drover.v1.VmService",
  "drover.v1.NodeService",
  "drover.v1.CapacityService",
  "drover.v1.NodeRegistryService",
  "drover.v1.ImageService",
  "drover.v1.NetworkService",
  "drover.v1.AccessService",
  "drover.v1.ProjectService",
];

/** Starts a scheduler replica: database (migrated), gRPC API, background loops, metrics. */
export async function startScheduler(config: SchedulerConfig, log: (m: string) => void = console.log): Promise<RunningScheduler> {
  // The CA first: a missing one fails at once, before a database is opened.
  const identity = await startIdentity(config, log);
  const db = await openDatabase(config, log).catch((err: unknown) => {
    identity?.stop();
    throw err;
  });
  const { sql } = db;
  const metrics = createMetrics(sql);
  const agents = new AgentClients(config.agentTimeoutMs, identity);
  if (identity) await keepOwnCertificates(identity, sql, agents, log);
  let stopping = false;
  const heartbeats = new HeartbeatBatcher(db.heartbeatSql, HEARTBEAT_LINGER_MS, new ReconcileGate(), new ReportMemo(), new ReconcileReads(sql));
  const work = backgroundWork(sql, agents, config, metrics, heartbeats, log);
  const ctx = handlerContext(sql, config, agents, metrics, work, heartbeats, () => stopping, log, identity);
  // Without the revocation listener the token cache stays off (every call reads its token row).
  if (!config.insecure) await ctx.tokens.start().catch((err: unknown) => log(`token cache off: cannot listen for revocations: ${String(err)}`));
  const api = await serveApi(ctx, config.listen, identity);
  const metricsServer = config.metricsListen ? await serveMetrics(metrics.registry, config.metricsListen) : undefined;
  const storeHealth = new StoreHealth(sql, (serving) => api.setServing(serving), () => stopping, log);
  work.loops.push(new Loop("store-health", STORE_PROBE_MS, () => storeHealth.probe(), () => {}));
  const sweep = new Loop("token-streams", TOKEN_SWEEP_MS, () => ctx.tokenStreams.sweep(), (name, err) => log(`${name}: ${err instanceof Error ? err.message : String(err)}`));
  ctx.tokenStreams.wake = () => sweep.wake();
  // A revocation on any replica reaches this one's streams at once; the sweep's period is the fallback.
  ctx.tokens.onRevoked = () => sweep.wake();
  work.loops.push(sweep);
  work.loops.push(new Loop("node-streams", NODE_STREAM_SWEEP_MS, () => ctx.nodeStreams.sweep(), (name, err) => log(`${name}: ${err instanceof Error ? err.message : String(err)}`)));
  for (const l of work.loops) l.start();
  let shutdown: ShutdownSteps | undefined;

  return {
    address: api.address,
    metricsAddress: metricsServer?.address ?? "",
    databaseUrl: db.url,
    sql,
    insecure: config.insecure,
    async stop(): Promise<StopOutcome> {
      stopping = true;
      let cut: string[] | undefined;
      const steps = (shutdown = new ShutdownSteps(config.shutdownGraceMs, (open) => {
        log(`shutdown: still open after the ${config.shutdownGraceMs} ms grace: ${open.join(", ") || "nothing"}; cutting the database connections`);
        // end() again later returns this one; timeout 0 destroys the connections at once, failing what waits on them.
        void sql.end({ timeout: 0 });
        void db.heartbeatSql.end({ timeout: 0 });
      }));
      try {
        // Creates still coming in commit SCHEDULED, for whichever replica runs next.
        work.dispatcher.close();
        api.stopServing();
        // Heartbeat streams last for ever: end them, so agents move to another replica now.
        ctx.nodeStreams.endAll();
        await Promise.all(work.loops.map((l) => steps.graceStep(`loop ${l.name}`, () => l.stop())));
        await steps.graceStep("agent calls", () => work.dispatcher.drain());
        await steps.step("open calls", () => api.close(steps.graceEndsAt));
        ctx.denials.flush();
        agents.close();
        identity?.stop();
        await steps.step("event relay", () => work.relay.close());
        await steps.step("metrics server", () => new Promise<void>((resolve) => (metricsServer ? metricsServer.server.close(() => resolve()) : resolve())));
        await steps.step("database", () => sql.end({ timeout: 5 }));
        if (db.heartbeatSql !== sql) await steps.step("heartbeat database", () => db.heartbeatSql.end({ timeout: 5 }));
        await steps.step("embedded database", async () => db.embedded?.stop());
      } finally {
        cut = steps.done();
      }
      return cut ? { cut } : {};
    },
    shutdownOpen: () => shutdown?.stillOpen() ?? [],
  };
}

/** Connections kept for heartbeats: one statement records a whole batch, a second covers a slow one. */
const HEARTBEAT_POOL_SIZE = 2;

/** The configured database, or an embedded one when no URL is set; migrated. */
async function openDatabase(
  config: SchedulerConfig,
  log: (m: string) => void,
): Promise<{ sql: Sql; heartbeatSql: Sql; url: string; embedded?: EmbeddedPostgres }> {
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir || undefined });
    databaseUrl = embedded.url;
    log(`database: embedded Postgres (PGlite) ${config.dataDir ? `in ${config.dataDir}` : "in memory"}`);
  }
  // The embedded database serves one session; a pool of one keeps transactions apart.
  const sql = connect(databaseUrl, { max: embedded ? 1 : config.databasePoolSize });
  const applied = await migrate(sql);
  if (applied.length) log(`database: applied migrations ${applied.join(", ")}`);
  // Heartbeats get connections of their own, so they are recorded at once whatever the pool is
  // busy with: behind a bulk's dispatch statements beats waited long enough to look late.
  const heartbeatSql = embedded ? sql : connect(databaseUrl, { max: HEARTBEAT_POOL_SIZE });
  return { sql, heartbeatSql, url: databaseUrl, ...(embedded ? { embedded } : {}) };
}

/** The cluster CA and our own certificate, or none in insecure mode (said loudly). */
async function startIdentity(config: SchedulerConfig, log: (m: string) => void): Promise<SchedulerIdentity | undefined> {
  if (config.insecure) {
    log("WARNING: DROVER_INSECURE=1: no TLS, no node identities, no token checks. Anyone who reaches this port can register nodes, read VM specs and act as admin. Test clusters only.");
    return undefined;
  }
  const ca = await loadClusterCa(config.tlsDir);
  const identity = await SchedulerIdentity.start(ca, { hosts: config.tlsHosts, lifetimeMs: config.schedulerCertTtlMs, log });
  log(`tls: serving with a certificate from the cluster CA in ${config.tlsDir} for ${config.tlsHosts.join(", ")}`);
  return identity;
}

/**
 * Our certificates are recorded (so that `cert revoke --serial` can revoke one), each renewed
 * one before it is used; holders of connections to agents reconnect after a renewal.
 */
async function keepOwnCertificates(identity: SchedulerIdentity, sql: Sql, agents: AgentClients, log: (m: string) => void): Promise<void> {
  await recordSchedulerCertificate(sql, identity.current);
  log(`tls: this scheduler's certificate has serial ${identity.current.serial}`);
  identity.beforeUse = (c) => recordSchedulerCertificate(sql, c);
  identity.onRenewed = () => agents.reconnect();
}

/** TLS to NATS from DROVER_NATS_TLS_CA/CERT/KEY; a tls:// URL alone asks for TLS with the system CAs. */
function natsTls(c: SchedulerConfig): NatsTls | undefined {
  const files = { ...(c.natsTlsCa ? { caFile: c.natsTlsCa } : {}), ...(c.natsTlsCert ? { certFile: c.natsTlsCert } : {}), ...(c.natsTlsKey ? { keyFile: c.natsTlsKey } : {}) };
  return Object.keys(files).length > 0 || c.natsUrl.startsWith("tls://") ? files : undefined;
}

interface BackgroundWork {
  dispatcher: Dispatcher;
  /** The beat-rate floor this replica tells its agents (heartbeat streams), and its bound for liveness. */
  beatFloor: BeatFloor;
  relay: OutboxRelay;
  loops: Loop[];
  placementOptions: PlacementOptionsFor;
  wakeDispatcher(): void;
}

/** The dispatcher, liveness and relay loops (not started yet). */
function backgroundWork(
  sql: Sql,
  agents: AgentClients,
  config: SchedulerConfig,
  metrics: SchedulerMetrics,
  heartbeats: HeartbeatBatcher,
  log: (m: string) => void,
): BackgroundWork {
  const onError = (name: string, err: unknown) => log(`${name}: ${err instanceof Error ? err.message : String(err)}`);
  const placementOptions = placementOptionsFor(config);
  const dispatcher = new Dispatcher(sql, agents, config, placementOptions, metrics, log, heartbeats.reports);
  const relay = new OutboxRelay(sql, config.natsUrl, metrics, log, config.eventRetentionMs, natsTls(config));
  const beatFloor = new BeatFloor(config);
  // A new id each start: a restarted replica's old row expires on its own (BEAT_BOUND_HELD_MS).
  const bound = { replica: randomUUID(), timeoutMs: () => beatBoundMs(config, beatFloor.heldMs()) };
  const loops = [
    new Loop("dispatcher", config.tickMs, () => dispatcher.tick(), onError),
    new Loop("liveness", livenessPeriodMs(config.heartbeatTimeoutMs), () => livenessTick(sql, config.heartbeatTimeoutMs, log, () => heartbeats.pendingNodes(), bound), onError),
    new Loop("relay", config.tickMs, () => relay.tick(), onError),
    new Loop("vm-timers", Math.max(config.tickMs, 200), () => vmTimersTick(sql, config, log, () => loops[0]!.wake()), onError),
  ];
  if (config.vmRetentionMs > 0) {
    const retention = new VmRetention(sql, config.vmRetentionMs, config.natsUrl !== "", metrics, log);
    loops.push(new Loop("vm-retention", vmRetentionPeriodMs(config.vmRetentionMs), async () => void (await retention.tick()), onError));
  }
  const wakeDispatcher = () => loops[0]!.wake();
  dispatcher.onSlotFree = wakeDispatcher;
  return { dispatcher, beatFloor, relay, loops, placementOptions, wakeDispatcher };
}

/** What the handlers share: the create batcher, the heartbeat batcher, ways to wake the dispatcher. */
function handlerContext(
  sql: Sql,
  config: SchedulerConfig,
  agents: AgentClients,
  metrics: SchedulerMetrics,
  work: BackgroundWork,
  heartbeats: HeartbeatBatcher,
  stopping: () => boolean,
  log: (m: string) => void,
  identity: SchedulerIdentity | undefined,
): SchedulerContext {
  const { dispatcher, placementOptions, wakeDispatcher } = work;
  const audit = new AuditLog(sql);
  const denials = new DenialLog(
    (entries) => Promise.all(entries.map((e) => audit.record(e))).then(() => {}),
    log,
    { perWindow: config.auditDeniedPerWindow, windowMs: config.auditDeniedWindowMs },
    Date.now,
    (record) => metrics.auditDenials.inc({ record }),
  );
  const tokens = new TokenCache(sql);
  const revoked = new RevokedSerials(sql, identity, log);
  const ctx: SchedulerContext = {
    sql,
    config,
    agents,
    metrics,
    identity,
    revoked,
    nodeStreams: new NodeStreams(() => revoked.list(), {
      revoked: (serial, node) => revokedRefusal(ctx, serial, node),
      expired: (serial, node) => refuse(ctx, "unauthenticated", "expired", `the certificate ${serial} of node ${node} has expired; join again with a new join token`),
    }, (n) => metrics.heartbeatStreams.set(n)),
    certificates: new StandingBatcher(sql),
    creates: new CreateBatcher({
      sql,
      metrics,
      claimRetries: config.claimRetries,
      placementOptions,
      nodes: new NodeCache(sql, config.snapshotTtlMs),
      // Group members go stale only by leaving (others' additions are refused in the statement), so they keep longer.
      groups: new GroupCache(sql, config.snapshotTtlMs * 10),
      onScheduled: wakeDispatcher,
      // A single create's VMs commit PROVISIONING under slots held here, when it has room.
      dispatch: dispatcher,
    }),
    heartbeats,
    beatFloor: work.beatFloor,
    wakeDispatcher,
    wakeDeletions: () => {
      dispatcher.wantDeletions();
      wakeDispatcher();
    },
    stopping,
    log,
    auth: new Authenticator(sql, config.insecure, metrics.authRefusals, denials, (id) => tokens.find(id)),
    audit,
    denials,
    tokenStreams: new TokenStreams(sql),
    tokens,
  };
  return ctx;
}

/** The gRPC API: the services, health and reflection. */
async function serveApi(ctx: SchedulerContext, listen: string, identity: SchedulerIdentity | undefined) {
  // Channelz is off: it keeps counters and timestamps for every call, for a channelz
  // service we do not serve (its handler was ~3 % of the scheduler thread's samples).
  // The message limit bounds what one request can make the scheduler hold (it was 64 MiB:
  // 16 such requests at once took it from 116 to 804 MiB).
  const maxBytes = ctx.config.maxMessageMib * 1024 * 1024;
  const server = new Server({ "grpc.max_receive_message_length": maxBytes, "grpc.max_send_message_length": maxBytes, "grpc.enable_channelz": 0 });
  // Each request's bytes are checked before the generated decoder (api/checked-service.ts).
  server.addService(...checkedService(VmServiceService, vmService(ctx), ctx.log));
  server.addService(...checkedService(NodeServiceService, nodeService(ctx), ctx.log));
  server.addService(...checkedService(CapacityServiceService, capacityService(ctx), ctx.log));
  server.addService(...checkedService(NodeRegistryServiceService, registryService(ctx), ctx.log));
  server.addService(...checkedService(ImageServiceService, imageService(ctx), ctx.log));
  server.addService(...checkedService(NetworkServiceService, networkService(ctx), ctx.log));
  server.addService(...checkedService(AccessServiceService, accessService(ctx), ctx.log));
  server.addService(...checkedService(ProjectServiceService, projectService(ctx), ctx.log));
  const health = new HealthImplementation(Object.fromEntries(["", ...SERVICES].map((s) => [s, "SERVING" as const])));
  health.addToServer(server);
  addReflection(server, SERVICES);

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(listen, identity?.serverCredentials() ?? ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  // StreamHeartbeats on its HTTP/2 stream, in front of grpc-js (api/direct-beats.ts).
  const direct = routeBeforeGrpc(server, STREAM_HEARTBEATS_PATH, (stream, headers) => void serveBeats(ctx, new DirectBeatCall(stream, headers, maxBytes)));
  if (!direct) ctx.log("heartbeat streams: served through grpc-js (this grpc-js keeps its HTTP/2 servers elsewhere)");
  const host = listen.slice(0, listen.lastIndexOf(":"));
  return {
    address: `${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}`,
    /** Health follows the database (StoreHealth): NOT_SERVING while it is out of reach. */
    setServing(serving: boolean) {
      for (const s of ["", ...SERVICES]) health.setStatus(s, serving ? "SERVING" : "NOT_SERVING");
    },
    /** Health says NOT_SERVING, so load balancers move on while in-flight work ends. */
    stopServing() {
      for (const s of ["", ...SERVICES]) health.setStatus(s, "NOT_SERVING");
    },
    /** Open calls may finish until graceEndsAt (Date.now() time), then their connections are closed. */
    async close(graceEndsAt: number) {
      // Graceful for a while, then not: a peer that never closes its side of a stream (an agent's
      // heartbeat stream, after its status) would otherwise hold the shutdown for ever.
      await new Promise<void>((resolve) => {
        const bound = setTimeout(resolve, Math.max(0, graceEndsAt - Date.now()));
        server.tryShutdown(() => (clearTimeout(bound), resolve()));
      });
      server.forceShutdown();
    },
  };
}
