/**
 * `trellisctl lab up`: builds the lab in order (state file, control plane
 * [+ the chart's agent RBAC], ToR, nodes, BIRD, per-node relay + kubelet
 * [+ agent]) and waits until every Node is Ready and, under --cni trellis,
 * every agent answers /readyz. Everything it starts is detached and recorded
 * under the lab dir; a failure leaves what was built for `lab down` (and the
 * logs for you). Also the lab's API server outage helpers (stopLabApiserver,
 * restartLabApiserver), for either control plane.
 */
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import {
  planLab,
  type LabPlan,
  type NodePlan,
  LINK4_PREFIX_LEN,
  LINK6_PREFIX_LEN,
  MAX_NODES,
} from "./address-plan.js";
import { AGENT_HEALTH_ADDRESS, agentReadiness } from "./agent-health.js";
import { ApiError, LabApi, nodeReady } from "./api-client.js";
import { renderBirdConfig } from "./bird-config.js";
import { PTP_CNI_VERSION, ptpConflist, trellisConflist, type CniMode } from "./conflist.js";
import { commandLineMentions, isAlive, readPidFile, startDaemon, tail } from "./daemon.js";
import { LabError } from "./lab-errors.js";
import { labLayout, UNIX_PATH_MAX, type LabLayout, type NodeLayout } from "./lab-layout.js";
import { labPrefix } from "./lab-names.js";
import { readLabState, writeLabState, type LabState } from "./lab-state.js";
import { NODE_API_TLS_URL, NODE_API_URL, renderKubeconfig } from "./kubeconfig.js";
import { addNetns, argvInNetns, ipIn, listNetns, sysctlIn } from "./netns.js";
import { repoPaths } from "./repo-paths.js";
import { resolveLabDir } from "./lab-dir.js";
import { controlPlaneLayout } from "./controlplane/layout.js";
import { runCommand } from "./run-command.js";
import { LAB_PASSWORD_SECRET, nodeBgpAnnotations, writeFabric, type FabricOptions } from "./bgp-fabric.js";
import {
  labKubeletKubeconfig,
  requireBinaries,
  restartRealApiserver,
  startRealControlPlane,
  tokenKubeconfig,
  type ControlPlaneMode,
} from "./controlplane/control-plane.js";
import { applyChartRbac, requestToken, type ServiceAccountRef } from "./controlplane/agent-identity.js";
import { makeNodeCredentials, requireNodeBinaries } from "./controlplane/control-plane.js";
import type { NodeBinaries } from "./controlplane/versions.js";
import {
  buildLabImages,
  labDirSnapshotter,
  startContainerd,
  startRealKubelet,
  type LabImages,
} from "./nodes/real-node.js";
import type { Snapshotter } from "./nodes/containerd-config.js";
import { requireNodeBinary } from "./controlplane/node-binaries.js";
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from "../agent/bin/node-flags.js";
import { untaintReadyNodes } from "./controlplane/scheduler.js";
import { startLabKubeProxy, waitKubeProxies } from "./kube-proxy.js";
import {
  buildAgentImage,
  chartAgentValues,
  DEFAULT_AGENT,
  installChartAgent,
  LAB_AGENT_TAG,
  shareNodesDir,
  type AgentMode,
} from "./nodes/chart-agent.js";

/** `lab up` without --control-plane. */
export const DEFAULT_CONTROL_PLANE: ControlPlaneMode = "real";

/**
 * What runs the pods on a node: `real` (containerd and the upstream kubelet,
 * lab/nodes/; the default under the real control plane) or `standin`
 * (lab/kubelet/, the CNI plugin called as a runtime would: starts in a
 * second, a pod in milliseconds, no node build; the default under
 * `--control-plane embedded`, which real nodes cannot use).
 */
export const KUBELET_MODES = ["standin", "real"] as const;
export type KubeletMode = (typeof KUBELET_MODES)[number];
export const DEFAULT_KUBELET: KubeletMode = "real";

