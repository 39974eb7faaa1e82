import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { waitFor } from "../support/wait.js";

const AGENT_MAIN = fileURLToPath(new URL("../../packages/agent/dist/main.js", import.meta.url));
/** The agent's DROVER_AGENT_SHUTDOWN_LIMIT_MS here (the default is 15 s), and slack for a loaded 2-core machine. */
const BOUND_MS = 4000;
const SLACK_MS = 3000;
const HUNG_MS = 30_000;

/**
 * A Unix-socket forwarder to the shared libvirtd that can go silent: from silence() on, nothing
 * passes either way and no connection closes, as with a hung libvirtd. The shared daemon is untouched.
 */
async function silenceableLibvirt(dir: string) {
  const path = join(dir, "libvirt-sock");
  const sockets = new Set<Socket>();
  let silent = false;
  const server: Server = createServer((client) => {
    const upstream = connect("/var/run/libvirt/libvirt-sock");
    for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(from);
      from.on("error", () => {});
      from.on("data", (d: Buffer) => silent || to.write(d));
      from.on("close", () => silent || to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    uri: `test+unix:///default?socket=${path}`,
    silence: () => void (silent = true),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

// libvirtd stops answering (its socket stays open, nothing comes back), then the agent gets
// SIGTERM. Before, its stop waited for a libvirt call for ever, and so did process.exit()
// (libuv joins its threads at exit): the agent had to be killed from outside.
describe("agent SIGTERM while libvirtd does not answer", () => {
  let dir: string;
  let libvirt: Awaited<ReturnType<typeof silenceableLibvirt>>;
  let agent: ReturnType<typeof spawn> | undefined;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "drover-agent-shutdown-"));
  });
  afterEach(() => {
    if (agent?.exitCode === null && agent.signalCode === null) agent.kill("SIGKILL");
    libvirt?.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** An agent on libvirt through the forwarder (no scheduler: it retries registering), then libvirt silenced. */
  async function agentOnHungLibvirt(name: string) {
    libvirt = await silenceableLibvirt(mkdtempSync(join(dir, name)));
    let output = "";
    const child = (agent = spawn(process.execPath, [AGENT_MAIN], {
      env: {
        ...process.env,
        DROVER_INSECURE: "1",
        DROVER_NODE_NAME: name,
        DROVER_LIBVIRT_URI: libvirt.uri,
        DROVER_AGENT_LISTEN: `127.0.0.1:${await freePort()}`,
        DROVER_SCHEDULER_ADDR: `127.0.0.1:${await freePort()}`,
        DROVER_STATE_DIR: join(dir, name, "state"),
        DROVER_NODE_DISK_GIB: "100",
        DROVER_AGENT_METRICS: "",
        DROVER_AGENT_SHUTDOWN_LIMIT_MS: String(BOUND_MS),
      },
      stdio: ["ignore", "ignore", "pipe"],
    }));
    child.stderr.on("data", (d) => (output += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once("exit", (code, signal) => r({ code, signal })));
    await waitFor(`agent ${name} serving`, async () => (output.includes("serving AgentService") ? true : undefined), 60_000, 100);
    // Registration retries against the absent scheduler: each try reads the host from libvirt.
    await sleep(1000);
    libvirt.silence();
    await sleep(1000);
    const exitWithin = async () => {
      const start = Date.now();
      const done = await Promise.race([exited.then(() => true), sleep(HUNG_MS).then(() => false)]);
      return done ? Date.now() - start : undefined;
    };
    const lastLines = () => output.trim().split("\n").slice(-3).join(" | ");
    return { child, exited, exitWithin, output: () => output, lastLines };
  }

  it("is gone within its bound, saying what was still open", async () => {
    const a = await agentOnHungLibvirt("shutdown-bound");
    a.child.kill("SIGTERM");
    const ms = await a.exitWithin();
    expect(ms, `still running ${HUNG_MS} ms after SIGTERM; its last lines: ${a.lastLines()}`).toBeDefined();
    expect(ms).toBeLessThan(BOUND_MS + SLACK_MS);
    expect(ms).toBeGreaterThanOrEqual(BOUND_MS - 100);
    expect(a.output()).toMatch(/not stopped 4000 ms after SIGTERM: killing itself; still open: \S/);
    expect(await a.exited).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("exits at once on a second signal", async () => {
    const a = await agentOnHungLibvirt("shutdown-second");
    a.child.kill("SIGTERM");
    await sleep(500);
    a.child.kill("SIGINT");
    const ms = await a.exitWithin();
    expect(ms, `still running ${HUNG_MS} ms after the second signal; its last lines: ${a.lastLines()}`).toBeDefined();
    expect(ms).toBeLessThan(SLACK_MS);
    expect(await a.exited).toEqual({ code: null, signal: "SIGINT" });
  });
});
