// The scheduler's own certificate: issued by itself from the cluster CA at start, served to
// clients and agents, presented to agents (who accept only this identity), and re-issued at
// 2/3 of its lifetime. Servers and channels built on the provider take the new one for their
// next handshakes, without a restart.
import { ChannelCredentials, credentials, experimental, ServerCredentials } from "@grpc/grpc-js";
import { createSecureContext, type PeerCertificate, type SecureContext } from "node:tls";
import {
  generateKeyPair,
  identityOfSubject,
  issueSchedulerCertificate,
  MemoryCertificateProvider,
  privateKeyToPem,
  type CertificateAuthority,
  type TlsMaterial,
} from "@drover/pki";
import type { AgentConnectOptions, AgentTls } from "../dispatch/agent-tls.js";

export interface SchedulerIdentityOptions {
  hosts: string[];
  lifetimeMs: number;
  log: (m: string) => void;
}

type Renewed = () => void;

/** The serial and expiry of a certificate this scheduler issued itself. */
export interface OwnCertificate {
  serial: string;
  notAfter: Date;
}

type Issued = TlsMaterial & { own: OwnCertificate };

export class SchedulerIdentity implements AgentTls {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Renewals so far (the certificate from start not counted). */
  renewals = 0;
  /** Called after each renewal: holders of connections to agents reconnect. */
  onRenewed: Renewed | undefined;
  /**
   * Called with each new certificate before it is used (it is recorded in the database, so that
   * it can be revoked by serial); when it throws, the renewal fails and is tried again.
   */
  beforeUse: ((c: OwnCertificate) => Promise<void>) | undefined;
  private renewing: Promise<void> | undefined;
  /** The TLS context of every agent channel, built once per certificate (see agentCredentials). */
  private agentContext: { material: TlsMaterial; context: SecureContext } | undefined;

  private constructor(
    readonly ca: CertificateAuthority,
    readonly provider: MemoryCertificateProvider,
    private own: OwnCertificate,
    private readonly o: SchedulerIdentityOptions,
  ) {}

  static async start(ca: CertificateAuthority, o: SchedulerIdentityOptions): Promise<SchedulerIdentity> {
    const first = await issue(ca, o);
    const identity = new SchedulerIdentity(ca, new MemoryCertificateProvider(first), first.own, o);
    identity.scheduleRenewal(identity.renewalDelay());
    return identity;
  }

  /** The certificate in use now. */
  get current(): OwnCertificate {
    return this.own;
  }

  /** A new certificate now, unless one is on its way (ours was revoked). */
  renewNow(): Promise<void> {
    if (!this.renewing) {
      clearTimeout(this.timer);
      this.renewing = this.renew().finally(() => (this.renewing = undefined));
    }
    return this.renewing;
  }

  /** TLS that asks for, but does not require, a client certificate: JoinNode and API clients come without one. */
  serverCredentials(): ServerCredentials {
    return experimental.createCertificateProviderServerCredentials(this.provider, this.provider, false);
  }

  /**
   * mTLS to one node's agent: our certificate, and the agent's must be that node's own, from
   * the cluster CA (Nomad's verify_server_hostname): another node's certificate at this node's
   * address (a stolen address, a stale registration) fails the handshake, so no spec reaches it.
   * Every node's channel shares one TLS context of the certificate in use: grpc-js's
   * certificate-provider credentials build a new one (key, certificate and CA parsed again) twice
   * per connection, ~1 ms each here, for each of a fleet's agents. After a renewal the
   * channels and sessions are replaced (onRenewed → AgentClients.reconnect) and the new ones get the new context.
   */
  agentCredentials(nodeName: string): ChannelCredentials {
    const { secureContext, checkServerIdentity } = this.agentConnectOptions(nodeName);
    return credentials.createFromSecureContext(secureContext, { checkServerIdentity });
  }

  /** The same for node:http2 (agent-http2.ts): the shared context, the node's name as SNI, the same check. */
  agentConnectOptions(nodeName: string): AgentConnectOptions {
    return {
      secureContext: this.agentSecureContext(),
      servername: nodeName,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => agentIdentityProblem(nodeName, cert),
    };
  }

  private agentSecureContext(): SecureContext {
    const material = this.provider.material;
    if (this.agentContext?.material !== material) {
      // The cipher list grpc-js's own credentials would use (GRPC_SSL_CIPHER_SUITES).
      const ciphers = process.env.GRPC_SSL_CIPHER_SUITES;
      const context = createSecureContext({ ca: material.caPem, cert: material.certificatePem, key: material.keyPem, ...(ciphers ? { ciphers } : {}) });
      this.agentContext = { material, context };
    }
    return this.agentContext.context;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private renewalDelay(): number {
    return (this.o.lifetimeMs * 2) / 3;
  }

  private scheduleRenewal(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.renewNow(), delayMs);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    try {
      const next = await issue(this.ca, this.o);
      await this.beforeUse?.(next.own);
      this.provider.update(next);
      this.own = next.own;
      this.renewals++;
      this.onRenewed?.();
      this.o.log(`tls: renewed the scheduler's certificate (serial ${next.own.serial})`);
      this.scheduleRenewal(this.renewalDelay());
    } catch (err) {
      // Soon again, while the one in use still works.
      const left = this.own.notAfter.getTime() - Date.now();
      this.o.log(`tls: renewing the scheduler's certificate failed: ${(err as Error).message}; retrying`);
      this.scheduleRenewal(Math.max(200, Math.min(30_000, left / 10)));
    }
  }
}

async function issue(ca: CertificateAuthority, o: SchedulerIdentityOptions): Promise<Issued> {
  const keys = await generateKeyPair();
  const cert = await issueSchedulerCertificate(ca, keys.publicKey, o.hosts, o.lifetimeMs);
  return {
    caPem: ca.certificatePem,
    certificatePem: cert.certificatePem,
    keyPem: await privateKeyToPem(keys.privateKey),
    own: { serial: cert.serial, notAfter: cert.notAfter },
  };
}

/** Why the certificate an agent served is not node `nodeName`'s; undefined when it is. */
export function agentIdentityProblem(nodeName: string, cert: PeerCertificate): Error | undefined {
  const id = identityOfSubject(cert.subject);
  if (id?.kind === "node" && id.name === nodeName) return undefined;
  const served = id?.kind === "node" ? `the certificate of node ${id.name}` : `a certificate that is not a node's (subject ${JSON.stringify(cert.subject)})`;
  return new Error(`the agent dialed for node ${nodeName} served ${served}: its certificate must name node ${nodeName}; refusing to send it anything`);
}
