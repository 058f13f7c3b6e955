/**
 * The node conflists the lab writes into each node's CNI conf dir.
 *
 * `ptp`: the reference ptp + host-local plugins (a routed veth per pod, like
 * Trellis's own dataplane), one pod subnet per node, chained with portmap so
 * that prevResult chaining and runtimeConfig capabilities are exercised the
 * way a real runtime exercises them.
 * `trellis`: the conflist pinned in docs/architecture.md, with the node's agent socket.
 */
export type CniMode = "ptp" | "trellis";
export const CNI_MODES: readonly CniMode[] = ["ptp", "trellis"];
export const NETWORK_NAME = "k8s-pod-network";

export interface PtpConflistOptions {
  podCidr4: string;
  podCidr6?: string;
  /** host-local keeps its leases here, not in the shared /var/lib/cni/networks */
  ipamDataDir: string;
  mtu?: number;
}

/** containernetworking-plugins 1.1.x speak CNI up to 1.0.0. */
export const PTP_CNI_VERSION = "1.0.0";

export function ptpConflist(o: PtpConflistOptions): Record<string, unknown> {
  const ranges: { subnet: string }[][] = [[{ subnet: o.podCidr4 }]];
  const routes: { dst: string }[] = [{ dst: "0.0.0.0/0" }];
  if (o.podCidr6 !== undefined) {
    ranges.push([{ subnet: o.podCidr6 }]);
    routes.push({ dst: "::/0" });
  }
  return {
    cniVersion: PTP_CNI_VERSION,
    name: NETWORK_NAME,
    plugins: [
      {
        type: "ptp",
        // Pods talk pod-to-pod through the ToR without NAT, as under Trellis.
        ipMasq: false,
        mtu: o.mtu ?? 1500,
        ipam: { type: "host-local", ranges, routes, dataDir: o.ipamDataDir },
      },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}

/**
 * The pinned conflist. `cniVersion` is a parameter because the chained
 * portmap from containernetworking-plugins 1.1.x refuses a 1.1.0 config
 * ("incompatible CNI versions"): the lab passes PTP_CNI_VERSION.
 */
export function trellisConflist(agentSocket: string, cniVersion = "1.1.0"): Record<string, unknown> {
  return {
    cniVersion,
    name: NETWORK_NAME,
    plugins: [
      { type: "trellis", agentSocket, mtu: 1500, ipam: { type: "trellis-ipam" } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
}
