import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { DomainNotFoundError, ImageUnavailableError, ImageMismatchError, ForeignDomainError, ToolMissingError, ValidationError } from "./errors.js";
import { toStatus } from "./grpc-status.js";

const id = "6f1c2a9e-1b2c-4d3e-8f90-0123456789ab";

// Every domain error kind of the agent, with the status the scheduler gets.
const TABLE: [string, unknown, status, string][] = [
  ["invalid argument", new ValidationError("spec.vcpus", "must be at least 1"), status.INVALID_ARGUMENT, "spec.vcpus must be at least 1"],
  ["no domain", new DomainNotFoundError(id), status.NOT_FOUND, `no domain for VM ${id} on this node (EnsureDomain creates it)`],
  // The binding reports a domain removed mid-call only in its message.
  ["libvirt's own not-found", new Error(`Domain not found: no domain with matching uuid '${id}'`), status.NOT_FOUND, "the VM's domain is no longer on this node"],
  ["tool missing", new ToolMissingError("qemu-img", "install qemu-utils"), status.FAILED_PRECONDITION, "qemu-img is not installed on this node (install qemu-utils)"],
  [
    "image unavailable",
    new ImageUnavailableError("debian-12", "/var/lib/drover/images", "no such file"),
    status.FAILED_PRECONDITION,
    "image debian-12 cannot be used from /var/lib/drover/images on this node: no such file; copy the file there as debian-12",
  ],
  ["image mismatch", new ImageMismatchError("debian-12", "is 3 bytes on this node, the catalog says 4"), status.FAILED_PRECONDITION, "image debian-12 is 3 bytes on this node, the catalog says 4; replace the file or register the image again"],
  ["foreign domain", new ForeignDomainError(id), status.NOT_FOUND, `no Drover domain for VM ${id} on this node: a domain with that UUID exists but Drover did not create it for this cluster, so it is left alone`],
];

describe("the agent's gRPC status mapping", () => {
  it.each(TABLE)("%s", (_what, err, code, details) => {
    expect(toStatus(err)).toEqual({ code, details });
  });

  it("leaves libvirt and qemu-img failures unmapped, for the adapter to answer INTERNAL with an id", () => {
    expect(toStatus(new Error("internal error: process exited while connecting to monitor"))).toBeUndefined();
    expect(toStatus(new Error("qemu-img create failed: Could not open '/x'"))).toBeUndefined();
  });
});
