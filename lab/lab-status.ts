/**
 * `trellisctl lab status`: the pinned shape of docs/architecture.md (dir, apiserver,
 * tor, nodes[]) plus health: processes alive, BIRD protocol states, Node Ready.
 */
import { existsSync } from "node:fs";
import { agentReadiness } from "./agent-health.js";
import { PodStateStore } from "./kubelet/pod-state.js";
import { birdProtocolNames } from "./bird-config.js";
import { bgpSessionState, parseBirdProtocols, type BirdProtocol } from "./bird-status.js";
import { LabApi, nodeReady, type NodeObject } from "./api-client.js";
import { isAlive, readPidFile } from "./daemon.js";
import { LabError } from "./lab-errors.js";
import { labLayout, type LabLayout } from "./lab-layout.js";
import { readLabState, type LabState } from "./lab-state.js";
import { resolveLabDir } from "./lab-dir.js";
import { runCommand } from "./run-command.js";
import { controlPlaneLayout } from "./controlplane/layout.js";
import { kubeProxyTable, KUBE_PROXY_TABLE } from "./kube-proxy.js";
import { AGENT_NAMESPACE } from "./controlplane/agent-identity.js";
import { CHART_AGENT_SELECTOR, chartAgentVerdict, type ChartAgentPod } from "./nodes/chart-agent.js";

export interface ProcessStatus {
  pid: number | null;
  alive: boolean;
  logFile: string;
}

export interface AgentStatus extends ProcessStatus {
  /** /readyz answered 200 (first full sync done and the CNI server up) */
  ready: boolean;
  /** "ok", the agent's not-ready reason, or why /readyz did not answer */
  readyz: string;
  /** --agent chart: the DaemonSet's pod on the node (pid is null: the kubelet owns the process) */
  pod?: string;
}

export interface BgpSessionStatus {
  protocol: string;
  neighbor: string;
  state: string;
  info: string;
}

export interface NodeStatus {
  name: string;
  netns: string;
  address: string;
  address6: string;
  torAddress: string;
  torAddress6: string;
  asn: number;
  podCIDRs: string[];
  agentSocket: string;
  cniConfDir: string;
  cniBinDir: string;
  kubeconfig: string;
  /** the node's main log: the agent's under --cni trellis, the kubelet stand-in's under ptp */
  logFile: string;
  /** "standin" (lab/kubelet/) or "real" (the kubelet beside containerd, lab/nodes/) */
  kubeletKind: "standin" | "real";
  kubelet: ProcessStatus;
  /** --kubelet real: the node's containerd */
  containerd?: ProcessStatus;
  relay: ProcessStatus;
  agent?: AgentStatus;
  /** kube-proxy (lab/kube-proxy.ts), when the lab runs it: alive, and its nftables table programmed */
  kubeProxy?: ProcessStatus & { table: boolean };
  ready: boolean;
  bgp: BgpSessionStatus[];
  /** pod sandboxes the kubelet stand-in holds on this node (real nodes: kubectl get pods) */
  pods: PodSandboxStatus[];
}

export interface PodSandboxStatus {
  pod: string;
  uid: string;
  netns: string;
  ips: string[];
  ports: number[];
}

export interface LabStatus {
  dir: string;
  prefix: string;
  phase: string;
  cni: string;
  healthy: boolean;
  problems: string[];
  apiserver: { url: string; kubeconfig: string; socket: string } & ProcessStatus;
  /** kube-scheduler beside the real control plane (lab/controlplane/scheduler.ts) */
  scheduler?: ProcessStatus;
  tor: {
    netns: string;
    address: string;
    asn: number;
    birdSocket: string;
    birdConfig: string;
    protocols: BirdProtocol[];
  } & ProcessStatus;
  nodes: NodeStatus[];
}

