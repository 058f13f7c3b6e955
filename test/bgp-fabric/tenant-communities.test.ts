// End to end, as root: a Tenant's BGP communities (issue 9). A Tenant owns an
// IPPool of node-1 (`spec.ipPools`) and names its communities
// (`spec.bgp.communities`: a standard value, and a large one by its name in
// the BGPConfiguration); a pod of the tenant's namespace draws its address
// from that pool, so node-1 claims a block of it. The ToR's BIRD holds that
// block with exactly those communities, node-2's block with none; a change of
// the Tenant's communities reaches the ToR without a session reset.
import { beforeAll, describe, expect, it } from "@jest/globals";
import { busyboxPod } from "../lab/lab-pods.js";
import { maybe } from "../lab/suite-lab.js";
import {
  applyYaml,
  birdc,
  labForSuite,
  mergePatch,
  poolBlocks,
  restartMarks,
  running,
  waitFor,
} from "./fabric-lab.js";

const POOL = "tenant-a-v4";
const POOL_CIDR = "10.250.0.0/24";

/** The communities BIRD shows for a route (`show route all PREFIX`), standard and large, in its own notation. */
export function birdCommunities(text: string): { standard: string[]; large: string[] } {
  const list = (attr: string): string[] => {
    const line = text.split("\n").find((l) => l.trim().startsWith(`${attr}:`));
    return line === undefined
      ? []
      : [...line.matchAll(/\(([^)]*)\)/g)].map((m) => (m[1] ?? "").replace(/\s/g, ""));
  };
  return { standard: list("BGP.community"), large: list("BGP.large_community") };
}

const setup = `
apiVersion: trellis.dev/v1alpha1
kind: IPPool
metadata: {name: ${POOL}}
spec: {cidr: ${POOL_CIDR}, blockSize: 26, nodeSelector: "kubernetes.io/hostname == node-1"}
---
apiVersion: trellis.dev/v1alpha1
kind: Tenant
metadata: {name: tenant-a}
spec:
  namespaceSelector: {matchLabels: {tenant: a}}
  isolation: None
  ipPools: [${POOL}]
  bgp: {communities: ["65010:100", tenant-a-large]}
---
apiVersion: v1
kind: Namespace
metadata:
  name: ta
  labels: {tenant: a}
  annotations: {trellis.dev/ipv4pools: '["${POOL}"]'}
${busyboxPod("ta", "a1", "node-1")}`;

maybe("BGP fabric: a Tenant's communities at the ToR (2 nodes)", () => {
  // a pod on each node (namespace "other", no tenant): node-2's block is of a pool of no tenant
  const { lab } = labForSuite(2, "other");
  beforeAll(async () => {
    // the large community by name, as prefixAdvertisements names them
    await mergePatch(lab, "bgpconfiguration", "default", {
      spec: { communities: [{ name: "tenant-a-large", value: "65010:1:1" }] },
    });
    await applyYaml(lab, setup);
    await running(lab, "ta", ["a1"]);
  }, 120_000);

  const tenantBlock = async (): Promise<string> =>
    waitFor("node-1's block of the tenant pool", async () => {
      const b = (await poolBlocks(lab)).find((x) => x.pool === POOL && x.node === "node-1");
      return b?.cidr;
    });
  const routeAtTor = (cidr: string): Promise<string> => birdc(lab, "show", "route", "all", cidr);

  it("the tenant pool's block carries exactly the Tenant's communities at the ToR", async () => {
    const block = await tenantBlock();
    expect(block.startsWith("10.250.0.")).toBe(true);
    const seen = await waitFor(`${block} with the tenant's communities at the ToR`, async () => {
      const c = birdCommunities(await routeAtTor(block));
      return c.standard.length > 0 && c.large.length > 0 ? c : undefined;
    });
    expect(seen).toEqual({ standard: ["65010,100"], large: ["65010,1,1"] });
  }, 60_000);

  it("another node's block (a pool of no tenant) carries none of them", async () => {
    const other = (await poolBlocks(lab)).find((b) => b.node === "node-2" && !b.cidr.includes(":"));
    expect(other).toBeDefined();
    const text = await waitFor(`${other?.cidr} at the ToR`, async () => {
      const t = await routeAtTor(other?.cidr ?? "");
      return /\[node_2 /.test(t) ? t : undefined;
    });
    expect(birdCommunities(text)).toEqual({ standard: [], large: [] });
  }, 60_000);

  it("changing the Tenant's communities changes them at the ToR without a session reset or an agent restart", async () => {
    const block = await tenantBlock();
    const marks = await restartMarks(lab);
    await mergePatch(lab, "tenant", "tenant-a", { spec: { bgp: { communities: ["65010:200"] } } });
    const t0 = Date.now();
    const seen = await waitFor("the new communities at the ToR", async () => {
      const c = birdCommunities(await routeAtTor(block));
      return c.standard.includes("65010,200") ? c : undefined;
    });
    process.stderr.write(`tenant communities changed at the ToR after ${Date.now() - t0} ms\n`);
    expect(seen).toEqual({ standard: ["65010,200"], large: [] });
    expect(await restartMarks(lab)).toEqual(marks);
  }, 60_000);
});

describe("birdCommunities", () => {
  it("reads BIRD's standard and large community lines", () => {
    const text = [
      "10.250.0.0/26        unicast [node_1 00:00:01.000] * (100) [AS64512i]",
      "\tBGP.community: (65010,100) (65010,7)",
      "\tBGP.large_community: (65010, 1, 1)",
    ].join("\n");
    expect(birdCommunities(text)).toEqual({ standard: ["65010,100", "65010,7"], large: ["65010,1,1"] });
    expect(birdCommunities("10.244.2.0/26 unicast [node_2 x] * (100) [AS64512i]")).toEqual({
      standard: [],
      large: [],
    });
  });
});
