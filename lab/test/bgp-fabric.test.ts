import { describe, expect, it } from "@jest/globals";
import { planLab } from "../address-plan.js";
import { fabricObjects, nodeBgpAnnotations, LAB_PASSWORD_SECRET, LAB_RR_CLUSTER_ID } from "../bgp-fabric.js";
import { bgpConfigurationSchema, bgpPeerSchema } from "../../crds/bgp.js";

const plan = planLab({ prefix: "tlabcd-", nodes: 3 });

describe("the lab's BGP fabric objects", () => {
  it("are valid BGPConfiguration and BGPPeer objects", () => {
    for (const o of fabricObjects(plan, { routeReflectors: 0, asnPerNode: false })) {
      const schema = o["kind"] === "BGPConfiguration" ? bgpConfigurationSchema : bgpPeerSchema;
      expect(schema.safeParse(o).success).toBe(true);
    }
  });
  it("default: the nodes' AS, mesh on, short timers, graceful restart", () => {
    const [cfg] = fabricObjects(plan, { routeReflectors: 0, asnPerNode: false });
    expect(cfg).toMatchObject({
      metadata: { name: "default" },
      spec: { asNumber: 64512, nodeToNodeMeshEnabled: true, holdTime: 9, keepaliveTime: 3 },
    });
  });
  it("--bgp-password: every ToR BGPPeer names the lab's Secret and turns BFD on; without it, neither", () => {
    const peers = fabricObjects(plan, { routeReflectors: 0, asnPerNode: false, password: "pw" }).slice(1);
    expect(peers).toHaveLength(plan.nodes.length * 2);
    for (const p of peers) {
      expect(bgpPeerSchema.safeParse(p).success).toBe(true);
      expect(p["spec"]).toMatchObject({
        password: { secretKeyRef: { name: LAB_PASSWORD_SECRET.name, key: LAB_PASSWORD_SECRET.key } },
        bfd: true,
      });
      expect(JSON.stringify(p)).not.toContain('"pw"');
    }
    for (const p of fabricObjects(plan, { routeReflectors: 0, asnPerNode: false }).slice(1)) {
      expect(p["spec"]).not.toHaveProperty("password");
      expect(p["spec"]).not.toHaveProperty("bfd");
    }
    expect(LAB_PASSWORD_SECRET.namespace).toBe("kube-system");
  });
  it("route reflectors turn the mesh off", () => {
    const [cfg] = fabricObjects(plan, { routeReflectors: 2, asnPerNode: false });
    expect((cfg?.["spec"] as { nodeToNodeMeshEnabled: boolean }).nodeToNodeMeshEnabled).toBe(false);
  });
  it("one BGPPeer per node and family, to the ToR's address on that node's link", () => {
    const peers = fabricObjects(plan, { routeReflectors: 0, asnPerNode: false }).slice(1);
    expect(
      peers.map((p) => [(p["spec"] as { node: string }).node, (p["spec"] as { peerIP: string }).peerIP]),
    ).toEqual(
      plan.nodes.flatMap((n) => [
        [n.name, n.torAddress4],
        [n.name, n.torAddress6],
      ]),
    );
  });
  it.each([
    ["addresses only", 0, false, 2, {}],
    [
      "the first N nodes reflect",
      2,
      false,
      2,
      { "trellis.dev/route-reflector-cluster-id": LAB_RR_CLUSTER_ID },
    ],
    ["--asn-per-node annotates the AS", 0, true, 3, { "trellis.dev/bgp-asn": String(plan.nodes[2]?.asn) }],
  ] as const)("node annotations: %s", (_n, rr, perNode, index, extra) => {
    const n = plan.nodes[index - 1]!;
    expect(nodeBgpAnnotations(n, { routeReflectors: rr, asnPerNode: perNode })).toEqual({
      "trellis.dev/bgp-ipv4-address": n.address4,
      "trellis.dev/bgp-ipv6-address": n.address6,
      ...extra,
    });
  });
});
