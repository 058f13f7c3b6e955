/**
 * kube-scheduler beside the real control plane (root network namespace,
 * loopback): pods created without spec.nodeName (a Deployment's, a
 * DaemonSet's, a bare pod's) are bound to a node by the upstream scheduler,
 * and the node's kubelet (the stand-in or a real one) starts them.
 *
 * Its identity is its own client certificate, CN `system:kube-scheduler`
 * from the lab CA: the default ClusterRoleBindings `system:kube-scheduler`
 * and `system:volume-scheduler` grant it what it needs, as in a kubeadm
 * cluster. Leader election is off (one scheduler, a lab); its health port is
 * not served (nothing in the lab reads it, and a port is one more collision).
 *
 * The config renderers are pure (unit tests pin them); startScheduler is the
 * edge.
 */
import { writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { startDaemon } from "../daemon.js";
import { ApiError, nodeReady, type LabApi, type NodeObject } from "../api-client.js";
import type { ComponentFiles } from "../lab-layout.js";
import { KUBE_SCHEDULER, pairKubeconfig } from "./pki.js";
import type { ControlPlaneLayout } from "./layout.js";
import { requireNodeBinary } from "./node-binaries.js";

/**
 * KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1): the default
 * profile, its kubeconfig, no leader election. The flag `--kubeconfig` is
 * deprecated in favour of this file.
 */
export function renderSchedulerConfig(kubeconfig: string): string {
  return stringify({
    apiVersion: "kubescheduler.config.k8s.io/v1",
    kind: "KubeSchedulerConfiguration",
    clientConnection: { kubeconfig },
    leaderElection: { leaderElect: false },
  });
}

export function schedulerArgv(binary: string, S: ComponentFiles): string[] {
  return [
    binary,
    `--config=${S.config}`,
    // No HTTPS health/metrics endpoint: nothing in the lab reads it.
    "--secure-port=0",
    "--v=1",
  ];
}

/**
 * Writes kube-scheduler's kubeconfig (kube-apiserver at `server`, the lab
 * CA, the KUBE_SCHEDULER client certificate: after makePki) and its config
 * naming that kubeconfig, under DIR/controlplane/. Returns its argv.
 */
export function writeSchedulerFiles(C: ControlPlaneLayout, binary: string, server: string): string[] {
  const S = C.scheduler;
  writeFileSync(S.kubeconfig, pairKubeconfig(C, server, KUBE_SCHEDULER.name, "kube-scheduler"), {
    mode: 0o600,
  });
  writeFileSync(S.config, renderSchedulerConfig(S.kubeconfig));
  return schedulerArgv(binary, S);
}

/** Writes its files and starts kube-scheduler, detached, pid and log under DIR/controlplane/. Returns the pid. */
export function startScheduler(C: ControlPlaneLayout, server: string): number {
  const argv = writeSchedulerFiles(C, requireNodeBinary("kubeScheduler"), server);
  return startDaemon({ argv, pidFile: C.scheduler.pid, logFile: C.scheduler.log });
}

/**
 * Added to every new Node by the TaintNodesByCondition admission plugin (on
 * by default) and removed by kube-controller-manager's node-lifecycle
 * controller once the node is Ready; until then the scheduler places no pod
 * there (TaintToleration filter).
 */
export const NOT_READY_TAINT = "node.kubernetes.io/not-ready";

export interface Taint {
  key: string;
  effect: string;
  value?: string;
}

/** The taints without the not-ready NoSchedule one (what the lifecycle controller does for a Ready node). Pure. */
export function withoutNotReadyTaint(taints: readonly Taint[]): Taint[] {
  return taints.filter((t) => !(t.key === NOT_READY_TAINT && t.effect === "NoSchedule"));
}

/**
 * The lab does not run the node-lifecycle controller (args.ts CONTROLLERS
 * says why), so `lab up` removes the not-ready taint from each Ready node
 * itself, as that controller would. Read-modify-write, retried on 409.
 */
export async function untaintReadyNodes(api: LabApi, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const path = `/api/v1/nodes/${encodeURIComponent(name)}`;
    for (let attempt = 1; ; attempt++) {
      const node = await api.request<NodeObject & { spec?: { taints?: Taint[] } }>("GET", path);
      if (!nodeReady(node))
        throw new Error(`node ${name} is not Ready: not removing its ${NOT_READY_TAINT} taint`);
      const taints = node.spec?.taints ?? [];
      const kept = withoutNotReadyTaint(taints);
      if (kept.length === taints.length) break;
      try {
        await api.request("PUT", path, { ...node, spec: { ...node.spec, taints: kept } });
        break;
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 409) || attempt >= 5) throw e;
      }
    }
  }
}
