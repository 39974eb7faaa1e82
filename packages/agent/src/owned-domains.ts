// The agent's view of libvirt: only Drover's domains of this cluster (ownership.ts). Every
// AgentService call goes through it, so a domain Drover did not create is never listed,
// started, stopped or destroyed: for the scheduler it does not exist.
import { DomainNotFoundError, ForeignDomainError } from "./errors.js";
import { type Domain, type DomainSnapshot, type LibvirtHost, isNotFound } from "./libvirt.js";
import { type DroverMark, isOurs, ourMark } from "./ownership.js";

export class OwnedDomains {
  // Listing reads each domain's XML once: a UUID's mark does not change while its domain exists
  // (forgotten when the agent undefines it, re-read for every single-domain call). null: not ours.
  private readonly listed = new Map<string, DroverMark | null>();

  constructor(
    readonly libvirt: LibvirtHost,
    private readonly clusterId: () => string | undefined,
  ) {}

  private async ours(dom: Domain, uuid: string): Promise<boolean> {
    return isOurs(uuid, await this.libvirt.xml(dom), this.clusterId());
  }

  /** Drover's domain for this VM, or undefined when there is none; a foreign one is a ForeignDomainError. */
  async lookup(vmId: string): Promise<Domain | undefined> {
    const dom = await this.libvirt.lookup(vmId);
    if (!dom) return undefined;
    // Undefined between the lookup and the XML read (a delete racing a console follower): gone.
    const ours = await this.ours(dom, vmId).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (ours === undefined) return undefined;
    if (!ours) throw new ForeignDomainError(vmId);
    return dom;
  }

  /** Like lookup, but none is a DomainNotFoundError. */
  async get(vmId: string): Promise<Domain> {
    const dom = await this.lookup(vmId);
    if (!dom) throw new DomainNotFoundError(vmId);
    return dom;
  }

  /** Whether the domain of this VM is gone (or was never Drover's). */
  async gone(vmId: string): Promise<boolean> {
    return (await this.lookup(vmId).catch((err: unknown) => {
      if (err instanceof ForeignDomainError) return undefined;
      throw err;
    })) === undefined;
  }

  async define(xml: string, vmId: string): Promise<Domain> {
    const dom = await this.libvirt.define(xml);
    // The mark is the one just written: known without reading the XML back.
    const mark = ourMark(vmId, xml, this.clusterId());
    if (mark) this.listed.set(vmId, mark);
    else this.listed.delete(vmId);
    return dom;
  }

  /** The static address a listed or defined domain carries in its mark (undefined: none, or not read yet). */
  staticIpv4(vmId: string): string | undefined {
    return this.listed.get(vmId)?.staticIpv4;
  }

  async undefine(dom: Domain, vmId: string): Promise<void> {
    await this.libvirt.undefine(dom);
    this.listed.delete(vmId);
  }

  /** This cluster's Drover domains, by name; one that vanishes mid-listing is skipped. */
  async list(): Promise<DomainSnapshot[]> {
    if (!this.clusterId()) return [];
    const out: DomainSnapshot[] = [];
    for (const dom of await this.libvirt.listAll()) {
      try {
        const uuid = await dom.getUUIDString();
        let mark = this.listed.get(uuid);
        if (mark === undefined) {
          mark = ourMark(uuid, await this.libvirt.xml(dom), this.clusterId()) ?? null;
          this.listed.set(uuid, mark);
        }
        if (mark) out.push(await this.libvirt.snapshot(dom));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
