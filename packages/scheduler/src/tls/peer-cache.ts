// A connection's client certificate, read once per connection rather than once per call.
// grpc-js's getAuthContext() calls TLSSocket.getPeerCertificate() on every call, which builds the
// whole certificate object with its SHA-1, SHA-256 and SHA-512 fingerprints: at 5,000 heartbeats a
// second that was the largest single cost of a beat. A TLS connection's peer certificate does not
// change (renegotiation is turned off on the sockets cached here), so its identity is kept with
// the socket; expiry is still judged on every call, as a connection outlives its handshake.
import { TLSSocket, type PeerCertificate } from "node:tls";
import type { ServerUnaryCall } from "@grpc/grpc-js";
import { peerIdentity, type PeerIdentity, type PeerProblem } from "@drover/pki";

/** A grpc-js call, or a call that names its TLS socket itself (StreamHeartbeats served directly: direct-beats.ts). */
export type Call = Pick<ServerUnaryCall<unknown, unknown>, "getAuthContext"> & { tlsSocket?: TLSSocket };

const bySocket = new WeakMap<TLSSocket, PeerIdentity | PeerProblem>();

/**
 * The TLS socket under a grpc-js server call: the handler's call wraps the interceptor chain,
 * whose innermost call holds the HTTP/2 stream. Internals of grpc-js 1.x; undefined when the
 * shape differs (then every call reads the certificate, as before).
 */
export function socketOf(call: Call): TLSSocket | undefined {
  if (call.tlsSocket) return call.tlsSocket;
  let c: unknown = (call as { call?: unknown }).call;
  for (let depth = 0; depth < 8 && c; depth++) {
    const socket = (c as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket;
    if (socket instanceof TLSSocket) return socket;
    c = (c as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

/** The verified peer of a call (as peerIdentity says), its certificate parsed once per connection. */
export function callPeer(call: Call, now = Date.now()): PeerIdentity | PeerProblem {
  const socket = socketOf(call);
  // grpc-js reports a certificate only on an authorized socket; so does this.
  if (!socket?.authorized) return socket ? "no-certificate" : peerIdentity(call.getAuthContext()?.sslPeerCertificate, now);
  let peer = bySocket.get(socket);
  if (peer === undefined) {
    const cert: PeerCertificate = socket.getPeerCertificate();
    // Judged without the clock here: expiry is checked per call below.
    peer = peerIdentity(cert.raw ? cert : undefined, Number.NEGATIVE_INFINITY);
    socket.disableRenegotiation();
    bySocket.set(socket, peer);
  }
  if (typeof peer !== "string" && !(peer.notAfter.getTime() > now)) return "expired";
  return peer;
}
