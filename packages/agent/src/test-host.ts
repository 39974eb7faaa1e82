// Simulated hosts for tests: libvirt's test driver reads the node's size from an
// XML file, so any host size can be faked without hardware.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestHostSize {
  vcpus: number;
  memoryMib: number;
  /** Domain XML the host already runs, as if defined by someone other than Drover (ownership tests). */
  domains?: string[];
}

/**
 * Writes a host.xml of this size into a fresh temp directory (or `dir`) and
 * returns its test:// URI. Each libvirt connection to it has private state, so
 * every agent started on it is an independent, empty host.
 */
export function testHostUri(size: TestHostSize = { vcpus: 16, memoryMib: 65536 }, dir?: string): string {
  const where = dir ?? mkdtempSync(join(tmpdir(), "drover-testhost-"));
  const file = join(where, "host.xml");
  writeFileSync(
    file,
    `<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>${size.vcpus}</cores><threads>1</threads>` +
      `<active>${size.vcpus}</active><mhz>2000</mhz><model>x86_64</model></cpu>` +
      `<memory>${size.memoryMib * 1024}</memory>${(size.domains ?? []).join("\n")}</node>\n`,
  );
  return `test://${file}`;
}
