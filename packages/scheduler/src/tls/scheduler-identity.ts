// The scheduler's own certificate: issued by itself from the cluster CA at start, served to
// clients and agents, presented to agents (who accept only this identity), and re-issued at
// 2/3 of its lifetime. Servers and channels built on the provider take the new one for their
// next handshakes, without a restart.
import { ChannelCredentials, experimental, ServerCredentials } from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import {
  generateKeyPair,
  identityOfSubject,
  issueSchedulerCertificate,
  MemoryCertificateProvider,
  privateKeyToPem,
  type CertificateAuthority,
  type TlsMaterial,
} from "@drover/pki";

export interface SchedulerIdentityOptions {
  hosts: string[];
  lifetimeMs: number;
  log: (m: string) => void;
}

type Renewed = () => void;

export class SchedulerIdentity {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Renewals so far (the certificate from start not counted). */
  renewals = 0;
  /** Called after each renewal: holders of connections to agents reconnect. */
  onRenewed: Renewed | undefined;

  private constructor(
    readonly ca: CertificateAuthority,
    readonly provider: MemoryCertificateProvider,
    private readonly o: SchedulerIdentityOptions,
  ) {}

  static async start(ca: CertificateAuthority, o: SchedulerIdentityOptions): Promise<SchedulerIdentity> {
    const identity = new SchedulerIdentity(ca, new MemoryCertificateProvider(await issue(ca, o)), o);
    identity.scheduleRenewal();
    return identity;
  }

  /** TLS that asks for, but does not require, a client certificate: JoinNode and API clients come without one. */
  serverCredentials(): ServerCredentials {
    return experimental.createCertificateProviderServerCredentials(this.provider, this.provider, false);
  }

  /** mTLS to agents: our certificate, and the agent's must be a node's from the cluster CA. */
  agentCredentials(): ChannelCredentials {
    return experimental.createCertificateProviderChannelCredentials(this.provider, this.provider, {
      checkServerIdentity: (_host: string, cert: PeerCertificate) =>
        identityOfSubject(cert.subject)?.kind === "node"
          ? undefined
          : new Error(`the agent's certificate is not a node's (subject ${JSON.stringify(cert.subject)})`),
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private scheduleRenewal(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.renew(), (this.o.lifetimeMs * 2) / 3);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    try {
      this.provider.update(await issue(this.ca, this.o));
      this.renewals++;
      this.onRenewed?.();
      this.o.log("tls: renewed the scheduler's certificate");
    } catch (err) {
      this.o.log(`tls: renewing the scheduler's certificate failed: ${(err as Error).message}`);
    }
    this.scheduleRenewal();
  }
}

async function issue(ca: CertificateAuthority, o: SchedulerIdentityOptions): Promise<TlsMaterial> {
  const keys = await generateKeyPair();
  const cert = await issueSchedulerCertificate(ca, keys.publicKey, o.hosts, o.lifetimeMs);
  return { caPem: ca.certificatePem, certificatePem: cert.certificatePem, keyPem: await privateKeyToPem(keys.privateKey) };
}
