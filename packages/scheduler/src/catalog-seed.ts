// Catalog entries a program that starts a whole cluster registers itself (the one-machine mode: its
// NAT network and the test guest's image), through the same store calls as the catalog services.
// Idempotent: an entry of that name that exists already is kept as it is.
import { type CatalogImage, type CatalogNetwork, type Sql, getImage, insertImage, insertNetwork, listNetworks } from "@drover/store";

export async function ensureCatalogNetwork(sql: Sql, network: Omit<CatalogNetwork, "createdAt">): Promise<CatalogNetwork> {
  return (await insertNetwork(sql, network)) ?? (await listNetworks(sql)).find((n) => n.name === network.name)!;
}

export async function ensureCatalogImage(sql: Sql, image: Omit<CatalogImage, "createdAt">): Promise<CatalogImage> {
  return (await insertImage(sql, image)) ?? (await getImage(sql, image.name))!;
}