export interface UpOptions {
  dir: string;
  nodes: number;
  cni: CniMode;
  torAsn?: number;
  nodeAsn?: number;
  asnPerNode?: boolean;
  /** --route-reflectors N: the first N nodes reflect, the node mesh is off (BGP fabric, lab/bgp-fabric.ts) */
  routeReflectors?: number;
  /** --bgp-password PW: TCP MD5 and BFD on the ToR sessions (a Secret, BGPPeers, BIRD; lab/bgp-fabric.ts) */
  bgpPassword?: string;
  /** real (etcd + kube-apiserver + kube-controller-manager, the default) or embedded (lab/apiserver) */
  controlPlane?: ControlPlaneMode;
  /** real (containerd + kubelet per node; the default, needs the real control plane) or standin (the default under the embedded control plane) */
  kubelet?: KubeletMode;
  /** process (the default: trellis-node started by the lab) or chart (the chart's DaemonSet from the image; needs --kubelet real) */
  agent?: AgentMode;
  /**
   * kube-proxy (nftables mode) in every node (lab/kube-proxy.ts). Default:
   * on with the real control plane; false (`--no-kube-proxy`) leaves it out.
   * The embedded control plane runs none.
   */
  kubeProxy?: boolean;
  /** progress lines (to stderr in the CLI) */
  progress?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface UpResult {
  dir: string;
  prefix: string;
  apiserverUrl: string;
  kubeconfig: string;
  nodes: string[];
}

export async function labUp(o: UpOptions): Promise<UpResult> {
  const say = o.progress ?? (() => undefined);
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > MAX_NODES) {
    throw new LabError(`--nodes must be an integer from 1 to ${MAX_NODES}`, "usage");
  }
  const rr = o.routeReflectors ?? 0;
  if (!Number.isInteger(rr) || rr < 0 || rr > o.nodes) {
    throw new LabError(`--route-reflectors must be an integer from 0 to --nodes (${o.nodes})`, "usage");
  }
  const pw = o.bgpPassword;
  if (pw !== undefined && (pw === "" || Buffer.byteLength(pw, "utf8") > 80 || /["\\\n]/.test(pw))) {
    throw new LabError('--bgp-password must be 1..80 bytes without ", \\ or a newline', "usage");
  }
  if (pw !== undefined && o.cni !== "trellis")
    throw new LabError("--bgp-password needs --cni trellis", "usage");
  const fabric: FabricOptions = {
    routeReflectors: rr,
    asnPerNode: o.asnPerNode === true,
    ...(pw !== undefined ? { password: pw } : {}),
  };
  try {
    mkdirSync(o.dir, { recursive: true });
  } catch (e) {
    // e.g. EEXIST (a file) or ENOTDIR/EACCES: the user's --dir, before anything is created.
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new LabError(`--dir ${o.dir}: cannot use it as the lab directory (${code})`, "usage");
  }
  const dir = resolveLabDir(o.dir);
  const L = labLayout(dir);
  const real = (o.controlPlane ?? DEFAULT_CONTROL_PLANE) === "real";
  // Real nodes need the real control plane: the embedded one keeps the stand-in unless told otherwise.
  const realNodes = (o.kubelet ?? (real ? DEFAULT_KUBELET : "standin")) === "real";
  if (realNodes && !real)
    throw new LabError(
      "--kubelet real needs --control-plane real (node identities, the Node authorizer, exec and logs through the API server)",
      "usage",
    );
  const chartAgent = (o.agent ?? DEFAULT_AGENT) === "chart";
  if (chartAgent && !(realNodes && o.cni === "trellis"))
    throw new LabError("--agent chart needs --kubelet real and --cni trellis", "usage");
  checkSocketPaths(L, o.nodes, realNodes);
  const prefix = labPrefix(dir);
  await refuseIfPresent(L, prefix);
  // Before anything is created: a missing build is a clear refusal, not a half lab.
  const bin = real ? requireBinaries() : undefined;
  const nodeBin = realNodes ? requireNodeBinaries() : undefined;
  if (o.kubeProxy === true && !real)
    throw new LabError("kube-proxy needs the real control plane (--control-plane real)", "usage");
  const kubeProxy = real && o.kubeProxy !== false ? requireNodeBinary("kubeProxy") : undefined;
  if (real) requireNodeBinary("kubeScheduler");
  const needed: [string, string][] = real ? [] : [["the lab API server", repoPaths.apiserverMain]];
  if (o.cni === "trellis") {
    needed.push(["trellis-node", repoPaths.agentMain], ["the CNI shim", repoPaths.shim]);
  }
  for (const [what, file] of needed) {
    if (!existsSync(file)) {
      throw new LabError(`${what} is not built (${file} is missing): run npm run build`);
    }
  }

  let plan: LabPlan;
  try {
    plan = planLab({ prefix, nodes: o.nodes, ...asns(o), asnPerNode: o.asnPerNode === true });
  } catch (e) {
    throw new LabError((e as Error).message, "usage");
  }
  const state: LabState = { version: 1, dir, prefix, cni: o.cni, phase: "starting", plan };
  state.controlPlane = real ? "real" : "embedded";
  state.kubelet = realNodes ? "real" : "standin";
  if (chartAgent) state.agent = "chart";
  writeLabState(L.stateFile, state);
  try {
    say(`lab ${dir} (prefix ${prefix}): starting the API server`);
    // The real control plane (lab/controlplane/) writes DIR/kubeconfig (TLS,
    // admin) and serves plain HTTP to the lab's own tools at `url`.
    const url = real
      ? (await startRealControlPlane(L, say, { build: false, realNodes })).relayUrl
      : await startApiserver(L);
    state.apiserverUrl = url;
    writeLabState(L.stateFile, state);
    if (!real) writeFileSync(L.kubeconfig, renderKubeconfig(url));
    // The agents' identity: the chart's ServiceAccount and RBAC, as rendered.
    let agentSa: ServiceAccountRef | undefined;
    // Under --agent chart, helm install brings the RBAC with the DaemonSet.
    if (bin !== undefined && o.cni === "trellis" && !chartAgent) {
      say("applying the chart's RBAC (helm template helm/trellis) for trellis-node");
      agentSa = await applyChartRbac(bin.helm, L.kubeconfig, {
        ...(pw !== undefined ? { passwordSecrets: [LAB_PASSWORD_SECRET.name] } : {}),
      });
    }

    say(`building the ToR ${plan.tor.netns} and ${plan.nodes.length} node namespaces`);
    await buildTor(plan);
    for (const n of plan.nodes) await buildNode(plan, n, o.cni);
    await startBird(L, plan, fabric.password);

    let runtime: RealRuntime | undefined;
    if (nodeBin !== undefined) {
      say("real nodes: building the lab images (scripts/build-lab-images)");
      const images = await buildLabImages(L);
      if (chartAgent) {
        say("--agent chart: building the agent image (scripts/build-image)");
        const built = await buildAgentImage(L);
        say(built.line);
        images.archives.push(built.archive);
        await shareNodesDir(L);
      }
      const s = await labDirSnapshotter(dir);
      say(`real nodes: containerd snapshotter ${s.snapshotter} (${s.why})`);
      runtime = { bin: nodeBin, images, snapshotter: s.snapshotter };
    }

    const api = new LabApi(url);
    const credentials: NodeCredentials = {
      L,
      api,
      ...(agentSa !== undefined ? { agentSa } : {}),
      real,
      ...(runtime !== undefined ? { runtime } : {}),
    };
    if (o.cni === "trellis") await writeFabric(api, plan, fabric);
    for (const n of plan.nodes) {
      say(`node ${n.name}: ${n.address4}, pods ${n.podCidr4} ${n.podCidr6}`);
      await startNode(L, plan, n, o.cni, api, fabric, credentials, chartAgent);
      if (kubeProxy !== undefined) startLabKubeProxy(L, plan, n, kubeProxy);
    }
    if (chartAgent && bin !== undefined) {
      // The DaemonSet tolerates the not-ready taint: the nodes become Ready once its install-cni wrote the conflist.
      say("--agent chart: helm install helm/trellis (the DaemonSet runs trellis-node from the image)");
      await installChartAgent(
        bin.helm,
        L,
        chartAgentValues({
          nodesDir: L.nodesDir,
          tag: LAB_AGENT_TAG,
          passwordSecrets: pw !== undefined ? [LAB_PASSWORD_SECRET.name] : [],
        }),
      );
    }
    await waitNodesReady(api, plan, o.readyTimeoutMs ?? (chartAgent ? 180_000 : 60_000));
    // kube-scheduler places pods only on untainted nodes (controlplane/scheduler.ts).
    if (real)
      await untaintReadyNodes(
        api,
        plan.nodes.map((n) => n.name),
      );
    if (o.cni === "trellis") {
      say("waiting for trellis-node /readyz on every node");
      await waitAgentsReady(L, plan, o.readyTimeoutMs ?? 60_000, chartAgent);
    }
    if (kubeProxy !== undefined) {
      say("waiting for kube-proxy's nftables table on every node");
      await waitKubeProxies(L, plan, o.readyTimeoutMs ?? 60_000);
    }
    state.phase = "running";
    writeLabState(L.stateFile, state);
    return {
      dir,
      prefix,
      apiserverUrl: url,
      kubeconfig: L.kubeconfig,
      nodes: plan.nodes.map((n) => n.name),
    };
  } catch (e) {
    state.phase = "failed";
    state.error = (e as Error).message;
    writeLabState(L.stateFile, state);
    throw new LabError(
      `lab up failed: ${(e as Error).message}\n(logs are under ${dir}; remove the rest with: trellisctl lab down --dir ${dir})`,
    );
  }
}

function asns(o: UpOptions): { torAsn?: number; nodeAsn?: number } {
  return {
    ...(o.torAsn !== undefined ? { torAsn: o.torAsn } : {}),
    ...(o.nodeAsn !== undefined ? { nodeAsn: o.nodeAsn } : {}),
  };
}

function checkSocketPaths(L: LabLayout, nodes: number, realNodes: boolean): void {
  const last = L.node(`node-${nodes}`);
  const sockets = [L.apiserverSocket, L.birdSocket, last.agentSocket];
  // containerd's ttrpc socket is its gRPC socket + ".ttrpc"; kube-apiserver's egress proxy sits under controlplane/.
  if (realNodes) sockets.push(`${last.containerdSocket}.ttrpc`, controlPlaneLayout(L.dir).egressSocket);
  const longest = sockets.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a));
  if (Buffer.byteLength(longest) > UNIX_PATH_MAX) {
    throw new LabError(
      `lab dir ${L.dir} is too long: the socket ${longest} exceeds the ${UNIX_PATH_MAX}-byte unix socket path limit`,
      "usage",
    );
  }
}

