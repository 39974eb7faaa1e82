// AgentService answers only the scheduler (Nomad's verify_server_hostname, in spirit): the
// TLS handshake already required a client certificate from the cluster CA; here each call
// checks it names the scheduler, or this node itself (its own stray clean-up).
import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from "@grpc/grpc-js";
import { peerIdentity } from "@drover/pki";

export function schedulerOnly(nodeName: string, onRefused: (reason: string) => void): ServerInterceptor {
  return (_method, call) =>
    new ServerInterceptingCall(call, {
      start(next) {
        const peer = peerIdentity(call.getAuthContext()?.sslPeerCertificate);
        const allowed = typeof peer !== "string" && (peer.identity.kind === "scheduler" || (peer.identity.kind === "node" && peer.identity.name === nodeName));
        if (allowed) return next();
        const reason = typeof peer === "string" ? peer : peer.identity.kind === "node" ? "other-node" : "not-scheduler";
        onRefused(reason);
        call.sendStatus({
          code: status.PERMISSION_DENIED,
          details: `AgentService answers only the scheduler's certificate (${reason})`,
          metadata: new Metadata(),
        });
      },
    });
}
