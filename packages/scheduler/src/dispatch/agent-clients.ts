import { credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { AgentServiceClient, AgentServiceService, type EnsureDomainRequest, type DomainStatus, type ReadConsoleLogResponse } from "@drover/proto";
import { AgentCallError, type AgentFailure } from "../errors.js";
import { AgentHttp2, MAX_RESPONSE_BYTES, type UnaryMethod } from "./agent-http2.js";
import type { KeepaliveOptions } from "./agent-keepalive.js";
import type { AgentTls } from "./agent-tls.js";

type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: Date }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** The node an agent call is for, and the address it registered. */
export interface AgentTarget {
  name: string;
  address: string;
}

export interface AgentClientOptions {
  /**
   * What carries the unary calls: node:http2 directly (agent-http2.ts, half grpc-js' CPU per call),
   * or grpc-js, kept to compare the two (benchmarks/agent-client-cost.ts, agent-http2.test.ts).
   * Console-log streams always go through grpc-js.
   * @default "http2"
   */
  unary?: "http2" | "grpc-js";
  /** @default MAX_RESPONSE_BYTES (4 MiB, grpc-js' default) */
  maxResponseBytes?: number;
  /** PINGs on the node:http2 sessions (agent-keepalive.ts). @default DEFAULT_KEEPALIVE */
  keepalive?: KeepaliveOptions;
}

/**
 * The scheduler's calls to agents; mTLS with the scheduler's certificate unless insecure, accepting
 * only the node's own certificate. Unary calls go over one node:http2 session per node and address;
 * console-log streams over one grpc-js channel per node and address. Keyed by node too: each
 * connection checks the agent's certificate names the node it was made for.
 */
export class AgentClients {
  private readonly clients = new Map<string, AgentServiceClient>();
  private readonly http2: AgentHttp2 | undefined;
  private readonly maxResponseBytes: number;

  constructor(
    private readonly timeoutMs: number,
    private readonly tls?: AgentTls,
    options: AgentClientOptions = {},
  ) {
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    if ((options.unary ?? "http2") === "http2") this.http2 = new AgentHttp2(tls ? (node) => tls.agentConnectOptions(node) : undefined, { maxResponseBytes: this.maxResponseBytes, keepalive: options.keepalive });
  }

  private client(agent: AgentTarget): AgentServiceClient {
    const key = `${agent.name}\u0000${agent.address}`;
    let c = this.clients.get(key);
    if (!c) {
      // No channelz bookkeeping per call (see server.ts). A local subchannel pool, so that
      // reconnect() makes new handshakes rather than reusing grpc-js's shared connections. The
      // TLS server name is the node's name (its certificate's DNS name), not the address.
      c = new AgentServiceClient(agent.address, this.tls ? this.tls.agentCredentials(agent.name) : credentials.createInsecure(), {
        "grpc.enable_channelz": 0,
        "grpc.use_local_subchannel_pool": 1,
        "grpc.ssl_target_name_override": agent.name,
        "grpc.max_receive_message_length": this.maxResponseBytes,
      });
      this.clients.set(key, c);
    }
    return c;
  }

  private call<Req, Res>(agent: AgentTarget, method: UnaryMethod<Req, Res>, pick: (c: AgentServiceClient) => (...args: never[]) => unknown, req: Req): Promise<Res> {
    if (this.http2) return this.http2.unary(agent, method, req, this.timeoutMs);
    const c = this.client(agent);
    const fn = pick(c).bind(c) as Unary<Req, Res>;
    return new Promise((resolve, reject) => {
      fn(req, new Metadata(), { deadline: new Date(Date.now() + this.timeoutMs) }, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
  }

  async ensureDomain(agent: AgentTarget, req: EnsureDomainRequest): Promise<DomainStatus | undefined> {
    return (await this.call(agent, AgentServiceService.ensureDomain, (c) => c.ensureDomain, req)).domain;
  }
  async startDomain(agent: AgentTarget, vmId: string): Promise<DomainStatus | undefined> {
    return (await this.call(agent, AgentServiceService.startDomain, (c) => c.startDomain, { vmId })).domain;
  }
  async stopDomain(agent: AgentTarget, vmId: string, force: boolean): Promise<DomainStatus | undefined> {
    return (await this.call(agent, AgentServiceService.stopDomain, (c) => c.stopDomain, { vmId, force })).domain;
  }
  async rebootDomain(agent: AgentTarget, vmId: string): Promise<void> {
    await this.call(agent, AgentServiceService.rebootDomain, (c) => c.rebootDomain, { vmId });
  }
  async destroyDomain(agent: AgentTarget, vmId: string): Promise<void> {
    await this.call(agent, AgentServiceService.destroyDomain, (c) => c.destroyDomain, { vmId });
  }

  /** The domain's console log as a stream; following has no deadline (it lasts until cancelled). */
  readConsoleLog(agent: AgentTarget, vmId: string, follow: boolean): ClientReadableStream<ReadConsoleLogResponse> {
    const options = follow ? {} : { deadline: new Date(Date.now() + this.timeoutMs) };
    return this.client(agent).readConsoleLog({ vmId, follow }, new Metadata(), options);
  }

  /**
   * New connections for the next calls (after our certificate was renewed: an open connection
   * keeps the certificate of its handshake, which agents check per call). Old sessions and
   * channels close once their calls can have ended.
   */
  reconnect(): void {
    this.http2?.reconnect();
    const old = [...this.clients.values()];
    this.clients.clear();
    setTimeout(() => old.forEach((c) => c.close()), this.timeoutMs + 1000).unref();
  }

  close(): void {
    this.http2?.close();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** A short description of a failed agent call, for VM reasons and logs. */
export function describeAgentError(node: string, err: unknown): string {
  const e = err as Partial<ServiceError>;
  return `agent on ${node}: ${e.details || e.message || String(err)}`;
}

/** What an agent's status means here: its NOT_FOUND and FAILED_PRECONDITION are the caller's, anything else is "unreachable". */
function agentFailure(err: unknown): AgentFailure {
  const code = (err as Partial<ServiceError>).code;
  if (code === status.NOT_FOUND) return "not-found";
  if (code === status.FAILED_PRECONDITION) return "wrong-state";
  return "unreachable";
}

/** A failed agent call as the scheduler's domain error, the agent's status as its cause. */
export function agentCallError(node: string, err: unknown): AgentCallError {
  return new AgentCallError(node, agentFailure(err), describeAgentError(node, err), { cause: err });
}
