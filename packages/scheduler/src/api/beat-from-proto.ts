import { DomainState, type HeartbeatRequest } from "@drover/proto";
import { interfaceFromProto } from "./convert.js";
import type { Beat, DomainReport } from "../liveness/heartbeat.js";
import { ValidationError } from "../errors.js";

/** The longest interval an agent may say it beats at: the longest either side may be configured with. */
const MAX_INTERVAL_MS = 3_600_000;

function domainState(s: DomainState): DomainReport["state"] {
  switch (s) {
    case DomainState.DOMAIN_STATE_RUNNING:
      return "running";
    case DomainState.DOMAIN_STATE_SHUTOFF:
      return "shutoff";
    case DomainState.DOMAIN_STATE_PAUSED:
      return "paused";
    case DomainState.DOMAIN_STATE_CRASHED:
      return "crashed";
    case DomainState.DOMAIN_STATE_OTHER:
    case DomainState.DOMAIN_STATE_UNSPECIFIED:
    case DomainState.UNRECOGNIZED:
      return "other";
  }
  // An unknown number off the wire (the decoder keeps it as sent).
  return "other";
}

/** A heartbeat off the wire (a Heartbeat call or one beat of StreamHeartbeats), as acceptHeartbeat takes it. */
export function beatFromProto(req: HeartbeatRequest): Beat {
  const domains = req.domains.map((d) => ({
    vmId: d.vmId,
    state: domainState(d.state),
    // Told to operators in the VM's reason: printable and bounded.
    reason: d.reason.replace(/[^\x20-\x7e]/g, "?").slice(0, 200),
    generation: d.generation,
    interfaces: d.reportInterfaces ? d.interfaces.map(interfaceFromProto) : undefined,
  }));
  // An agent's interval is its own setting or a floor a scheduler told it: neither is above an hour.
  if (req.intervalMs > MAX_INTERVAL_MS) throw new ValidationError("interval_ms", `must be at most ${MAX_INTERVAL_MS} (an hour), got ${req.intervalMs}`);
  return { name: req.name, bootId: req.bootId, seq: req.seq, domains, libvirtUnavailable: req.libvirtUnavailable, intervalMs: req.intervalMs };
}
