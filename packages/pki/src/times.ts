import { X509Certificate } from "node:crypto";

/** A PEM certificate's validity window and serial (normalized like peerIdentity's). */
export function certificateTimes(pem: string): { notBefore: Date; notAfter: Date; serial: string } {
  const c = new X509Certificate(pem);
  return { notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo), serial: c.serialNumber.toLowerCase().replace(/^0+(?=.)/, "") };
}
