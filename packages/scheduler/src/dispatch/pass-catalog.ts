import { getImage, getImagesNamed, getNetwork, getNetworksNamed, type CatalogImage, type CatalogNetwork, type DispatchVm, type Sql } from "@drover/store";

/** The image and network names a stored spec (VmSpec JSON) gives, read without parsing the rest. */
function namesOf(spec: unknown): { image?: string; network?: string } {
  if (typeof spec !== "object" || spec === null) return {};
  const { image, network } = spec as { image?: unknown; network?: unknown };
  return { ...(typeof image === "string" && image ? { image } : {}), ...(typeof network === "string" && network ? { network } : {}) };
}

/**
 * The catalog entries (images, networks) the VMs of one dispatch pass name, read once for the
 * pass: at most two statements a pass instead of two a VM (a pass of single creates is ~24 VMs,
 * mostly of a few images and networks). A name the pass did not read, or found no entry for, is
 * looked up alone, as before, so each VM gets what a lookup of its own would give.
 */
export class PassCatalog {
  private readonly entries: Promise<[Map<string, CatalogImage>, Map<string, CatalogNetwork>]>;

  constructor(
    private readonly sql: Sql,
    vms: readonly DispatchVm[],
  ) {
    const images = new Set<string>();
    const networks = new Set<string>();
    for (const vm of vms) {
      const { image, network } = namesOf(vm.spec);
      if (image) images.add(image);
      if (network) networks.add(network);
    }
    this.entries = Promise.all([getImagesNamed(sql, [...images]), getNetworksNamed(sql, [...networks])]);
    // Each dispatch that needs an entry awaits this (a failure is that VM's, as its own lookup's
    // was); a pass whose VMs all go elsewhere first never does.
    this.entries.catch(() => {});
  }

  async image(name: string): Promise<CatalogImage | undefined> {
    return (await this.entries)[0].get(name) ?? getImage(this.sql, name);
  }

  async network(name: string): Promise<CatalogNetwork | undefined> {
    return (await this.entries)[1].get(name) ?? getNetwork(this.sql, name);
  }
}
