import { spawn, type ChildProcess } from "node:child_process";
import type { ChannelCredentials } from "@grpc/grpc-js";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.js";
import { waitFor } from "./wait.js";
import { apiClient } from "./clients.js";

const MAIN = fileURLToPath(new URL("../../packages/scheduler/dist/main.js", import.meta.url));

/**
 * A scheduler replica in its own process (the built drover-scheduler), as in production. It
 * listens on env.DROVER_LISTEN when given (a restarted replica keeps its address), else on a free port.
 * Insecure (no TLS, no token check) unless env sets DROVER_INSECURE=0; `probeWith` is then how the
 * readiness probe connects; `nodeArgs` go to node before the program (e.g. --cpu-prof).
 */
export async function startSchedulerProcess(
  env: Record<string, string>,
  probeWith: { creds?: ChannelCredentials; token?: string } = {},
  nodeArgs: string[] = [],
  /** Another build's dist/main.js (a benchmark's "before"); default this tree's. */
  main = MAIN,
): Promise<{ address: string; pid: number; output: () => string; stop(): Promise<void>; kill(): Promise<void> }> {
  const address = env.DROVER_LISTEN ?? `127.0.0.1:${await freePort()}`;
  let output = "";
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, main], {
    env: { ...process.env, DROVER_LISTEN: address, DROVER_METRICS_LISTEN: "", DROVER_INSECURE: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const probe = apiClient(address, probeWith.creds, probeWith.token);
  try {
    await waitFor(`scheduler process on ${address}`, async () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${output}`);
      await probe.listNodes();
      return true;
    }, 30_000, 100);
  } finally {
    probe.close();
  }
  return {
    address,
    pid: child.pid!,
    output: () => output,
    /** SIGKILL: no shutdown at all, as a crash or an OOM kill. */
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}
