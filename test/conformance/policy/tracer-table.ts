/**
 * The compiled rules' verdict for every pod pair, computed by the packet
 * tracer instead of real probes: the packet crosses the source's node (from
 * its veth to the destination's veth or the uplink), then, if the
 * destination is remote, the destination's node (uplink to veth), over
 * the pods' addresses of the given family.
 */
import type { Cluster } from "../../../policy/model/cluster.js";
import { compile } from "../../../policy/compiler/compile.js";
import { trace } from "../../../policy/compiler/tracer.js";
import { podVethName } from "../../../net/veth-name.js";
import type { NftTable } from "../../../policy/compiler/nft-table.js";
import type { Family } from "../../../policy/model/select.js";
import type { ProbeProtocol } from "./netns-cluster.js";

const UPLINK = "uplink0";

export function tracedTable(
  c: Cluster,
  port: number,
  protocol: ProbeProtocol,
  family: Family = "ipv4",
): Map<string, boolean> {
  const tables = new Map<string, NftTable>();
  const tableOf = (node: string) => {
    let t = tables.get(node);
    if (!t) {
      t = compile(c, node).table;
      tables.set(node, t);
    }
    return t;
  };
  const out = new Map<string, boolean>();
  const proto =
    protocol === "ICMP"
      ? family === "ipv4"
        ? ("icmp" as const)
        : ("ipv6-icmp" as const)
      : (protocol.toLowerCase() as "tcp" | "udp" | "sctp");
  const addr = (p: Cluster["pods"][number]) => (family === "ipv4" ? p.ipv4 : p.ipv6);
  for (const f of c.pods) {
    for (const t of c.pods) {
      const saddr = addr(f);
      const daddr = addr(t);
      if (f === t || !f.node || !t.node || !saddr || !daddr) continue;
      const src = podVethName(f.namespace, f.name);
      const dst = podVethName(t.namespace, t.name);
      const base = { saddr, daddr, protocol: proto, dport: port, ct: "new" as const };
      let ok =
        trace(tableOf(f.node), { ...base, iifname: src, oifname: f.node === t.node ? dst : UPLINK })
          .verdict === "accept";
      if (ok && f.node !== t.node)
        ok = trace(tableOf(t.node), { ...base, iifname: UPLINK, oifname: dst }).verdict === "accept";
      out.set(`${f.key}->${t.key}`, ok);
    }
  }
  return out;
}
