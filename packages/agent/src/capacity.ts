// What this node announces as its size.
import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import type { Resources } from "@drover/proto";
import { isTestUri } from "./domain-type.js";
import type { HostInfo } from "./libvirt.js";

/** Simulated disk size for test:// hosts, where no disk is ever written. */
export const TEST_DISK_GIB = 1024;

/**
 * Disk capacity in GiB: the configured override; else TEST_DISK_GIB for the test
 * driver; else the total size of the filesystem holding stateDir (or of its
 * nearest existing ancestor, before the first VM creates it). Total, not free:
 * capacity is the raw host size and the scheduler subtracts what it placed.
 */
export async function diskCapacityGib(uri: string, stateDir: string, override?: number): Promise<number> {
  if (override !== undefined) return override;
  if (isTestUri(uri)) return TEST_DISK_GIB;
  let dir = stateDir;
  for (;;) {
    try {
      const s = await statfs(dir);
      return Math.floor((s.blocks * s.bsize) / 2 ** 30);
    } catch (err) {
      const parent = dirname(dir);
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || parent === dir) return 0;
      dir = parent;
    }
  }
}

export function capacityOf(host: HostInfo, diskGib: number): Resources {
  return { vcpus: host.vcpus, memoryMib: host.memoryMib, diskGib };
}
