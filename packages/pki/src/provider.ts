// A grpc-js CertificateProvider held in memory. Servers and channels built on it
// (createCertificateProviderServerCredentials / ...ChannelCredentials) take a renewed
// certificate for their next handshakes without a restart or rebind.
import { experimental } from "@grpc/grpc-js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface TlsMaterial {
  caPem: string;
  certificatePem: string;
  keyPem: string;
}

export class MemoryCertificateProvider implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private current: TlsMaterial;

  constructor(initial: TlsMaterial) {
    this.current = initial;
  }

  get material(): TlsMaterial {
    return this.current;
  }

  /** Swaps in new material; every listener (server or channel) gets it at once. */
  update(next: TlsMaterial): void {
    this.current = next;
    for (const l of this.caListeners) l(this.caUpdate());
    for (const l of this.identityListeners) l(this.identityUpdate());
  }

  // The first update goes out on a later tick, as from grpc-js's own file watcher: a server
  // reads "have credentials?" before its watcher is registered, and a synchronous update
  // would land in between and leave it dropping every connection.
  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    queueMicrotask(() => this.caListeners.has(listener) && listener(this.caUpdate()));
  }
  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    queueMicrotask(() => this.identityListeners.has(listener) && listener(this.identityUpdate()));
  }
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  private caUpdate() {
    return { caCertificate: Buffer.from(this.current.caPem) };
  }
  private identityUpdate() {
    return { certificate: Buffer.from(this.current.certificatePem), privateKey: Buffer.from(this.current.keyPem) };
  }
}
