import { spawn, type ChildProcess } from "node:child_process";
import type { ChannelCredentials } from "@grpc/grpc-js";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.js";
import { waitFor } from "./wait.js";
import { apiClient } from "./clients.js";

/** How long a started process has to answer ListNodes: two replicas starting side by side on a loaded 2-core machine took over 30 s. */
const STARTUP_MS = 90_000;
/** Ports tried when the one freePort() chose was taken before the process bound it. */
const PORT_ATTEMPTS = 3;
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
): Promise<SchedulerProcess> {
  // A port freePort() chose can be taken by another process before ours binds it: then try another.
  for (let attempt = 1; ; attempt++) {
    const address = env.DROVER_LISTEN ?? `127.0.0.1:${await freePort()}`;
    const started = await startOnce(address, env, probeWith, nodeArgs, main);
    if (started.ok) return started.process;
    if (env.DROVER_LISTEN !== undefined || attempt === PORT_ATTEMPTS || !started.output.includes("EADDRINUSE")) throw started.error;
  }
}

export interface SchedulerProcess {
  address: string;
  pid: number;
  output: () => string;
  /** Settles when the process has exited: its status, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

type Started =
  | { ok: true; process: SchedulerProcess }
  | { ok: false; error: Error; output: string };

async function startOnce(
  address: string,
  env: Record<string, string>,
  probeWith: { creds?: ChannelCredentials; token?: string },
  nodeArgs: string[],
  main: string,
): Promise<Started> {
  let output = "";
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, main], {
    env: { ...process.env, DROVER_LISTEN: address, DROVER_METRICS_LISTEN: "", DROVER_INSECURE: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const probe = apiClient(address, probeWith.creds, probeWith.token);
  try {
    // A process that exits has failed at once: no point polling it for the rest of STARTUP_MS.
    const up = waitFor(`scheduler process on ${address}`, async () => (await probe.listNodes(), true), STARTUP_MS, 100);
    const failed = exited.then(() => {
      throw new Error(`scheduler process on ${address} exited ${child.exitCode ?? child.signalCode}: ${output}`);
    });
    await Promise.race([up, failed]);
    failed.catch(() => {}); // it exits later, when stopped
  } catch (err) {
    // A process that never answered must not outlive the test that started it.
    if (child.exitCode === null) child.kill("SIGKILL");
    return { ok: false, error: err as Error, output };
  } finally {
    probe.close();
  }
  return {
    ok: true,
    process: {
      address,
      pid: child.pid!,
      output: () => output,
      exited,
      /** SIGKILL: no shutdown at all, as a crash or an OOM kill. */
      async kill() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGKILL");
        await exited;
      },
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        await exited;
      },
    },
  };
}
