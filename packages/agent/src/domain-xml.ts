// Builds libvirt domain XML for a VM. Pure: no I/O. Every user-supplied string is
// escaped, and control characters are refused (XML 1.0 cannot carry most of them,
// and none of them belong in a name, label, network or path).
import type { VmSpec } from "@drover/proto";
import type { DomainType } from "./domain-type.js";
import { ValidationError } from "./errors.js";
import type { NetworkAttachment } from "./network-attachment.js";

/** XML namespace of the <metadata> element that marks a domain as drover-managed. */
export const DROVER_XMLNS = "https://drover.dev/xmlns/agent/1";

export interface DomainPaths {
  /** qcow2 disk, attached as virtio vda. */
  disk?: string;
  /** cloud-init NoCloud seed ISO, attached as a read-only cdrom. */
  seed?: string;
  /** Where libvirt (through virtlogd, which rotates it) logs the serial console. */
  consoleLog?: string;
}

/**
 * The NIC's MAC, derived from the VM id so the agent knows it before libvirt does (for the seed's
 * network-config and the address report): 52:54:00 is QEMU's prefix, then three bytes of the id.
 */
export function macAddress(vmId: string): string {
  const hex = vmId.replace(/-/g, "").slice(-6).toLowerCase();
  return `52:54:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

// C0 controls (incl. tab/newline) and DEL.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

export function xmlEscape(value: string, what: string): string {
  if (CONTROL.test(value)) throw new ValidationError(what, "contains a control character; remove it");
  return value
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

/**
 * libvirt domain name: the VM name plus its whole id, unique per host however names repeat. The
 * name once carried the id's first 8 hex digits only, which time-ordered (v7) ids share for VMs
 * made within ~65 s, so a second VM of one name collided with the first's domain. Domains named
 * that way still work: the agent finds its domains by UUID and Drover's metadata (owned-domains.ts),
 * never by name, and never redefines one. libvirt refuses '/' in names, so it becomes '_' here; the
 * <title> keeps the VM name exactly.
 */
export function domainName(vmId: string, name: string): string {
  return `${name.replace(/\//g, "_")}-${vmId}`;
}

/**
 * The guest's hostname (cloud-init local-hostname): the id's last 12 hex digits, random in v4 and
 * v7 ids alike (the first ones are a v7 id's creation time), after "vm-" so no resolver takes an
 * all-digit one for an address.
 */
export function guestHostname(vmId: string): string {
  return `vm-${vmId.slice(-12)}`;
}

/** Whose domain it is: the VM and the cluster, both written into Drover's metadata (ownership.ts reads them). */
export interface DomainOwner {
  vmId: string;
  clusterId: string;
}

/** How the VM boots: its own kernel and initrd when the spec names them, else the disk (and the seed). */
function bootLines(spec: VmSpec, paths: DomainPaths): string[] {
  if (spec.kernel) {
    const lines = [`    <kernel>${xmlEscape(spec.kernel, "kernel path")}</kernel>`];
    if (spec.initrd) lines.push(`    <initrd>${xmlEscape(spec.initrd, "initrd path")}</initrd>`);
    if (spec.cmdline) lines.push(`    <cmdline>${xmlEscape(spec.cmdline, "kernel command line")}</cmdline>`);
    return lines;
  }
  return [
    `    <boot dev='hd'/>`,
    ...(paths.seed ? [`    <boot dev='cdrom'/>`] : []),
    // SeaBIOS writes to the serial console too, so the console log says why a guest did not boot.
    `    <bios useserial='yes'/>`,
  ];
}

/** The NIC's XML: on a libvirt network or a Linux bridge, with the MAC derived from the VM id. */
function interfaceLines(vmId: string, nic: NetworkAttachment): string[] {
  const source = nic.type === "bridge" ? `<source bridge='${xmlEscape(nic.source, "bridge")}'/>` : `<source network='${xmlEscape(nic.source, "network")}'/>`;
  return [`    <interface type='${nic.type}'>`, `      <mac address='${macAddress(vmId)}'/>`, `      ${source}`, `      <model type='virtio'/>`, `    </interface>`];
}

/**
 * `nic` says how the NIC attaches (network-attachment.ts); without it a spec's network is a libvirt
 * network. A static address is kept in Drover's metadata, so the agent reports it after a restart too.
 */
export function buildDomainXml(owner: DomainOwner, spec: VmSpec, domainType: DomainType, paths: DomainPaths = {}, nic?: NetworkAttachment): string {
  const attach = nic ?? (spec.network ? { type: "network" as const, source: spec.network } : undefined);
  const vmId = owner.vmId;
  const id = xmlEscape(vmId, "vm id");
  const cluster = xmlEscape(owner.clusterId, "cluster id");
  const name = xmlEscape(domainName(vmId, spec.name), "VM name");
  const title = xmlEscape(spec.name, "VM name");
  const labels = Object.entries(spec.labels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `      <drover:label key="${xmlEscape(k, `label key ${JSON.stringify(k)}`)}">${xmlEscape(v, `label ${JSON.stringify(k)}`)}</drover:label>`);

  const lines = [
    `<domain type='${domainType}'>`,
    `  <name>${name}</name>`,
    `  <uuid>${id}</uuid>`,
    `  <title>${title}</title>`,
    `  <metadata>`,
    `    <drover:vm xmlns:drover="${DROVER_XMLNS}">`,
    `      <drover:cluster>${cluster}</drover:cluster>`,
    `      <drover:id>${id}</drover:id>`,
    ...(spec.staticIpv4 ? [`      <drover:static-ipv4>${xmlEscape(spec.staticIpv4.address, "static address")}</drover:static-ipv4>`] : []),
    ...labels,
    `    </drover:vm>`,
    `  </metadata>`,
    `  <memory unit='MiB'>${Math.trunc(spec.memoryMib)}</memory>`,
    `  <vcpu>${Math.trunc(spec.vcpus)}</vcpu>`,
    `  <os>`,
    `    <type arch='x86_64'>hvm</type>`,
    ...(domainType !== "test" ? bootLines(spec, paths) : []),
    `  </os>`,
  ];

  // The test driver models no devices worth having; keep its XML minimal.
  if (domainType !== "test") {
    lines.push(
      `  <features><acpi/><apic/></features>`,
      // No <cpu> element: qemu's default model. host-passthrough/host-model abort
      // under nested KVM on some hosts (qemu fails to set MSR 0x10a), and the
      // default works everywhere, KVM or TCG.
      `  <on_poweroff>destroy</on_poweroff>`,
      `  <on_reboot>restart</on_reboot>`,
      // A crashed guest is torn down so the scheduler sees it stop, not hang.
      `  <on_crash>destroy</on_crash>`,
      `  <devices>`,
    );
    if (paths.disk) {
      lines.push(
        `    <disk type='file' device='disk'>`,
        `      <driver name='qemu' type='qcow2'/>`,
        `      <source file='${xmlEscape(paths.disk, "disk path")}'/>`,
        `      <target dev='vda' bus='virtio'/>`,
        `    </disk>`,
      );
    }
    if (paths.seed) {
      // On virtio-scsi, not SATA: cloud kernels (Debian's linux-image-cloud-amd64) have no AHCI
      // driver, so a SATA seed is invisible to them and cloud-init finds no data source.
      lines.push(
        `    <controller type='scsi' model='virtio-scsi'/>`,
        `    <disk type='file' device='cdrom'>`,
        `      <driver name='qemu' type='raw'/>`,
        `      <source file='${xmlEscape(paths.seed, "seed path")}'/>`,
        `      <target dev='sda' bus='scsi'/>`,
        `      <readonly/>`,
        `    </disk>`,
      );
    }
    if (attach) lines.push(...interfaceLines(id, attach));
    // Serial console only (virsh console); no graphics, so no VNC/SPICE port is opened.
    const log = paths.consoleLog ? `<log file='${xmlEscape(paths.consoleLog, "console log path")}' append='on'/>` : "";
    lines.push(
      `    <serial type='pty'>${log}<target port='0'/></serial>`,
      `    <console type='pty'><target type='serial' port='0'/></console>`,
      `  </devices>`,
    );
  }
  lines.push(`</domain>`);
  return lines.join("\n") + "\n";
}