/** `up` on a running (or half-torn) lab refuses instead of corrupting it. */
async function refuseIfPresent(L: LabLayout, prefix: string): Promise<void> {
  let state: LabState | undefined;
  try {
    state = readLabState(L.stateFile);
  } catch {
    throw new LabError(
      `${L.stateFile} exists but is unreadable; run: trellisctl lab down --dir ${L.dir}`,
      "already-running",
    );
  }
  const namespaces = (await listNetns()).filter((n) => n.startsWith(prefix));
  const apiAlive = isAlive(readPidFile(L.apiserverPid));
  if (state !== undefined && state.phase === "running" && apiAlive) {
    throw new LabError(
      `a lab is already running in ${L.dir} (${state.plan.nodes.length} nodes, API server ${state.apiserverUrl ?? "?"}); ` +
        `use it, or remove it first with: trellisctl lab down --dir ${L.dir}`,
      "already-running",
    );
  }
  if (state !== undefined || namespaces.length > 0 || apiAlive) {
    const what =
      state !== undefined
        ? `a lab in phase "${state.phase}"`
        : `${namespaces.length} namespaces named ${prefix}*`;
    throw new LabError(
      `${L.dir} holds ${what} that is not a healthy running lab; remove it first with: trellisctl lab down --dir ${L.dir}`,
      "already-running",
    );
  }
}

