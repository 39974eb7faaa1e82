import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * A TCP port that was free a moment ago, for servers a test starts in another process. It is
 * picked below the kernel's ephemeral range: a port the kernel hands out for listen(0) is from
 * that range, so the source port of any outgoing connection (a Postgres client's, say) could take
 * it before the server binds it, as happened in CI (EADDRINUSE). Below the range only another
 * freePort() can, and that is a random pick among some 20,000.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_000));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found below ${low}`);
}

/** The first port of the kernel's ephemeral range (net.ipv4.ip_local_port_range), 32768 if unreadable. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}
