// AgentService answers only the scheduler (Nomad's verify_server_hostname, in spirit): the
// TLS handshake already required a client certificate from the cluster CA; here each call
// checks it names the scheduler, or this node itself (its own stray clean-up), and that the
// scheduler has not said it is revoked (RegisterNode and Heartbeat answers carry the list).
import { Metadata, ServerInterceptingCall, status, type ServerInterceptor } from "@grpc/grpc-js";
import { peerIdentity } from "@drover/pki";

export function schedulerOnly(nodeName: string, onRefused: (reason: string) => void, revoked: (serial: string) => boolean = () => false): ServerInterceptor {
  return (_method, call) =>
    new ServerInterceptingCall(call, {
      start(next) {
        const peer = peerIdentity(call.getAuthContext()?.sslPeerCertificate);
        const refuse = (code: status, reason: string, details: string) => {
          onRefused(reason);
          call.sendStatus({ code, details, metadata: new Metadata() });
        };
        const allowed = typeof peer !== "string" && (peer.identity.kind === "scheduler" || (peer.identity.kind === "node" && peer.identity.name === nodeName));
        if (!allowed) {
          const reason = typeof peer === "string" ? peer : peer.identity.kind === "node" ? "other-node" : "not-scheduler";
          return refuse(status.PERMISSION_DENIED, reason, `AgentService answers only the scheduler's certificate (${reason})`);
        }
        if (revoked(peer.serial)) return refuse(status.UNAUTHENTICATED, "revoked", `the certificate ${peer.serial} is revoked (the scheduler says so)`);
        next();
      },
    });
}
