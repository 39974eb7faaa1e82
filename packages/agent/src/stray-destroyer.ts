// Destroys the domains the scheduler names as strays in a heartbeat answer.
import { type ChannelCredentials, credentials } from "@grpc/grpc-js";
import { AgentServiceClient } from "@drover/proto";

export interface StrayDestroyerParts {
  /** This node's certificate (undefined in insecure mode): the call goes to our own AgentService as the node. */
  identity: { selfCredentials(): ChannelCredentials; whenRenewed(fn: () => void): void } | undefined;
  log: (message: string) => void;
}

export interface StrayDestroyer {
  destroy(vmId: string): void;
  /** Closes the channel; a heartbeat answer that arrives later names strays that are left for the next start. */
  close(): void;
}

/**
 * Strays (deleted, failed, or moved to another node while a slow dispatch
 * still created them here) go through our own AgentService, so the per-VM
 * lock and the disk clean-up apply as for any DestroyDomain.
 */
export function strayDestroyer(parts: StrayDestroyerParts, address: string): StrayDestroyer {
  const creds = parts.identity?.selfCredentials() ?? credentials.createInsecure();
  const connect = () => new AgentServiceClient(address, creds, { "grpc.use_local_subchannel_pool": 1 });
  let self = connect();
  let closed = false;
  parts.identity?.whenRenewed(() => {
    if (closed) return;
    const old = self;
    self = connect();
    setTimeout(() => old.close(), 10_000).unref();
  });
  return {
    destroy(vmId) {
      // grpc-js throws (not calls back) on a closed channel; the answer raced the agent's stop.
      if (closed) return parts.log(`stray domain ${vmId}: not destroyed, the agent is stopping`);
      self.destroyDomain({ vmId }, (err) =>
        parts.log(err ? `stray domain ${vmId}: destroy failed: ${err.message}` : `destroyed stray domain ${vmId} at the scheduler's request`),
      );
    },
    close() {
      closed = true;
      self.close();
    },
  };
}
