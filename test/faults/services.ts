// Private servers a fault test may stop, kill and restart: never the shared
// Postgres or NATS that the other suites use.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { freePort } from "../support/ports.js";
import { waitFor } from "../support/wait.js";
import { connect as tcpConnect } from "node:net";
import { connect } from "@drover/store";

/** Whether something accepts TCP connections on the port (undefined while not). */
function accepts(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(undefined));
  });
}

const PG_VERSION = "15";

/** A Postgres cluster of the test's own (pg_createcluster, trust auth), dropped by drop(). */
export async function privatePostgres() {
  const name = `drovertest-${randomBytes(4).toString("hex")}`;
  const port = await freePort();
  const ctl = (action: string) => execFileSync("pg_ctlcluster", [PG_VERSION, name, action], { stdio: "pipe" });
  // During the test, without blocking: the scheduler and agents share this process, and a
  // pg_ctlcluster run synchronously froze them for its seconds (beats unsent, answers late).
  const ctlAsync = async (action: string) => void (await promisify(execFile)("pg_ctlcluster", [PG_VERSION, name, action]));
  execFileSync("pg_createcluster", [PG_VERSION, name, "-p", String(port), "--", "-A", "trust"], { stdio: "pipe" });
  ctl("start");
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const up = async () => {
    const sql = connect(url, { max: 1 });
    try {
      await sql`SELECT 1`;
      return true;
    } finally {
      await sql.end({ timeout: 1 });
    }
  };
  await waitFor(`private Postgres ${name} up`, up, 20_000, 200);
  return {
    url,
    name,
    stop: () => ctlAsync("stop"),
    start: async () => {
      await ctlAsync("start");
      await waitFor(`private Postgres ${name} up again`, up, 20_000, 200);
    },
    /**
     * SIGSTOP to the postmaster and every backend: connections stay open and statements get no
     * answer, as with a hung host or a network that drops packets (not refused, not reset).
     */
    freeze: () => signalCluster(name, "SIGSTOP"),
    thaw: () => signalCluster(name, "SIGCONT"),
    drop: () => execFileSync("pg_dropcluster", ["--stop", PG_VERSION, name], { stdio: "pipe" }),
  };
}

/** Sends signal to a cluster's postmaster and its children (backends, background workers). */
function signalCluster(name: string, signal: NodeJS.Signals): void {
  const postmaster = Number(readFileSync(`/var/lib/postgresql/${PG_VERSION}/${name}/postmaster.pid`, "utf8").split("\n")[0]);
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(postmaster)], { encoding: "utf8" })
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((pid) => pid > 0);
  for (const pid of [postmaster, ...children]) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      // A backend that ended after ps listed it.
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
    }
  }
}

/** A JetStream NATS server of the test's own, on a free port with its own store dir. */
export async function privateNats() {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "drover-fault-nats-"));
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir], { stdio: "ignore" });
    await waitFor("private NATS up", () => accepts(port), 10_000, 100);
  };
  await start();
  return {
    url,
    /** SIGKILL: no goodbye to clients, as a crash. */
    kill: async () => {
      const c = child;
      if (!c || c.exitCode !== null) return;
      const exited = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await exited;
    },
    start,
    /** SIGSTOP: connections stay open and nothing is answered, as with a hung host (thaw: SIGCONT). */
    freeze: () => void child?.kill("SIGSTOP"),
    thaw: () => void child?.kill("SIGCONT"),
    stop: async () => {
      const c = child;
      if (c && c.exitCode === null) {
        const exited = new Promise((r) => c.once("exit", r));
        c.kill("SIGKILL");
        await exited;
      }
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
