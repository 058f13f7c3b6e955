import { describe, expect, it } from "@jest/globals";
import { ptpConflist, trellisConflist } from "../conflist.js";

describe("node conflists", () => {
  it("ptp: routed veth with host-local over the node's pod CIDRs, leases in the lab dir, chained with portmap", () => {
    expect(
      ptpConflist({ podCidr4: "10.244.1.0/24", podCidr6: "fd00:10:244:1::/64", ipamDataDir: "/lab/ipam" }),
    ).toEqual({
      cniVersion: "1.0.0",
      name: "k8s-pod-network",
      plugins: [
        {
          type: "ptp",
          ipMasq: false,
          mtu: 1500,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: "10.244.1.0/24" }], [{ subnet: "fd00:10:244:1::/64" }]],
            routes: [{ dst: "0.0.0.0/0" }, { dst: "::/0" }],
            dataDir: "/lab/ipam",
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    });
  });

  it("ptp: single-stack when no IPv6 CIDR is given", () => {
    const c = ptpConflist({ podCidr4: "10.244.2.0/24", ipamDataDir: "/d" }) as {
      plugins: { ipam?: { ranges: unknown[] } }[];
    };
    expect(c.plugins[0]?.ipam?.ranges).toEqual([[{ subnet: "10.244.2.0/24" }]]);
  });

  it("trellis: exactly the conflist pinned in docs/architecture.md, with the node's agent socket", () => {
    expect(JSON.stringify(trellisConflist("/var/run/trellis/cni.sock"))).toBe(
      '{"cniVersion":"1.1.0","name":"k8s-pod-network","plugins":[{"type":"trellis","agentSocket":"/var/run/trellis/cni.sock","mtu":1500,"ipam":{"type":"trellis-ipam"}},{"type":"portmap","capabilities":{"portMappings":true}}]}',
    );
  });
});