/**
 * Stops the lab's API server, whichever control plane runs (kube-apiserver,
 * or the embedded lab/apiserver; etcd and everything else keep running), with
 * `signal` (default SIGKILL: a crash, no graceful shutdown), and waits until
 * it is gone: up to 10 s after SIGKILL, 90 s after another signal
 * (kube-apiserver shuts down gracefully on SIGTERM: it drains its requests,
 * which takes tens of seconds on a busy machine). With restartLabApiserver, the one way for tests to
 * make an API server outage. Returns the pid it stopped.
 */
export async function stopLabApiserver(dirArg: string, signal: NodeJS.Signals = "SIGKILL"): Promise<number> {
  const L = labLayout(resolveLabDir(dirArg));
  const pid = readPidFile(L.apiserverPid);
  // A stale pid file may name a reused pid: only a process started for this lab dir is ours.
  if (pid === undefined || !isAlive(pid) || !commandLineMentions(pid, L.dir))
    throw new LabError(`${L.dir}: no running lab API server (${L.apiserverPid})`, "not-found");
  process.kill(pid, signal);
  const waitMs = signal === "SIGKILL" ? 10_000 : 90_000;
  const deadline = Date.now() + waitMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline)
      throw new LabError(
        `${L.dir}: the API server (pid ${pid}) still runs ${waitMs / 1000} s after ${signal}`,
      );
    await sleep(50);
  }
  return pid;
}

