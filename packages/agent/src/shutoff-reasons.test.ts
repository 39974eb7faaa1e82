// withCrashes against the system libvirtd: a shut-off domain the agent recorded without libvirt's
// reason (its own call's read, or a listing whose virsh failed) gets the reason on the next listing.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DomainState } from "@drover/proto";
import { DomainStates } from "./domain-states.js";
import { withCrashes } from "./shutoff-reasons.js";

const URI = "qemu:///system";
const SHUTOFF = DomainState.DOMAIN_STATE_SHUTOFF;

describe("withCrashes on qemu:///system", () => {
  const uuid = randomUUID();
  const name = `drover-test-reason-${uuid.slice(0, 8)}`;
  const dir = mkdtempSync(join(tmpdir(), "drover-reason-"));

  beforeAll(() => {
    // Defined, never started: shut off, reason "unknown". No disk, no network: nothing to clean but the definition.
    const xml = join(dir, "domain.xml");
    writeFileSync(xml, `<domain type="qemu"><name>${name}</name><uuid>${uuid}</uuid><memory unit="MiB">64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`);
    execFileSync("virsh", ["-q", "-c", URI, "define", xml]);
  });
  afterAll(() => {
    execFileSync("virsh", ["-q", "-c", URI, "undefine", uuid]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("asks libvirt why a newly shut-off domain is off", async () => {
    const states = new DomainStates();
    const [d] = await withCrashes(states, URI, true, [{ uuid, name, state: SHUTOFF }]);
    expect(d).toMatchObject({ state: SHUTOFF, reason: "shut off (unknown)" });
  });

  it("asks again for a domain recorded shut off without a reason, until it has one", async () => {
    const states = new DomainStates();
    // As EnsureDomain's answer or a listing whose virsh failed records it: shut off, no reason.
    states.made({ uuid, name, state: SHUTOFF });
    const [d] = await withCrashes(states, URI, true, [{ uuid, name, state: SHUTOFF }]);
    // Before: a domain already recorded shut off was never asked again, and kept no reason for good.
    expect(d).toMatchObject({ state: SHUTOFF, reason: "shut off (unknown)" });
    states.replaceAll([d!], states.mark());
    expect(states.get(uuid)?.reason).toBe("shut off (unknown)");
  });

  it("keeps the reason of a domain still shut off: the next listings neither drop it nor change its generation", async () => {
    const states = new DomainStates();
    states.replaceAll(await withCrashes(states, URI, true, [{ uuid, name, state: SHUTOFF }]), states.mark());
    const recorded = states.get(uuid)!;
    expect(recorded.reason).toBe("shut off (unknown)");
    for (let i = 0; i < 2; i++) {
      // A listing reads states only; before, it came back without the reason and the states dropped it.
      states.replaceAll(await withCrashes(states, URI, true, [{ uuid, name, state: SHUTOFF }]), states.mark());
      expect(states.get(uuid)).toEqual(recorded);
    }
  });
});
