import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VmSpec } from "@drover/proto";
import { DROVER_XMLNS, buildDomainXml, domainName, guestHostname } from "./domain-xml.js";
import { ValidationError } from "./errors.js";
import { LibvirtHost } from "./libvirt.js";
import { droverMark } from "./ownership.js";
import { testHostUri } from "./test-host.js";

const spec = (over: Partial<VmSpec> = {}): VmSpec => ({
  name: "web",
  vcpus: 2,
  memoryMib: 512,
  diskGib: 0,
  image: "",
  userData: "",
  network: "",
  kernel: "",
  initrd: "",
  cmdline: "",
  restartPolicy: "",
  labels: {},
  ...over,
});

const CLUSTER = "0b7c5c62-3f57-4a43-9d4e-0d5b8f1e2a10";

const count = (s: string, sub: string) => s.split(sub).length - 1;

describe("buildDomainXml", () => {
  const id = "6f1c2a9e-1b2c-4d3e-8f90-0123456789ab";

  it.each([
    {
      what: "test driver is minimal",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec(), "test"),
      has: ["<domain type='test'>", `<name>web-${id}</name>`, `<uuid>${id}</uuid>`, "<title>web</title>", "<memory unit='MiB'>512</memory>", "<vcpu>2</vcpu>", DROVER_XMLNS],
      lacks: ["<devices>", "<serial", "<graphics"],
    },
    {
      what: "kvm with nothing attached",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec(), "kvm"),
      has: ["<domain type='kvm'>", "<serial type='pty'>", "<console type='pty'>", "<on_crash>destroy</on_crash>", "<devices>"],
      lacks: ["<graphics", "<interface", "<disk", "<cpu"],
    },
    {
      what: "the serial console is logged, and SeaBIOS writes to it",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec(), "qemu", { consoleLog: "/s/consoles/x.log" }),
      has: ["<serial type='pty'><log file='/s/consoles/x.log' append='on'/><target port='0'/></serial>", "<bios useserial='yes'/>"],
      lacks: [],
    },
    {
      what: "qemu (TCG) with disk, seed and network",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ network: "default" }), "qemu", { disk: "/d/x.qcow2", seed: "/s/x.iso" }),
      has: ["<domain type='qemu'>", "<source network='default'/>", "<model type='virtio'/>", "type='qcow2'", "<source file='/d/x.qcow2'/>", "device='cdrom'", "<source file='/s/x.iso'/>", "<readonly/>"],
      lacks: ["host-passthrough", "<graphics"],
    },
    {
      // Cloud kernels have no AHCI driver: a SATA seed would be invisible to them.
      what: "the seed is a cdrom on virtio-scsi, and the NIC has the MAC derived from the VM id",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ network: "drover-nat" }), "kvm", { seed: "/s/x.iso" }),
      has: ["<controller type='scsi' model='virtio-scsi'/>", "<target dev='sda' bus='scsi'/>", "<mac address='52:54:00:67:89:ab'/>", "<boot dev='hd'/>", "<boot dev='cdrom'/>"],
      lacks: ["bus='sata'"],
    },
    {
      what: "direct kernel boot: kernel, initrd and command line instead of boot devices and SeaBIOS",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ kernel: "/g/vmlinuz", initrd: "/g/initrd.img", cmdline: "console=ttyS0 a=<&>" }), "qemu", { seed: "/s/x.iso" }),
      has: ["<kernel>/g/vmlinuz</kernel>", "<initrd>/g/initrd.img</initrd>", "<cmdline>console=ttyS0 a=&lt;&amp;&gt;</cmdline>"],
      lacks: ["<boot dev=", "<bios"],
    },
    {
      what: "a NIC on a Linux bridge (the name escaped), and no libvirt network",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ network: "br'0" }), "qemu", {}, { type: "bridge", source: "br'0" }),
      has: ["<interface type='bridge'>", "<source bridge='br&apos;0'/>", "<mac address='52:54:00:67:89:ab'/>", "<model type='virtio'/>"],
      lacks: ["type='network'", "<source network="],
    },
    {
      what: "a static address is kept in Drover's metadata",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ network: "n", staticIpv4: { address: "10.0.0.5/24", gateway: "", dns: [] } }), "qemu"),
      has: ["<drover:static-ipv4>10.0.0.5/24</drover:static-ipv4>", "<interface type='network'>"],
      lacks: [],
    },
    {
      what: "labels are escaped into metadata",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ labels: { "a&b": `<>&"'` } }), "test"),
      has: [`<drover:label key="a&amp;b">&lt;&gt;&amp;&quot;&apos;</drover:label>`],
      lacks: [`<>&"'`],
    },
    {
      what: "a hostile name is escaped",
      xml: buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ name: "</name><devices>" }), "kvm"),
      has: [`<name>&lt;_name&gt;&lt;devices&gt;-${id}</name>`, "<title>&lt;/name&gt;&lt;devices&gt;</title>"],
      lacks: ["</name><devices>"],
    },
  ])("$what", ({ xml, has, lacks }) => {
    for (const s of has) expect(xml).toContain(s);
    for (const s of lacks) expect(xml).not.toContain(s);
  });

  it("writes a static address that droverMark reads back", () => {
    const xml = buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ network: "n", staticIpv4: { address: "10.0.0.5/24", gateway: "", dns: [] } }), "qemu");
    expect(droverMark(xml)).toEqual({ clusterId: CLUSTER, vmId: id, staticIpv4: "10.0.0.5/24" });
    expect(droverMark(buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec(), "qemu"))).toEqual({ clusterId: CLUSTER, vmId: id });
  });

  it("has exactly one <devices> for kvm even with a hostile name", () => {
    expect(count(buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ name: "</name><devices>" }), "kvm"), "<devices>")).toBe(1);
  });

  it.each([
    ["name", spec({ name: "web\u0000" })],
    ["name with newline", spec({ name: "a\nb" })],
    ["label key", spec({ labels: { "k\u0007": "v" } })],
    ["label value", spec({ labels: { k: "v\u001b[31m" } })],
    ["network", spec({ network: "def\u007fault" })],
    ["kernel command line", spec({ kernel: "/k", cmdline: "console=ttyS0\nx" })],
  ])("rejects control characters in the %s", (_what, s) => {
    expect(() => buildDomainXml({ vmId: id, clusterId: CLUSTER }, s, "kvm")).toThrow(ValidationError);
    expect(() => buildDomainXml({ vmId: id, clusterId: CLUSTER }, s, "kvm")).toThrow(/control character/);
  });

  it("names domains by VM name and the whole id", () => {
    expect(domainName(id, "db")).toBe(`db-${id}`);
    expect(domainName(id, "a/b")).toBe(`a_b-${id}`);
  });

  it("names guests by the id's random tail, not by a v7 id's leading time digits", () => {
    const [a, b] = ["0190f3a2-5b6c-7d01-8e2f-3a4b5c6d7e8f", "0190f3a2-5b6c-7d02-9f00-112233445566"];
    expect(guestHostname(a)).toBe("vm-3a4b5c6d7e8f");
    expect(guestHostname(b)).toBe("vm-112233445566");
  });
});