/**
 * Starts the lab's API server again after it died (stopLabApiserver, a crash,
 * or an operator after kill -9), whichever control plane runs: the same
 * arguments and the same port, so DIR/kubeconfig, the relays and the agents'
 * kubeconfigs stay valid and they reconnect on their own. The state survives
 * in etcd (real) or in the embedded server's durable state
 * (lab/apiserver/persistence.ts). Waits until it answers; returns the lab's
 * plain-HTTP API URL. Refuses while it still runs.
 */
export async function restartLabApiserver(dirArg: string): Promise<string> {
  const L = labLayout(resolveLabDir(dirArg));
  const state = readLabState(L.stateFile);
  if (state?.apiserverUrl === undefined)
    throw new LabError(`${L.dir}: no lab API server to restart`, "not-found");
  if (isAlive(readPidFile(L.apiserverPid)))
    throw new LabError(`${L.dir}: the lab API server is still running`, "already-running");
  if (state.controlPlane === "real") return restartRealApiserver(L);
  return startApiserver(L, Number(new URL(state.apiserverUrl).port));
}

async function startApiserver(L: LabLayout, port = 0): Promise<string> {
  writeFileSync(L.apiserverOut, "");
  const argv = [
    process.execPath,
    repoPaths.apiserverMain,
    "--address",
    "127.0.0.1",
    "--port",
    String(port),
    "--unix-socket",
    L.apiserverSocket,
    "--state-dir",
    L.apiserverStateDir,
  ];
  for (const d of repoPaths.crdDirs) if (existsSync(d)) argv.push("--crd-dir", d);
  const pid = startDaemon({
    argv,
    pidFile: L.apiserverPid,
    logFile: L.apiserverLog,
    stdoutFile: L.apiserverOut,
  });
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const line = readFileSync(L.apiserverOut, "utf8").split("\n")[0] ?? "";
    if (line.trim() !== "") {
      const url = (JSON.parse(line) as { url?: unknown }).url;
      if (typeof url !== "string") throw new Error(`API server printed ${line}, expected {"url":…}`);
      return url;
    }
    if (!isAlive(pid)) throw new Error(`the API server exited: ${tail(L.apiserverLog)}`);
    await sleep(100);
  }
  throw new Error(`the API server did not report its address within 30 s: ${tail(L.apiserverLog)}`);
}

async function buildTor(plan: LabPlan): Promise<void> {
  const ns = plan.tor.netns;
  await addNetns(ns);
  await ipIn(ns, "addr", "add", `${plan.tor.routerId}/32`, "dev", "lo");
  await sysctlIn(ns, "net.ipv4.ip_forward", "1");
  await sysctlIn(ns, "net.ipv6.conf.all.forwarding", "1");
}

/**
 * The node namespace and its routed link to the ToR. The veth is created
 * directly in the two lab namespaces: nothing appears in the root namespace.
 */
