import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  certificateTimes,
  createCertificateAuthority,
  createKeyAndCsr,
  CsrError,
  identityOfSubject,
  issueNodeCertificate,
  issueSchedulerCertificate,
  keyPairFromPem,
  loadCertificateAuthority,
  normalizeSerial,
} from "./index.js";

function subjectOf(pem: string): Record<string, string> {
  return Object.fromEntries(new X509Certificate(pem).subject.split("\n").map((l) => l.split("=") as [string, string]));
}

describe("pki", () => {
  it("signs a node's CSR with the subject it chooses itself, not the CSR's", async () => {
    const ca = await createCertificateAuthority();
    const { csrPem } = await createKeyAndCsr("someone-else");
    const issued = await issueNodeCertificate(ca, csrPem, "node-a", 60_000);
    const cert = new X509Certificate(issued.certificatePem);
    expect(cert.verify(new X509Certificate(ca.certificatePem).publicKey)).toBe(true);
    expect(identityOfSubject(subjectOf(issued.certificatePem))).toEqual({ kind: "node", name: "node-a" });
    expect(certificateTimes(issued.certificatePem).serial).toBe(issued.serial);
    expect(issued.notAfter.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
  });

  it("refuses a CSR that is not one, or whose signature does not match", async () => {
    const ca = await createCertificateAuthority();
    await expect(issueNodeCertificate(ca, "hello", "n", 60_000)).rejects.toBeInstanceOf(CsrError);
  });

  it("a CA reloaded from its PEM files signs certificates its certificate verifies", async () => {
    const made = await createCertificateAuthority();
    const ca = await loadCertificateAuthority(made.certificatePem, made.keyPem);
    const keys = await keyPairFromPem((await createKeyAndCsr("x")).keyPem);
    const issued = await issueSchedulerCertificate(ca, keys.publicKey, ["localhost", "127.0.0.1"], 60_000);
    const cert = new X509Certificate(issued.certificatePem);
    expect(cert.verify(new X509Certificate(made.certificatePem).publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe("DNS:localhost, IP Address:127.0.0.1");
    expect(identityOfSubject(subjectOf(issued.certificatePem))).toEqual({ kind: "scheduler" });
  });

  it("a node named drover-scheduler is still a node; unknown organizations are nobody", () => {
    expect(identityOfSubject({ CN: "drover-scheduler", O: "drover-nodes" })).toEqual({ kind: "node", name: "drover-scheduler" });
    expect(identityOfSubject({ CN: "node-a", O: "drover-schedulers" })).toBeUndefined();
    expect(identityOfSubject({ CN: "node-a", O: "evil" })).toBeUndefined();
    expect(identityOfSubject({ CN: ["a", "b"], O: "drover-nodes" })).toBeUndefined();
  });

  it("normalizes serials from either source", () => {
    expect(normalizeSerial("00AB:CD")).toBe("abcd");
    expect(normalizeSerial("0")).toBe("0");
  });
});