// The real check: libvirt parses what we build and gives the strings back literally.
describe("buildDomainXml on libvirt's test driver", () => {
  let lv: LibvirtHost;
  beforeAll(async () => {
    lv = await LibvirtHost.connect(testHostUri());
  });
  afterAll(async () => {
    await lv?.close();
  });

  it.each<{ name: string; labels: Record<string, string> }>([
    { name: "</name><devices>", labels: { zone: `<>&"'` } },
    { name: `quote"'&amp;`, labels: { "k<>": "&lt;" } },
    { name: "plain", labels: {} },
  ])("round-trips name $name", async ({ name, labels }) => {
    const id = randomUUID();
    const dom = await lv.define(buildDomainXml({ vmId: id, clusterId: CLUSTER }, spec({ name, labels, userData: `#cloud-config\n<>&"'` }), "test"));
    try {
      expect(await dom.getName()).toBe(domainName(id, name));
      expect(await dom.getUUIDString()).toBe(id);
      const xml = await lv.xml(dom);
      // Exactly libvirt's own (empty) <devices>: nothing was injected by the name.
      expect(count(xml, "<devices")).toBe(1);
      expect(xml).toContain(DROVER_XMLNS);
      expect(droverMark(xml)).toEqual({ clusterId: CLUSTER, vmId: id }); // what libvirt gives back still names its owner
      const title = /<title>([^<]*)<\/title>/.exec(xml)?.[1] ?? "";
      const unescape = (s: string) =>
        s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
      expect(unescape(title)).toBe(name);
      for (const [k, v] of Object.entries(labels)) {
        const m = /<drover:label key="([^"]*)">([^<]*)<\/drover:label>/.exec(xml);
        expect(m && unescape(m[1]!)).toBe(k);
        expect(m && unescape(m[2]!)).toBe(v);
      }
    } finally {
      await lv.undefine(dom);
    }
  });
});