async function buildNode(plan: LabPlan, n: NodePlan, cni: CniMode): Promise<void> {
  const tor = plan.tor.netns;
  await addNetns(n.netns);
  await ipIn(tor, "link", "add", n.torIfname, "type", "veth", "peer", "name", n.ifname, "netns", n.netns);
  await ipIn(tor, "addr", "add", `${n.torAddress4}/${LINK4_PREFIX_LEN}`, "dev", n.torIfname);
  await ipIn(tor, "-6", "addr", "add", `${n.torAddress6}/${LINK6_PREFIX_LEN}`, "dev", n.torIfname, "nodad");
  await ipIn(tor, "link", "set", n.torIfname, "up");
  await ipIn(n.netns, "addr", "add", `${n.address4}/${LINK4_PREFIX_LEN}`, "dev", n.ifname);
  await ipIn(n.netns, "-6", "addr", "add", `${n.address6}/${LINK6_PREFIX_LEN}`, "dev", n.ifname, "nodad");
  await ipIn(n.netns, "link", "set", n.ifname, "up");
  // docs/machine.md: proxy ARP for 169.254.1.1 needs a route to it; a default route toward the ToR gives one.
  await ipIn(n.netns, "route", "add", "default", "via", n.torAddress4, "dev", n.ifname);
  await ipIn(n.netns, "-6", "route", "add", "default", "via", n.torAddress6, "dev", n.ifname);
  await sysctlIn(n.netns, "net.ipv4.ip_forward", "1");
  await sysctlIn(n.netns, "net.ipv6.conf.all.forwarding", "1");
  // Under Trellis the agents advertise their blocks over BGP (lab/bgp-fabric.ts).
  // With the reference plugins nobody speaks BGP: static routes on the ToR
  // carry each node's pod CIDRs.
  if (cni === "ptp") {
    await ipIn(tor, "route", "add", n.podCidr4, "via", n.address4, "dev", n.torIfname);
    await ipIn(tor, "-6", "route", "add", n.podCidr6, "via", n.address6, "dev", n.torIfname);
  }
}

