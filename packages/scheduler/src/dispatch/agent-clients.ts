import { credentials, Metadata, status, type ChannelCredentials, type ChannelOptions, type ServiceError } from "@grpc/grpc-js";
import type { ClientReadableStream } from "@grpc/grpc-js";
import { AgentServiceClient, type EnsureDomainRequest, type DomainStatus, type ReadConsoleLogResponse } from "@drover/proto";
import { AgentCallError, type AgentFailure } from "../errors.js";

type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: Date }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** The node an agent call is for, and the address it registered. */
export interface AgentTarget {
  name: string;
  address: string;
}

/** The channel credentials for one node's agent (mTLS that accepts only that node's certificate). */
export type AgentCredentialsFor = (nodeName: string) => ChannelCredentials;

const insecure: AgentCredentialsFor = () => credentials.createInsecure();

/**
 * One gRPC channel per node and address, reused across calls; mTLS with the scheduler's
 * certificate unless insecure. Keyed by node too: each channel checks the agent's certificate
 * names the node it was made for, so two nodes' channels never share one.
 */
export class AgentClients {
  private readonly clients = new Map<string, AgentServiceClient>();

  constructor(
    private readonly timeoutMs: number,
    private readonly credentialsFor: AgentCredentialsFor = insecure,
    /** Over the defaults below (benchmarks/agent-client-cost.ts compares variants). */
    private readonly channelOptions: ChannelOptions = {},
  ) {}

  private client(agent: AgentTarget): AgentServiceClient {
    const key = `${agent.name}\u0000${agent.address}`;
    let c = this.clients.get(key);
    if (!c) {
      // No channelz bookkeeping per call (see server.ts). A local subchannel pool, so that
      // reconnect() makes new handshakes rather than reusing grpc-js's shared connections. The
      // TLS server name is the node's name (its certificate's DNS name), not the address.
      c = new AgentServiceClient(agent.address, this.credentialsFor(agent.name), {
        "grpc.enable_channelz": 0,
        "grpc.use_local_subchannel_pool": 1,
        "grpc.ssl_target_name_override": agent.name,
        ...this.channelOptions,
      });
      this.clients.set(key, c);
    }
    return c;
  }

  private call<Req, Res>(agent: AgentTarget, pick: (c: AgentServiceClient) => (...args: never[]) => unknown, req: Req): Promise<Res> {
    const c = this.client(agent);
    const fn = pick(c).bind(c) as Unary<Req, Res>;
    return new Promise((resolve, reject) => {
      fn(req, new Metadata(), { deadline: new Date(Date.now() + this.timeoutMs) }, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
  }

  async ensureDomain(agent: AgentTarget, req: EnsureDomainRequest): Promise<DomainStatus | undefined> {
    return (await this.call<EnsureDomainRequest, { domain?: DomainStatus }>(agent, (c) => c.ensureDomain, req)).domain;
  }
  async startDomain(agent: AgentTarget, vmId: string): Promise<DomainStatus | undefined> {
    return (await this.call<{ vmId: string }, { domain?: DomainStatus }>(agent, (c) => c.startDomain, { vmId })).domain;
  }
  async stopDomain(agent: AgentTarget, vmId: string, force: boolean): Promise<DomainStatus | undefined> {
    return (await this.call<{ vmId: string; force: boolean }, { domain?: DomainStatus }>(agent, (c) => c.stopDomain, { vmId, force })).domain;
  }
  async rebootDomain(agent: AgentTarget, vmId: string): Promise<void> {
    await this.call(agent, (c) => c.rebootDomain, { vmId });
  }
  async destroyDomain(agent: AgentTarget, vmId: string): Promise<void> {
    await this.call(agent, (c) => c.destroyDomain, { vmId });
  }

  /** The domain's console log as a stream; following has no deadline (it lasts until cancelled). */
  readConsoleLog(agent: AgentTarget, vmId: string, follow: boolean): ClientReadableStream<ReadConsoleLogResponse> {
    const options = follow ? {} : { deadline: new Date(Date.now() + this.timeoutMs) };
    return this.client(agent).readConsoleLog({ vmId, follow }, new Metadata(), options);
  }

  /**
   * New connections for the next calls (after our certificate was renewed: an open connection
   * keeps the certificate of its handshake, which agents check per call). Old channels close
   * once their calls can have ended.
   */
  reconnect(): void {
    const old = [...this.clients.values()];
    this.clients.clear();
    setTimeout(() => old.forEach((c) => c.close()), this.timeoutMs + 1000).unref();
  }

  close(): void {
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
