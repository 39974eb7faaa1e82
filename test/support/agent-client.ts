import { credentials } from "@grpc/grpc-js";
import { AgentServiceClient, type DomainStatus } from "@drover/proto";

/** The domains an agent reports, read over its real AgentService. */
export function listDomains(address: string): Promise<DomainStatus[]> {
  const client = new AgentServiceClient(address, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.listDomains({}, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(res.domains);
    }),
  );
}
