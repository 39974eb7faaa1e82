// This node's certificate: loaded from its TLS dir, or obtained once with a join token
// (JoinNode over TLS that verifies the scheduler against the cluster CA), then renewed at
// 2/3 of its lifetime over mutual TLS (RenewCertificate). Servers and channels built on the
// provider take each renewed certificate for their next handshakes, without a restart.
import { setTimeout as sleep } from "node:timers/promises";
import { ChannelCredentials, credentials, experimental, Metadata, ServerCredentials, status, type ServiceError } from "@grpc/grpc-js";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import {
  certificateTimes,
  createKeyAndCsr,
  ensureDir,
  fileExists,
  identityOfSubject,
  inDir,
  MemoryCertificateProvider,
  normalizeSerial,
  readText,
  writeSecret,
  type TlsMaterial,
} from "@drover/pki";
import { NodeRegistryServiceClient, type JoinNodeResponse } from "@drover/proto";
import { Revocations } from "./revocations.js";

export interface NodeIdentityOptions {
  nodeName: string;
  schedulerAddress: string;
  tlsDir: string;
  caFile: string | undefined;
  joinToken: string | undefined;
  log: (m: string) => void;
  /** Called after each renewal (metrics). */
  onRenewed?: () => void;
  /** First wait after a join the scheduler could not answer; doubles up to joinMaxBackoffMs. */
  joinBackoffMs?: number;
  joinMaxBackoffMs?: number;
}

const FILES = { key: "key.pem", cert: "cert.pem", ca: "ca.pem" } as const;
const CALL_TIMEOUT_MS = 10_000;

export class NodeIdentity {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly renewedListeners: Array<() => void> = [];
  renewals = 0;

  /** What the scheduler said is revoked (AgentService refuses those certificates). */
  readonly revocations: Revocations;

  private constructor(
    readonly provider: MemoryCertificateProvider,
    private readonly o: NodeIdentityOptions,
  ) {
    this.revocations = new Revocations(o.tlsDir, o.log);
  }

  /** The saved certificate if it is this node's and still valid, else a join with the token. */
  static async obtain(o: NodeIdentityOptions): Promise<NodeIdentity> {
    const saved = loadSaved(o);
    const material = saved ?? (await join(o));
    const identity = new NodeIdentity(new MemoryCertificateProvider(material), o);
    if (!saved) identity.save(material);
    o.log(saved ? `tls: using the certificate in ${o.tlsDir}` : `tls: joined the cluster as ${o.nodeName}; certificate saved in ${o.tlsDir}`);
    identity.scheduleRenewal();
    return identity;
  }

  /** AgentService: a client certificate from the cluster CA is required (who it must be is checked per call). */
  serverCredentials(): ServerCredentials {
    return experimental.createCertificateProviderServerCredentials(this.provider, this.provider, true);
  }

  /**
   * To the scheduler: our certificate, its hostname checked against its certificate as usual,
   * and a revoked scheduler certificate refused (it must not hand us a list without itself).
   */
  schedulerCredentials(): ChannelCredentials {
    return experimental.createCertificateProviderChannelCredentials(this.provider, this.provider, {
      checkServerIdentity: (host: string, cert: PeerCertificate) =>
        checkServerIdentity(host, cert) ??
        (this.revocations.has(cert.serialNumber) ? new Error(`the scheduler's certificate ${normalizeSerial(cert.serialNumber)} is revoked`) : undefined),
    });
  }

  /** To our own AgentService (stray clean-up): its certificate must be this node's. */
  selfCredentials(): ChannelCredentials {
    return experimental.createCertificateProviderChannelCredentials(this.provider, this.provider, {
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const id = identityOfSubject(cert.subject);
        return id?.kind === "node" && id.name === this.o.nodeName ? undefined : new Error("not this node's own AgentService");
      },
    });
  }

  /**
   * Called after each renewal. Open connections keep the certificate of their handshake, which
   * the peer checks per call for expiry: holders of long-lived channels reconnect here.
   */
  whenRenewed(fn: () => void): void {
    this.renewedListeners.push(fn);
  }

  get notAfter(): Date {
    return certificateTimes(this.provider.material.certificatePem).notAfter;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Renews now (tests and the timer). */
  async renew(): Promise<void> {
    const { keyPem, csrPem } = await createKeyAndCsr(this.o.nodeName);
    const client = new NodeRegistryServiceClient(this.o.schedulerAddress, this.schedulerCredentials());
    try {
      const res = await unary<JoinNodeResponse>((cb) => client.renewCertificate({ csrPem }, new Metadata(), { deadline: deadline() }, cb));
      const next = { caPem: res.caPem, certificatePem: res.certificatePem, keyPem };
      this.provider.update(next);
      this.save(next);
      this.renewals++;
      this.o.onRenewed?.();
      for (const fn of this.renewedListeners) fn();
    } finally {
      client.close();
    }
  }

  private scheduleRenewal(delayMs = renewalDelay(this.provider.material.certificatePem)): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.renew().then(
        () => {
          this.o.log(`tls: certificate renewed, valid until ${this.notAfter.toISOString()}`);
          this.scheduleRenewal();
        },
        (err: unknown) => {
          const left = this.notAfter.getTime() - Date.now();
          this.o.log(`tls: renewing the certificate failed (${(err as Error).message}); ${Math.round(left / 1000)} s left, retrying`);
          this.scheduleRenewal(Math.max(200, Math.min(30_000, left / 10)));
        },
      );
    }, delayMs);
    this.timer.unref();
  }

  private save(m: TlsMaterial): void {
    ensureDir(this.o.tlsDir);
    writeSecret(inDir(this.o.tlsDir, FILES.key), m.keyPem);
    writeSecret(inDir(this.o.tlsDir, FILES.cert), m.certificatePem, 0o644);
    writeSecret(inDir(this.o.tlsDir, FILES.ca), m.caPem, 0o644);
  }
}