async function startBird(L: LabLayout, plan: LabPlan, password: string | undefined): Promise<void> {
  mkdirSync(L.torDir, { recursive: true });
  writeFileSync(
    L.birdConfig,
    renderBirdConfig({ plan, logFile: L.birdLog, ...(password !== undefined ? { password } : {}) }),
    { mode: 0o600 },
  );
  const pid = startDaemon({
    argv: argvInNetns(plan.tor.netns, [
      "bird",
      "-f",
      "-c",
      L.birdConfig,
      "-s",
      L.birdSocket,
      "-P",
      L.birdPid,
    ]),
    pidFile: L.birdPid,
    logFile: L.birdStderr,
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const r = await runCommand("birdc", ["-s", L.birdSocket, "show", "status"], { timeoutMs: 3000 });
    if (r.code === 0 && /Daemon is up and running/.test(r.stdout)) return;
    if (!isAlive(pid)) throw new Error(`BIRD exited: ${tail(L.birdStderr)}`);
    await sleep(100);
  }
  throw new Error(`BIRD did not answer on ${L.birdSocket} within 15 s`);
}

/** --kubelet real: what every node's containerd and kubelet start from. */
interface RealRuntime {
  bin: NodeBinaries;
  images: LabImages;
  snapshotter: Snapshotter;
}

interface NodeCredentials {
  L: LabLayout;
  runtime?: RealRuntime;
  /** the lab's plain-HTTP API (admin), for TokenRequests */
  api: LabApi;
  real: boolean;
  /** under the real control plane with --cni trellis: the chart's ServiceAccount */
  agentSa?: ServiceAccountRef;
}

/**
 * The node's two kubeconfigs. Embedded: plain HTTP through the node relay, no
 * credentials. Real: kube-apiserver's TLS through the same relay, verified
 * against the lab CA; the kubelet stand-in with its certificate
 * (controlplane/pki.ts LAB_KUBELET), trellis-node with a token issued for
 * the chart's ServiceAccount.
 */
async function writeNodeKubeconfigs(c: NodeCredentials, n: NodePlan): Promise<void> {
  const N = c.L.node(n.name);
  const context = `trellis-lab-${n.name}`;
  if (!c.real) {
    const plain = renderKubeconfig(NODE_API_URL, context);
    writeFileSync(N.kubeconfig, plain);
    writeFileSync(N.kubeletKubeconfig, plain);
    return;
  }
  // A real kubelet gets its own identity (startRealNode); the stand-in the lab-kubelet certificate.
  if (c.runtime === undefined)
    writeFileSync(N.kubeletKubeconfig, labKubeletKubeconfig(c.L, NODE_API_TLS_URL, context), { mode: 0o600 });
  if (c.agentSa !== undefined) {
    const token = await requestToken(c.api, c.agentSa);
    writeFileSync(N.kubeconfig, tokenKubeconfig(c.L, NODE_API_TLS_URL, token, context), { mode: 0o600 });
  }
}

async function startNode(
  L: LabLayout,
  plan: LabPlan,
  n: NodePlan,
  cni: CniMode,
  api: LabApi,
  fabric: FabricOptions,
  credentials: NodeCredentials,
  chartAgent = false,
): Promise<void> {
  const N = L.node(n.name);
  for (const d of [N.dir, N.cniConfDir, N.cniBinDir, N.cniCacheDir, N.podsDir])
    mkdirSync(d, { recursive: true });
  await writeNodeKubeconfigs(credentials, n);
  const conf =
    cni === "ptp"
      ? ptpConflist({ podCidr4: n.podCidr4, podCidr6: n.podCidr6, ipamDataDir: N.ipamDataDir })
      : trellisConflist(N.agentSocket, PTP_CNI_VERSION);
  // Under --agent chart the DaemonSet's install-cni writes the conflist and the shim.
  if (!chartAgent) writeFileSync(N.conflist, JSON.stringify(conf, null, 2) + "\n");
  if (cni === "trellis") {
    for (const pool of trellisPools(n)) {
      try {
        await api.request("POST", "/apis/trellis.dev/v1alpha1/ippools", pool);
      } catch (e) {
        if (!(e instanceof ApiError && e.status === 409)) throw e;
      }
    }
    if (!chartAgent) symlinkSync(repoPaths.shim, `${N.cniBinDir}/trellis`);
  }

  startDaemon({
    argv: argvInNetns(n.netns, [
      "socat",
      // nodelay: no Nagle wait (40 ms per delayed ACK) on a large request such as an IPAM block PUT.
      "TCP-LISTEN:6443,bind=127.0.0.1,fork,reuseaddr,nodelay",
      `UNIX-CONNECT:${L.apiserverSocket}`,
    ]),
    pidFile: N.relayPid,
    logFile: N.relayLog,
  });

  try {
    await api.createNode({
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: n.name,
        labels: {
          "kubernetes.io/hostname": n.name,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": process.arch === "x64" ? "amd64" : process.arch,
          "trellis.dev/lab": plan.prefix.replace(/-$/, ""),
        },
        ...(cni === "trellis" ? { annotations: nodeBgpAnnotations(n, fabric) } : {}),
      },
      spec: { podCIDR: n.podCidr4, podCIDRs: [n.podCidr4, n.podCidr6] },
    });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 409)) throw e;
  }

  if (credentials.runtime !== undefined) await startRealNode(credentials.L, plan, n, credentials.runtime);
  else startKubeletStandin(L, plan, n);

  if (cni === "trellis" && !chartAgent) startNodeAgent(n.netns, n.name, N);
}

/**
 * --kubelet real: containerd with the lab's images, then the kubelet as
 * system:node:NAME (a client certificate from the lab CA) serving exec and
 * logs with a certificate for the node's addresses.
 */
async function startRealNode(L: LabLayout, plan: LabPlan, n: NodePlan, rt: RealRuntime): Promise<void> {
  const N = L.node(n.name);
  await startContainerd(N, n, rt.bin, rt.snapshotter, rt.images);
  const creds = await makeNodeCredentials(L, n.name, [n.address4, n.address6], NODE_API_TLS_URL);
  await startRealKubelet(N, n, plan.prefix, rt.bin, creds);
}

