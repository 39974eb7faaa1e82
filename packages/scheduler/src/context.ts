import type { Sql } from "@drover/store";
import type { AgentClients } from "./dispatch/agent-clients.js";
import type { SchedulerConfig } from "./config.js";
import type { CreateBatcher } from "./create/batcher.js";
import type { BeatFloor } from "./liveness/beat-rate.js";
import type { HeartbeatBatcher } from "./liveness/heartbeat-batcher.js";
import type { SchedulerMetrics } from "./metrics.js";
import type { SchedulerIdentity } from "./tls/scheduler-identity.js";
import type { RevokedSerials } from "./tls/revoked-serials.js";
import type { StandingBatcher } from "./tls/standing-batcher.js";
import type { NodeStreams } from "./tls/node-streams.js";
import type { AuditLog } from "./auth/audit-log.js";
import type { Authenticator } from "./auth/authenticate.js";
import type { DenialLog } from "./auth/denials.js";
import type { TokenStreams } from "./auth/token-streams.js";
import type { TokenCache } from "./auth/token-cache.js";

/** What the gRPC handlers share. */
export interface SchedulerContext {
  sql: Sql;
  config: SchedulerConfig;
  agents: AgentClients;
  metrics: SchedulerMetrics;
  /** The cluster CA and our own certificate; undefined in insecure mode. */
  identity: SchedulerIdentity | undefined;
  /** What RegisterNode and Heartbeat answers tell agents to refuse. */
  revoked: RevokedSerials;
  /** Node certificates' standing, looked up in batches: every NodeRegistryService call checks its own. */
  certificates: StandingBatcher;
  /** Open StreamHeartbeats streams, ended when their certificate is revoked or expires. */
  nodeStreams: NodeStreams;
  /** Every CreateVms goes through it (group commit of concurrent requests). */
  creates: CreateBatcher;
  /** Every Heartbeat goes through it (one statement for the beats of a few milliseconds). */
  heartbeats: HeartbeatBatcher;
  /** The shortest interval streams tell their agents, from how many stream here (DROVER_MAX_HEARTBEATS_PER_SECOND). */
  beatFloor: BeatFloor;
  wakeDispatcher(): void;
  /** Wakes the dispatcher to read the deletion queue now (after a DeleteVm). */
  wakeDeletions(): void;
  /** True once shutdown began: long-lived streams end. */
  stopping(): boolean;
  log(message: string): void;
  /** Checks every public call's token (or lets all through in insecure mode). */
  auth: Authenticator;
  /** The token rows auth reads through; a revocation here drops its row at once. */
  tokens: TokenCache;
  /** Records every mutating public call. */
  audit: AuditLog;
  /** Records refused calls, bounded (drover.audit.denied). */
  denials: DenialLog;
  /** Open streams by token: a revoked or expired token's streams end. */
  tokenStreams: TokenStreams;
}
