// OwnedDomains against libvirt's test driver: a domain undefined between the lookup and the
// XML read (a DeleteVm racing a console follower's poll) is gone, not an error.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DROVER_XMLNS } from "./domain-xml.js";
import { type Domain, LibvirtHost } from "./libvirt.js";
import { OwnedDomains } from "./owned-domains.js";
import { testHostUri } from "./test-host.js";

const CLUSTER = "0b6f1a52-3c7d-4e8f-9a01-b2c3d4e5f607";
const ours = (vmId: string) =>
  `<domain type='test'><name>vm-${vmId.slice(0, 8)}</name><uuid>${vmId}</uuid>` +
  `<metadata><drover:vm xmlns:drover="${DROVER_XMLNS}"><drover:cluster>${CLUSTER}</drover:cluster><drover:id>${vmId}</drover:id></drover:vm></metadata>` +
  `<memory>65536</memory><os><type>hvm</type></os></domain>`;

describe("OwnedDomains", () => {
  let lv: LibvirtHost;
  beforeAll(async () => {
    lv = await LibvirtHost.connect(testHostUri({ vcpus: 2, memoryMib: 2048 }));
  });
  afterAll(async () => lv?.close());

  it("finds its own domain, and calls one undefined mid-lookup gone", async () => {
    const owned = new OwnedDomains(lv, () => CLUSTER);
    const vmId = randomUUID();
    await lv.define(ours(vmId));
    expect(await owned.gone(vmId)).toBe(false);

    // The domain is undefined after libvirt found it and before its XML is read.
    const xml = lv.xml.bind(lv);
    lv.xml = async (dom: Domain) => {
      await lv.undefine(dom);
      return xml(dom);
    };
    try {
      expect(await owned.gone(vmId)).toBe(true);
      expect(await owned.lookup(vmId)).toBeUndefined();
    } finally {
      lv.xml = xml;
    }
  });
});
