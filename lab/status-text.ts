/** The human-readable (`-o table`) form of `lab status`. Pure. */
import { formatTable } from "../cli/output.js";
import type { LabStatus } from "./lab-status.js";

const alive = (a: boolean): string => (a ? "running" : "dead");

export function formatLabStatus(s: LabStatus): string {
  const bgp = s.tor.protocols.filter((p) => p.proto === "BGP");
  const head = [
    `Lab:        ${s.dir} (prefix ${s.prefix}, cni ${s.cni}, ${s.healthy ? "healthy" : "UNHEALTHY"})`,
    `API server: ${s.apiserver.url} (${alive(s.apiserver.alive)}, pid ${s.apiserver.pid ?? "-"})  kubeconfig ${s.apiserver.kubeconfig}`,
    `ToR:        netns ${s.tor.netns}, AS ${s.tor.asn}, router id ${s.tor.address}, BIRD ${alive(s.tor.alive)} (${s.tor.birdSocket})`,
    "",
  ].join("\n");
  const rows = s.nodes.map((n) => [
    n.name,
    n.netns,
    n.address,
    n.podCIDRs.join(","),
    n.ready ? "Ready" : "NotReady",
    n.kubeletKind === "real" ? "-" : n.pods.length,
    n.containerd === undefined
      ? alive(n.kubelet.alive)
      : `${alive(n.kubelet.alive)} (real), containerd ${alive(n.containerd.alive)}`,
    n.agent === undefined ? "-" : !n.agent.alive ? "dead" : n.agent.ready ? "ready" : "not ready",
    n.bgp.map((b) => b.state).join("/"),
    n.logFile,
  ]);
  const table = formatTable(
    ["node", "netns", "address", "pod cidrs", "status", "pods", "kubelet", "agent", "bgp v4/v6", "log"],
    rows,
  );
  const problems =
    s.problems.length > 0 ? `\nProblems:\n${s.problems.map((p) => `  - ${p}`).join("\n")}\n` : "";
  const sessions =
    bgp.length > 0
      ? `\nBGP sessions on the ToR: ${bgp.filter((p) => p.info.startsWith("Established")).length}/${bgp.length} established\n`
      : "";
  return head + "\n" + table + sessions + problems;
}