function startKubeletStandin(L: LabLayout, plan: LabPlan, n: NodePlan): void {
  const N = L.node(n.name);
  startDaemon({
    argv: argvInNetns(n.netns, [
      process.execPath,
      repoPaths.kubeletMain,
      "--node-name",
      n.name,
      "--node-ip",
      n.address4,
      "--node-ip",
      n.address6,
      "--kubeconfig",
      N.kubeletKubeconfig,
      "--node-dir",
      N.dir,
      "--netns-prefix",
      plan.prefix,
    ]),
    pidFile: N.kubeletPid,
    logFile: N.kubeletLog,
  });
}

/**
 * Starts trellis-node in node `name`'s namespace, detached, its pid and log
 * under the node's dir (`lab up`; tests start a killed agent again with it).
 */
export function startNodeAgent(netns: string, name: string, N: NodeLayout): number {
  return startDaemon({
    argv: argvInNetns(netns, [
      process.execPath,
      ...AGENT_NODE_FLAGS,
      repoPaths.agentMain,
      "--node-name",
      name,
      "--kubeconfig",
      N.kubeconfig,
      "--cni-socket",
      N.agentSocket,
    ]),
    // Pinned here, not left to the agent's default, because lab status probes it.
    env: { ...AGENT_NODE_ENV, TRELLIS_METRICS_ADDRESS: AGENT_HEALTH_ADDRESS },
    pidFile: N.agentPid,
    logFile: N.agentLog,
  });
}

async function waitNodesReady(api: LabApi, plan: LabPlan, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let notReady: string[] = plan.nodes.map((n) => n.name);
  while (Date.now() < deadline) {
    try {
      const nodes = (await api.listNodes()).items;
      notReady = plan.nodes
        .map((n) => n.name)
        .filter((name) => !nodeReady(nodes.find((x) => x.metadata?.name === name)));
      if (notReady.length === 0) return;
    } catch {
      // the API server may be busy; try again
    }
    await sleep(200);
  }
  throw new Error(
    `nodes not Ready after ${Math.round(timeoutMs / 1000)} s: ${notReady.join(", ")} (see their kubelet.log)`,
  );
}

/** Every node's agent answers /readyz 200 (first full sync done, CNI server up). */
async function waitAgentsReady(
  L: LabLayout,
  plan: LabPlan,
  timeoutMs: number,
  chartAgent = false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = plan.nodes;
  const why = new Map<string, string>();
  while (Date.now() < deadline) {
    const checks = await Promise.all(pending.map(async (n) => [n, await agentReadiness(n.netns)] as const));
    for (const [n, r] of checks) why.set(n.name, r.detail);
    pending = checks.filter(([, r]) => !r.ready).map(([n]) => n);
    if (pending.length === 0) return;
    // A DaemonSet's agent has no pid file of the lab's: the kubelet restarts it.
    for (const n of chartAgent ? [] : pending) {
      if (!isAlive(readPidFile(L.node(n.name).agentPid)))
        throw new Error(`trellis-node on ${n.name} exited: ${tail(L.node(n.name).agentLog)}`);
    }
    await sleep(250);
  }
  throw new Error(
    `trellis-node not ready after ${Math.round(timeoutMs / 1000)} s: ` +
      pending.map((n) => `${n.name} (${why.get(n.name) ?? "?"}; see ${L.node(n.name).agentLog})`).join(", "),
  );
}

/**
 * Under --cni trellis, one IPv4 and one IPv6 IPPool per node, equal to the
 * node's pod CIDRs and selected by its hostname label: every block a node
 * claims lies inside the CIDR the ToR routes to it.
 */
export function trellisPools(n: NodePlan): Record<string, unknown>[] {
  const selector = `kubernetes.io/hostname == ${n.name}`;
  return [
    { cidr: n.podCidr4, suffix: "v4", blockSize: 26 },
    { cidr: n.podCidr6, suffix: "v6", blockSize: 122 },
  ].map((p) => ({
    apiVersion: "trellis.dev/v1alpha1",
    kind: "IPPool",
    metadata: { name: `lab-${n.name}-${p.suffix}` },
    // natOutgoing: traffic from pods to anything outside every pool (the ToR's own
    // address stands for "outside") leaves with the node's address (agent/nat/).
    spec: { cidr: p.cidr, blockSize: p.blockSize, nodeSelector: selector, natOutgoing: true },
  }));
}
