// What a call's TLS peer proved, from grpc-js's auth context. grpc-js reports a peer
// certificate only when the handshake verified it against the trusted CA.
import type { PeerCertificate } from "node:tls";
import { identityOfSubject, type Identity } from "./identity.js";

export interface PeerIdentity {
  identity: Identity;
  /** Normalized: lower-case hex without leading zeros. */
  serial: string;
  notAfter: Date;
}

export type PeerProblem = "no-certificate" | "unknown-identity" | "expired";

/** Lower-case hex without leading zeros, whichever form a serial came in. */
export function normalizeSerial(serial: string): string {
  return serial.replace(/:/g, "").toLowerCase().replace(/^0+(?=.)/, "");
}

/** The verified peer's identity, or why there is none. Expiry is checked per call: a connection outlives its handshake. */
export function peerIdentity(cert: PeerCertificate | undefined, now = Date.now()): PeerIdentity | PeerProblem {
  if (!cert?.raw) return "no-certificate";
  const identity = identityOfSubject(cert.subject);
  if (!identity) return "unknown-identity";
  const notAfter = new Date(cert.valid_to);
  if (!(notAfter.getTime() > now)) return "expired";
  return { identity, serial: normalizeSerial(cert.serialNumber), notAfter };
}