export function loadLab(dirArg: string): { L: LabLayout; state: LabState } {
  const dir = resolveLabDir(dirArg);
  const L = labLayout(dir);
  let state: LabState | undefined;
  try {
    state = readLabState(L.stateFile);
  } catch (e) {
    throw new LabError((e as Error).message);
  }
  if (state === undefined)
    throw new LabError(
      `no lab in ${dir} (no ${L.stateFile}); start one with: trellisctl lab up --dir ${dirArg}`,
      "not-found",
    );
  return { L, state };
}

function proc(pidFile: string, logFile: string): ProcessStatus {
  const pid = readPidFile(pidFile) ?? null;
  return { pid, alive: isAlive(pid ?? undefined), logFile };
}

export async function labStatus(dirArg: string): Promise<LabStatus> {
  const { L, state } = loadLab(dirArg);
  const problems: string[] = [];
  const api = {
    url: state.apiserverUrl ?? "",
    kubeconfig: L.kubeconfig,
    socket: L.apiserverSocket,
    ...proc(L.apiserverPid, L.apiserverLog),
  };
  if (!api.alive) problems.push("API server not running");
  const S = controlPlaneLayout(L.dir).scheduler;
  const scheduler = state.controlPlane === "real" ? proc(S.pid, S.log) : undefined;
  if (scheduler?.alive === false) problems.push("kube-scheduler not running");

  const bird = proc(L.birdPid, L.birdLog);
  let protocols: BirdProtocol[] = [];
  if (bird.alive) {
    const r = await runCommand("birdc", ["-s", L.birdSocket, "show", "protocols"], { timeoutMs: 3000 });
    if (r.code === 0) protocols = parseBirdProtocols(r.stdout);
    else problems.push(`birdc: ${r.stderr.trim() || r.stdout.trim()}`);
  } else problems.push("BIRD not running");

  let nodes: NodeObject[] = [];
  if (api.alive && api.url !== "") {
    try {
      nodes = (await new LabApi(api.url, 3000).listNodes()).items;
    } catch (e) {
      problems.push((e as Error).message);
    }
  }

  // Agent /readyz probes run side by side (each is a socat in the node netns).
  const chartAgents = state.agent === "chart";
  const daemonSetPods = chartAgents && api.alive ? await listChartAgentPods(api.url) : undefined;
  const agents = await Promise.all(
    state.plan.nodes.map(async (n): Promise<AgentStatus | undefined> => {
      const N = L.node(n.name);
      if (chartAgents) {
        // No pid file: the DaemonSet's pod, as the kubelet reports it, and its /readyz.
        const v = chartAgentVerdict(n.name, daemonSetPods, await agentReadiness(n.netns), N.podLogsDir);
        return {
          pid: null,
          alive: v.alive,
          logFile: v.logFile ?? N.podLogsDir,
          ready: v.ready,
          readyz: v.readyz,
          ...(v.pod !== undefined ? { pod: v.pod } : {}),
        };
      }
      if (state.cni !== "trellis" && !existsSync(N.agentPid)) return undefined;
      const p = proc(N.agentPid, N.agentLog);
      const r = p.alive ? await agentReadiness(n.netns) : { ready: false, detail: "not running" };
      return { ...p, ready: r.ready, readyz: r.detail };
    }),
  );

  const kubeProxies = await Promise.all(
    state.plan.nodes.map(async (n) => {
      const F = L.node(n.name).kubeProxy;
      if (!existsSync(F.pid)) return undefined;
      const p = proc(F.pid, F.log);
      return { ...p, table: p.alive && (await kubeProxyTable(n.netns)) };
    }),
  );

  const nodeStatuses: NodeStatus[] = state.plan.nodes.map((n, i) => {
    const N = L.node(n.name);
    const names = birdProtocolNames(n.index);
    const bgp = [
      { protocol: names.v4, neighbor: n.address4 },
      { protocol: names.v6, neighbor: n.address6 },
    ].map(({ protocol, neighbor }) => {
      const p = protocols.find((x) => x.name === protocol);
      return {
        protocol,
        neighbor,
        state: p !== undefined ? bgpSessionState(p) : "unknown",
        info: p?.info ?? "",
      };
    });
    const kubelet = proc(N.kubeletPid, N.kubeletLog);
    const relay = proc(N.relayPid, N.relayLog);
    const kubeletKind = state.kubelet ?? "standin";
    const containerd = kubeletKind === "real" ? proc(N.containerdPid, N.containerdLog) : undefined;
    const ready = nodeReady(nodes.find((x) => x.metadata?.name === n.name));
    if (!kubelet.alive) problems.push(`${n.name}: kubelet not running`);
    if (containerd !== undefined && !containerd.alive) problems.push(`${n.name}: containerd not running`);
    if (!relay.alive) problems.push(`${n.name}: API relay not running`);
    if (!ready) problems.push(`${n.name}: Node not Ready`);
    const s: NodeStatus = {
      name: n.name,
      netns: n.netns,
      address: n.address4,
      address6: n.address6,
      torAddress: n.torAddress4,
      torAddress6: n.torAddress6,
      asn: n.asn,
      podCIDRs: [n.podCidr4, n.podCidr6],
      agentSocket: N.agentSocket,
      cniConfDir: N.cniConfDir,
      cniBinDir: N.cniBinDir,
      kubeconfig: N.kubeconfig,
      logFile: state.cni !== "trellis" ? N.kubeletLog : (agents[i]?.logFile ?? N.agentLog),
      kubeletKind,
      kubelet,
      ...(containerd !== undefined ? { containerd } : {}),
      relay,
      ready,
      bgp,
      pods: readSandboxes(N.podsDir),
    };
    const agent = agents[i];
    if (agent !== undefined) {
      s.agent = agent;
      if (!agent.alive)
        problems.push(`${n.name}: trellis-node not running${chartAgents ? ` (${agent.readyz})` : ""}`);
      else if (!agent.ready) problems.push(`${n.name}: trellis-node not ready (${agent.readyz})`);
    }
    const kp = kubeProxies[i];
    if (kp !== undefined) {
      s.kubeProxy = kp;
      if (!kp.alive) problems.push(`${n.name}: kube-proxy not running`);
      else if (!kp.table) problems.push(`${n.name}: kube-proxy has no table ip ${KUBE_PROXY_TABLE}`);
    }
    return s;
  });

  if (state.phase !== "running")
    problems.unshift(`lab phase is "${state.phase}"${state.error !== undefined ? `: ${state.error}` : ""}`);
  return {
    dir: L.dir,
    prefix: state.prefix,
    phase: state.phase,
    cni: state.cni,
    healthy: problems.length === 0,
    problems,
    apiserver: api,
    ...(scheduler !== undefined ? { scheduler } : {}),
    tor: {
      netns: state.plan.tor.netns,
      address: state.plan.tor.routerId,
      asn: state.plan.tor.asn,
      birdSocket: L.birdSocket,
      birdConfig: L.birdConfig,
      protocols,
      ...bird,
    },
    nodes: nodeStatuses,
  };
}

/** The chart DaemonSet's pods (kube-system), or undefined when the API server does not answer. */
async function listChartAgentPods(url: string): Promise<ChartAgentPod[] | undefined> {
  try {
    const path = `/api/v1/namespaces/${AGENT_NAMESPACE}/pods?labelSelector=${encodeURIComponent(CHART_AGENT_SELECTOR)}`;
    return (await new LabApi(url, 3000).request<{ items: ChartAgentPod[] }>("GET", path)).items;
  } catch {
    return undefined;
  }
}

function readSandboxes(podsDir: string): PodSandboxStatus[] {
  if (!existsSync(podsDir)) return [];
  return new PodStateStore(podsDir)
    .all()
    .map((p) => ({ pod: `${p.namespace}/${p.name}`, uid: p.uid, netns: p.netns, ips: p.ips, ports: p.ports }))
    .sort((a, b) => a.pod.localeCompare(b.pod));
}
