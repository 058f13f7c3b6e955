/**
 * `lab up --kubelet real --agent chart`: instead of a trellis-node process
 * per node, the Helm chart's DaemonSet runs the agent from the container
 * image (scripts/build-image), imported into every node's containerd like the
 * lab's other images. The lab's nodes share one filesystem, so the chart's
 * host paths are taken per node (`cni.perNodeRoot` = DIR/nodes: node-i's
 * conflist, shim and agent socket land in DIR/nodes/node-i/…, where its
 * containerd looks). Pure: the values. Edge: the image build and helm.
 */
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";
import type { LabLayout } from "../lab-layout.js";
import { NODE_RELAY_PORT } from "../kubeconfig.js";
import { PTP_CNI_VERSION } from "../conflist.js";
import { runCommand } from "../run-command.js";
import { AGENT_NAMESPACE } from "../controlplane/agent-identity.js";
import { controlPlanePaths } from "../controlplane/versions.js";
import { makeSharedMount } from "./mounts.js";

/** process: trellis-node started by the lab in each node (the default); chart: the chart's DaemonSet. */
export const AGENT_MODES = ["process", "chart"] as const;
export type AgentMode = (typeof AGENT_MODES)[number];
export const DEFAULT_AGENT: AgentMode = "process";

/** The image repository and the tag `lab up` builds and installs. */
export const LAB_AGENT_REPOSITORY = "localhost/trellis-node";
export const LAB_AGENT_TAG = "lab";
export const AGENT_RELEASE = "trellis";
/** Below DIR/nodes/node-i, in the chart's terms (host paths under cni.perNodeRoot). */
export const LAB_CHART_PATHS = { confDir: "/cni/net.d", binDir: "/cni/bin", agentSocketDir: "/run" } as const;

const buildImageScript = fileURLToPath(new URL("../../../scripts/build-image", import.meta.url));

export interface ChartAgentValuesInput {
  nodesDir: string;
  tag: string;
  passwordSecrets: readonly string[];
}

/**
 * The chart values of a lab install. The lab creates the pools (one per node,
 * lab-up.ts trellisPools) and the BGP fabric itself (bgp-fabric.ts), so the
 * chart creates neither; the conflist is the lab's (cniVersion 1.0.0 for the
 * chained Debian portmap, lab/README.md); the agent reaches the API server
 * through the node's relay on 127.0.0.1 (no Service address for the host's
 * own traffic before kube-proxy); the image is imported, never pulled.
 */
export function chartAgentValues(i: ChartAgentValuesInput): Record<string, unknown> {
  return {
    image: { repository: LAB_AGENT_REPOSITORY, tag: i.tag, pullPolicy: "Never" },
    ipPools: [],
    cni: {
      ...LAB_CHART_PATHS,
      cniVersion: PTP_CNI_VERSION,
      perNodeRoot: i.nodesDir,
      // containerd puts the pods' namespaces under each node's state dir
      // (containerd-config.ts netns_mounts_under_state_dir), all below DIR/nodes.
      netnsDir: i.nodesDir,
    },
    apiServer: { host: "127.0.0.1", port: NODE_RELAY_PORT },
    agent: { bgp: { passwordSecrets: [...i.passwordSecrets] } },
  };
}

/** The agent's image as an OCI archive under DIR/images (scripts/build-image --out); prints its own size and time. */
export async function buildAgentImage(
  L: LabLayout,
  tag = LAB_AGENT_TAG,
): Promise<{ archive: string; line: string }> {
  const archive = join(L.imagesDir, `trellis-node-${tag}.tar`);
  const r = await runCommand(
    buildImageScript,
    ["--tag", `${LAB_AGENT_REPOSITORY}:${tag}`, "--out", archive],
    {
      timeoutMs: 600_000,
    },
  );
  if (r.code !== 0) throw new Error(`scripts/build-image failed: ${(r.stderr || r.stdout).trim()}`);
  return { archive, line: r.stdout.trim() };
}

/**
 * DIR/nodes made a shared mount before any containerd starts: the chart
 * mounts it HostToContainer (cni.netnsDir), which containerd's CRI accepts
 * only from a shared or slave mount, and through which the pods' network
 * namespaces created later reach the agent.
 */
export function shareNodesDir(L: LabLayout): Promise<void> {
  mkdirSync(L.nodesDir, { recursive: true });
  return makeSharedMount(L.nodesDir);
}