/** At 2/3 of what is left now: 2/3 of the lifetime for a fresh certificate. */
function renewalDelay(certificatePem: string): number {
  const left = certificateTimes(certificatePem).notAfter.getTime() - Date.now();
  return Math.max(0, (left * 2) / 3);
}

function loadSaved(o: NodeIdentityOptions): TlsMaterial | undefined {
  const path = (f: string) => inDir(o.tlsDir, f);
  if (!Object.values(FILES).every((f) => fileExists(path(f)))) return undefined;
  const material = { keyPem: readText(path(FILES.key)), certificatePem: readText(path(FILES.cert)), caPem: readText(path(FILES.ca)) };
  const { notAfter } = certificateTimes(material.certificatePem);
  if (notAfter.getTime() <= Date.now()) {
    o.log(`tls: the saved certificate expired at ${notAfter.toISOString()}; joining again`);
    return undefined;
  }
  return material;
}

async function join(o: NodeIdentityOptions): Promise<TlsMaterial> {
  if (!o.joinToken) {
    throw new Error(`no certificate in ${o.tlsDir} and no join token: create one with \`drover node join-token create --name ${o.nodeName}\` (or \`drover-scheduler join-token create --name ${o.nodeName}\` on a scheduler host) and set DROVER_JOIN_TOKEN`);
  }
  const caFile = o.caFile ?? inDir(o.tlsDir, FILES.ca);
  if (!fileExists(caFile)) throw new Error(`the cluster CA certificate ${caFile} is missing: set DROVER_CA_FILE to the ca.pem from \`drover-scheduler ca create\``);
  const caPem = readText(caFile);
  const { keyPem, csrPem } = await createKeyAndCsr(o.nodeName);
  const req = { joinToken: o.joinToken, nodeName: o.nodeName, csrPem };
  const res = await joinWithRetries(o, caPem, req);
  return { caPem: res.caPem, certificatePem: res.certificatePem, keyPem };
}

// The scheduler not listening yet, restarting, or out of reach: try again. Anything else is
// its answer about the token or the request, which a retry would not change.
const RETRIED = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED]);

/**
 * JoinNode until the scheduler answers: with backoff while it is unreachable or UNAVAILABLE (an
 * agent may start before its scheduler), at once refused when it refuses the token.
 */
async function joinWithRetries(o: NodeIdentityOptions, caPem: string, req: { joinToken: string; nodeName: string; csrPem: string }): Promise<JoinNodeResponse> {
  let backoffMs = o.joinBackoffMs ?? 500;
  let lastLogged = "";
  for (let attempt = 1; ; attempt++) {
    // Server-authenticated only: we have no certificate yet; the token is what vouches for us.
    const client = new NodeRegistryServiceClient(o.schedulerAddress, credentials.createSsl(Buffer.from(caPem)));
    try {
      const res = await unary<JoinNodeResponse>((cb) => client.joinNode(req, new Metadata(), { deadline: deadline() }, cb));
      if (attempt > 1) o.log(`tls: JoinNode with ${o.schedulerAddress} succeeded after ${attempt} attempts`);
      return res;
    } catch (err) {
      const e = err as ServiceError;
      const why = e.details ?? e.message;
      if (!RETRIED.has(e.code)) {
        const token = e.code === status.UNAUTHENTICATED || e.code === status.PERMISSION_DENIED;
        const fix = token ? ` Not retrying: create a new token with \`drover node join-token create --name ${o.nodeName}\` (or \`drover-scheduler join-token create --name ${o.nodeName}\` on a scheduler host) and set DROVER_JOIN_TOKEN` : " Not retrying";
        throw new JoinRefusedError(`JoinNode with ${o.schedulerAddress} was refused (${status[e.code] ?? e.code}): ${why}.${fix}`, { cause: err });
      }
      // Once per distinct failure, so a long outage does not flood the log.
      if (why !== lastLogged) o.log(`tls: JoinNode with ${o.schedulerAddress} failed (${status[e.code] ?? e.code}: ${why}); retrying with backoff`);
      lastLogged = why;
      await sleep(backoffMs);
      backoffMs = Math.min(backoffMs * 2, o.joinMaxBackoffMs ?? 10_000);
    } finally {
      client.close();
    }
  }
}

/** The scheduler answered a join and said no: the agent cannot go on, and retrying would not help. */
export class JoinRefusedError extends Error {
  override name = "JoinRefusedError";
}

const deadline = () => new Date(Date.now() + CALL_TIMEOUT_MS);

function unary<T>(fn: (cb: (err: ServiceError | null, res: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res))));
}
