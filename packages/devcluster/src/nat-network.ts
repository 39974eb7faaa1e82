// The real host's NAT network: drover-nat, defined and started by the same shell function the test
// command and `npm run cluster` use (scripts/lib/setup.sh ensure_nat_network), so there is one
// definition of its subnet, bridge and DHCP range.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const NAT_NETWORK = "drover-nat";

/** scripts/lib/setup.sh of this checkout (dist/ and src/ are both two levels below the package). */
const SETUP = fileURLToPath(new URL("../../../scripts/lib/setup.sh", import.meta.url));

/** Defines and starts drover-nat when it is missing or inactive; throws with the script's words when it cannot. */
export function ensureNatNetwork(setup = SETUP): void {
  if (!existsSync(setup)) throw new Error(`${setup} is missing: run from a Drover checkout`);
  try {
    execFileSync("bash", ["-c", `. "$1" && ensure_nat_network`, "ensure-nat", setup], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`libvirt network ${NAT_NETWORK} could not be set up: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}
