// Which libvirt domains are Drover's. A domain is ours only when its <metadata> carries an element
// in Drover's namespace naming this cluster and the domain's own UUID as the VM id: the agent writes
// that element when it defines a domain (buildDomainXml), and nothing else on a host does. Text
// elsewhere in the XML (a <description> that quotes our namespace, say) counts for nothing: libvirt
// escapes text, so only real elements can match the patterns below.
import { DROVER_XMLNS } from "./domain-xml.js";

/** The cluster and VM id a domain's Drover metadata names. */
export interface DroverMark {
  clusterId: string;
  vmId: string;
  /** The NIC's static address (CIDR) the VM was created with, if any. */
  staticIpv4?: string;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// libvirt indents the domain's own children by two spaces; an element named metadata inside another
// application's metadata is indented deeper, so this matches only the domain's.
const METADATA = /\n {2}<metadata>\n([\s\S]*?)\n {2}<\/metadata>\n/;
const VM_ELEMENT = new RegExp(`<([A-Za-z_][\\w.-]*):vm xmlns:\\1=["']${escapeRegExp(DROVER_XMLNS)}["']>([\\s\\S]*?)</\\1:vm>`);

/** The Drover mark in a domain's XML (as libvirt returns it), or undefined when there is none. */
export function droverMark(xml: string): DroverMark | undefined {
  const metadata = METADATA.exec(xml)?.[1];
  if (!metadata) return undefined;
  const vm = VM_ELEMENT.exec(metadata);
  if (!vm) return undefined;
  const [, prefix, body] = vm as unknown as [string, string, string];
  const field = (name: string) => new RegExp(`<${prefix}:${name}>([^<]*)</${prefix}:${name}>`).exec(body)?.[1]?.trim();
  const clusterId = field("cluster");
  const vmId = field("id");
  if (!clusterId || !vmId) return undefined;
  const staticIpv4 = field("static-ipv4");
  return { clusterId: clusterId.toLowerCase(), vmId: vmId.toLowerCase(), ...(staticIpv4 ? { staticIpv4 } : {}) };
}

/** Whether a domain with this UUID and XML is Drover's in this cluster. */
export function isOurs(uuid: string, xml: string, clusterId: string | undefined): boolean {
  return ourMark(uuid, xml, clusterId) !== undefined;
}

/** The domain's Drover mark when it is Drover's in this cluster, else undefined. */
export function ourMark(uuid: string, xml: string, clusterId: string | undefined): DroverMark | undefined {
  if (!clusterId) return undefined;
  const mark = droverMark(xml);
  return mark !== undefined && mark.clusterId === clusterId.toLowerCase() && mark.vmId === uuid.toLowerCase() ? mark : undefined;
}
