/**
 * kube-proxy (upstream, nftables mode) in every lab node under the real
 * control plane: ClusterIP Services and NodePorts work as in a cluster, and
 * Trellis's policy meets Service traffic as Kubernetes requires.
 *
 * Why the policy sees the backend pod (after DNAT) and the real client: kube-proxy's
 * tables `ip kube-proxy` / `ip6 kube-proxy` DNAT in `prerouting` and
 * `output` at priority dstnat (-100), and masquerade (only what it marks:
 * traffic from outside clusterCIDR, hairpin) in `postrouting` at srcnat (100).
 * Trellis's `inet trellis` hooks only `forward` (policy/compiler/to-nft.ts),
 * which every pod-bound packet crosses after prerouting and before
 * postrouting: it sees the backend pod as destination and the client pod
 * (not an SNAT address) as source, on the client's node and on the backend's.
 * test/lab/services.test.ts proves it.
 *
 * Run with `nsenter --net=` (not `ip netns exec`, which remounts /sys),
 * identity the `system:kube-proxy` client certificate from the lab CA
 * (bound by the default ClusterRoleBinding system:node-proxier), node name
 * as hostnameOverride. Conntrack is left as it is (maxPerCore 0, every
 * timeout 0): nf_conntrack_max is host-wide and not kube-proxy's to change in
 * a lab; the timeouts are the kernel's defaults. Health and metrics listen on
 * loopback inside the node's namespace.
 *
 * Pure: the config, the argv, the cluster CIDRs. Edges: startKubeProxy, kubeProxyTable.
 */
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import {
  contains,
  firstAddress,
  formatPrefix,
  parsePrefix,
  prefixOf,
  type Family,
  type Prefix,
} from "../net/address.js";
import type { LabPlan, NodePlan } from "./address-plan.js";
import { isAlive, readPidFile, startDaemon, tail } from "./daemon.js";
import { controlPlaneLayout } from "./controlplane/layout.js";
import { KUBE_PROXY, pairKubeconfig } from "./controlplane/pki.js";
import { NODE_API_TLS_URL } from "./kubeconfig.js";
import { type ComponentFiles, type LabLayout } from "./lab-layout.js";
import { argvInNetns, commandInNetns } from "./netns.js";
import { runCommand } from "./run-command.js";

/** Inside the node's namespace: kube-proxy's defaults, on loopback. */
export const KUBE_PROXY_HEALTHZ = "127.0.0.1:10256";
export const KUBE_PROXY_METRICS = "127.0.0.1:10249";

/** kube-proxy's nftables tables (pkg/proxy/nftables: one per family, family ip and ip6). */
export const KUBE_PROXY_TABLE = "kube-proxy";

/**
 * The shortest prefix of each family that covers every given CIDR (the
 * nodes' pod CIDRs). kube-proxy takes at most one CIDR per family
 * (KubeProxyConfiguration.clusterCIDR: "a comma-separated dual-stack pair").
 * Throws on a CIDR that does not parse.
 */
export function clusterCidrs(cidrs: readonly string[]): string[] {
  const byFamily = new Map<Family, Prefix[]>();
  for (const c of cidrs) {
    const p = parsePrefix(c);
    if (typeof p === "string") throw new RangeError(`pod CIDR ${JSON.stringify(c)}: ${p}`);
    byFamily.set(p.family, [...(byFamily.get(p.family) ?? []), p]);
  }
  const out: string[] = [];
  for (const family of [4, 6] as const) {
    const ps = byFamily.get(family);
    const first = ps?.[0];
    if (ps === undefined || first === undefined) continue;
    let len = Math.min(...ps.map((p) => p.length));
    let cover = prefixOf(firstAddress(first), len);
    while (!ps.every((p) => contains(cover, p))) cover = prefixOf(firstAddress(first), --len);
    out.push(formatPrefix(cover));
  }
  return out;
}

export interface KubeProxyConfigInput {
  nodeName: string;
  kubeconfig: string;
  /** clusterCidrs() of the lab's pod pools */
  clusterCidrs: readonly string[];
}

/** KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) for one lab node. Pure. */
export function renderKubeProxyConfig(i: KubeProxyConfigInput): string {
  if (i.clusterCidrs.length === 0) throw new RangeError("kube-proxy needs at least one cluster CIDR");
  return stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "nftables",
    hostnameOverride: i.nodeName,
    clientConnection: { kubeconfig: i.kubeconfig },
    // Traffic from a pod keeps its source (the policy must see the real
    // client); only traffic from outside the pods is masqueraded.
    detectLocalMode: "ClusterCIDR",
    clusterCIDR: i.clusterCidrs.join(","),
    // NodePorts on the node's primary addresses (the Node's InternalIPs: its uplink).
    nodePortAddresses: ["primary"],
    healthzBindAddress: KUBE_PROXY_HEALTHZ,
    metricsBindAddress: KUBE_PROXY_METRICS,
    // Leave the machine's OOM order alone (the default -999 would make a lab process outlive everything).
    oomScoreAdj: 0,
    conntrack: {
      // 0: leave nf_conntrack_max as it is (host-wide; not the lab's to raise).
      maxPerCore: 0,
      min: 0,
      // 0: leave each timeout as it is.
      tcpEstablishedTimeout: "0s",
      tcpCloseWaitTimeout: "0s",
      udpTimeout: "0s",
      udpStreamTimeout: "0s",
    },
  });
}

export function kubeProxyArgv(binary: string, netns: string, config: string): string[] {
  return argvInNetns(netns, [binary, `--config=${config}`, "--v=1"]);
}

export interface StartKubeProxyInput {
  binary: string;
  node: NodePlan;
  /** NodeLayout.kubeProxy of the node */
  files: ComponentFiles;
  /** its kubeconfig, rendered (the lab CA, the KUBE_PROXY certificate, the node's API relay) */
  kubeconfig: string;
  clusterCidrs: readonly string[];
}

/** Writes its config and kubeconfig under the node dir and starts it detached in the node's namespace. */
export function startKubeProxy(i: StartKubeProxyInput): number {
  const F = i.files;
  writeFileSync(F.kubeconfig, i.kubeconfig, { mode: 0o600 });
  writeFileSync(
    F.config,
    renderKubeProxyConfig({ nodeName: i.node.name, kubeconfig: F.kubeconfig, clusterCidrs: i.clusterCidrs }),
  );
  return startDaemon({
    argv: kubeProxyArgv(i.binary, i.node.netns, F.config),
    pidFile: F.pid,
    logFile: F.log,
  });
}

/**
 * Whether kube-proxy has programmed its IPv4 table in the node's namespace
 * (it creates it on its first sync): lab up waits for it, lab status reports it.
 */
export async function kubeProxyTable(netns: string): Promise<boolean> {
  const r = await runCommand(...commandInNetns(netns, ["nft", "list", "table", "ip", KUBE_PROXY_TABLE]), {
    timeoutMs: 5000,
  });
  return r.code === 0;
}

/**
 * `lab up`'s hook: kube-proxy in node `n`, through the node's API relay
 * (kube-apiserver's TLS on 127.0.0.1:6443) with the KUBE_PROXY certificate
 * the control plane issued, clusterCIDR covering every node's pod CIDRs.
 */
export function startLabKubeProxy(L: LabLayout, plan: LabPlan, n: NodePlan, binary: string): number {
  const C = controlPlaneLayout(L.dir);
  const kubeconfig = pairKubeconfig(C, NODE_API_TLS_URL, KUBE_PROXY.name, `kube-proxy-${n.name}`);
  return startKubeProxy({
    binary,
    node: n,
    files: L.node(n.name).kubeProxy,
    kubeconfig,
    clusterCidrs: clusterCidrs(plan.nodes.flatMap((x) => [x.podCidr4, x.podCidr6])),
  });
}

/** Until every node's kube-proxy has programmed its table; fails naming the node and its log. Bounded. */
export async function waitKubeProxies(L: LabLayout, plan: LabPlan, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = plan.nodes;
  while (pending.length > 0) {
    const F = (n: NodePlan): ComponentFiles => L.node(n.name).kubeProxy;
    const dead = pending.find((n) => !isAlive(readPidFile(F(n).pid)));
    if (dead !== undefined) throw new Error(`kube-proxy on ${dead.name} exited: ${tail(F(dead).log)}`);
    const present = await Promise.all(pending.map((n) => kubeProxyTable(n.netns)));
    pending = pending.filter((_, i) => present[i] !== true);
    if (pending.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `kube-proxy has not programmed table ip ${KUBE_PROXY_TABLE} after ${Math.round(timeoutMs / 1000)} s on ` +
          pending.map((n) => `${n.name} (see ${F(n).log})`).join(", "),
      );
    await sleep(250);
  }
}
