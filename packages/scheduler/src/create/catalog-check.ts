// A CreateVms request may name only catalog images and networks: checked before anything is
// placed or written, each unknown name refused with the field that names it.
import { imagesNamed, networksNamed, type Sql } from "@drover/store";
import type { ValidCreate } from "../api/validation.js";
import { ValidationError } from "../errors.js";

export async function checkCatalog(sql: Sql, req: ValidCreate, at: (i: number) => string): Promise<void> {
  const images = [...new Set(req.groups.map((g) => g.spec.image).filter(Boolean))];
  const networks = [...new Set(req.groups.map((g) => g.spec.network).filter(Boolean))];
  const [knownImages, knownNetworks] = await Promise.all([imagesNamed(sql, images), networksNamed(sql, networks)]);
  req.groups.forEach((g, i) => {
    if (g.spec.image && !knownImages.has(g.spec.image)) {
      throw new ValidationError(`${at(i)}.image`, `names no catalog image: "${g.spec.image}" (drover image list shows them; an admin registers one with drover image create)`);
    }
    if (g.spec.network && !knownNetworks.has(g.spec.network)) {
      throw new ValidationError(`${at(i)}.network`, `names no catalog network: "${g.spec.network}" (drover network list shows them; an admin registers one with drover network create)`);
    }
  });
}
