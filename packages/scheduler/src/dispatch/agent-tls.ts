import type { ChannelCredentials } from "@grpc/grpc-js";
import type { PeerCertificate, SecureContext } from "node:tls";

/** node:tls options for a connection to one node's agent. */
export interface AgentConnectOptions {
  /** Our certificate and key, and the cluster CA: one context per certificate, shared by every node. */
  secureContext: SecureContext;
  /** The node's name: its certificate's DNS name, not the address dialed. */
  servername: string;
  /** Why the agent's certificate is not the node's (an Error fails the handshake); undefined when it is. */
  checkServerIdentity(host: string, cert: PeerCertificate): Error | undefined;
}

/**
 * How the scheduler dials a node's agent: mTLS that accepts only that node's certificate, both
 * for node:http2 (the unary calls, agent-http2.ts) and for grpc-js (console-log streams).
 */
export interface AgentTls {
  agentConnectOptions(nodeName: string): AgentConnectOptions;
  agentCredentials(nodeName: string): ChannelCredentials;
}