/** helm install (or upgrade) of helm/trellis into kube-system with the lab's values. */
export async function installChartAgent(
  helm: string,
  L: LabLayout,
  values: Record<string, unknown>,
): Promise<void> {
  const file = L.chartValues;
  writeFileSync(file, JSON.stringify(values, null, 2) + "\n");
  const r = await runCommand(
    helm,
    [
      "upgrade",
      "--install",
      AGENT_RELEASE,
      controlPlanePaths.chartDir,
      "--namespace",
      AGENT_NAMESPACE,
      "--kubeconfig",
      L.kubeconfig,
      "--values",
      file,
    ],
    { timeoutMs: 120_000 },
  );
  if (r.code !== 0) throw new Error(`helm install ${AGENT_RELEASE}: ${(r.stderr || r.stdout).trim()}`);
}

/** The chart's agent container (helm/trellis templates/daemonset.yaml). */
export const CHART_AGENT_CONTAINER = "trellis-node";
/** Selects the DaemonSet's pods (the chart's selector labels). */
export const CHART_AGENT_SELECTOR = "app.kubernetes.io/name=trellis,app.kubernetes.io/component=trellis-node";

/** What `lab status` needs of a DaemonSet pod (a subset of core/v1 Pod). */
export interface ChartAgentPod {
  metadata?: { name?: string; namespace?: string; uid?: string; deletionTimestamp?: string };
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    containerStatuses?: {
      name: string;
      restartCount?: number;
      state?: { running?: object; waiting?: { reason?: string }; terminated?: { reason?: string } };
    }[];
  };
}

export interface ChartAgentVerdict {
  alive: boolean;
  ready: boolean;
  /** "ok", the agent's not-ready reason, or why it is not running */
  readyz: string;
  /** the DaemonSet's pod on the node, when there is one */
  pod?: string;
  /** the running container's log as the kubelet writes it (podLogsDir/NS_NAME_UID/CONTAINER/RESTARTS.log) */
  logFile?: string;
}

/**
 * A node's agent under `--agent chart`, from what the kubelet reports of the
 * DaemonSet's pod on that node and the agent's own /readyz (probed in the
 * node's namespace: the pod is hostNetwork). No pid file exists: the
 * kubelet owns the process. Alive means the agent container runs (the
 * kubelet restarts a crashed one, and then reports it waiting in
 * CrashLoopBackOff); ready means /readyz answered 200. `pods` undefined: the
 * API server did not answer, and /readyz alone decides (an answer needs a
 * live agent). Pure.
 */
export function chartAgentVerdict(
  node: string,
  pods: readonly ChartAgentPod[] | undefined,
  readiness: { ready: boolean; detail: string },
  podLogsDir: string,
): ChartAgentVerdict {
  if (pods === undefined)
    return {
      alive: readiness.ready,
      ready: readiness.ready,
      readyz: readiness.ready ? readiness.detail : `${readiness.detail} (and the API server did not answer)`,
    };
  // A pod being deleted (a rolling update) still runs until it is gone; prefer the one that is not.
  const mine = pods
    .filter((p) => p.spec?.nodeName === node)
    .sort(
      (a, b) =>
        Number(a.metadata?.deletionTimestamp !== undefined) -
        Number(b.metadata?.deletionTimestamp !== undefined),
    );
  const pod = mine[0];
  if (pod === undefined)
    return { alive: false, ready: false, readyz: `no pod of the trellis-node DaemonSet on ${node}` };
  const m = pod.metadata ?? {};
  const name = `${m.namespace ?? ""}/${m.name ?? ""}`;
  const c = pod.status?.containerStatuses?.find((s) => s.name === CHART_AGENT_CONTAINER);
  if (c?.state?.running === undefined) {
    const why =
      c === undefined
        ? `pod ${pod.status?.phase ?? "Pending"}, container not started`
        : c.state?.waiting !== undefined
          ? `waiting: ${c.state.waiting.reason ?? "?"}`
          : c.state?.terminated !== undefined
            ? `terminated: ${c.state.terminated.reason ?? "?"}`
            : "no state reported";
    return { alive: false, ready: false, readyz: `${name}: ${CHART_AGENT_CONTAINER} ${why}`, pod: name };
  }
  return {
    alive: true,
    ready: readiness.ready,
    readyz: readiness.detail,
    pod: name,
    logFile: join(
      podLogsDir,
      `${m.namespace ?? ""}_${m.name ?? ""}_${m.uid ?? ""}`,
      CHART_AGENT_CONTAINER,
      `${c.restartCount ?? 0}.log`,
    ),
  };
}
