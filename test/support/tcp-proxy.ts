import { connect, createServer, type Server, type Socket } from "node:net";
import { freePort } from "./ports.js";

/**
 * A TCP forwarder in front of a real server, so a test can make that server
 * "go away" for one client (nothing listens, open connections are cut) and
 * come back on the same address, without stopping the shared server, hold
 * what the client sends (a call stays in flight) until it is let go, or make
 * the open connections half-open (silent both ways, never closed).
 */
export async function startTcpProxy(target: { host: string; port: number }) {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let server: Server | undefined;
  // While held, what clients send waits here, in order, per connection.
  let held: { to: Socket; data: Buffer }[] | undefined;

  const open = () =>
    new Promise<void>((resolve, reject) => {
      if (server) return resolve(); // already listening
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        const pair = { client, upstream };
        pairs.add(pair);
        client.on("close", () => pairs.delete(pair));
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => {});
        }
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
        client.on("data", (data: Buffer) => {
          if (held) held.push({ to: upstream, data });
          else upstream.write(data);
        });
        upstream.pipe(client);
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", resolve);
    });

  await open();
  return {
    port,
    /** Refuses new connections and cuts the open ones. */
    async close(): Promise<void> {
      const s = server;
      server = undefined;
      for (const socket of sockets) socket.destroy();
      if (s) await new Promise((r) => s.close(r));
    },
    /** Listens again on the same port. */
    reopen: open,
    /** Holds what clients send from now on (their calls reach the server only when let go). */
    hold(): void {
      held ??= [];
    },
    /**
     * The open connections go silent both ways and stay open, as when the server's host is gone
     * without a FIN or RST (what is sent to them waits in the kernel); new connections forward.
     */
    blackhole(): void {
      for (const { client, upstream } of pairs) {
        upstream.unpipe(client);
        upstream.pause();
        client.pause();
      }
      pairs.clear();
    },
    /** Sends what was held, and forwards as before. */
    letGo(): void {
      const queue = held ?? [];
      held = undefined;
      for (const { to, data } of queue) to.write(data);
    },
  };
}
