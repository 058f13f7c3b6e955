/**
 * The lab's real control plane: etcd, kube-apiserver and
 * kube-controller-manager, built by scripts/build-k8s at the versions of
 * versions.env, run in the root network namespace on loopback, with a CA the
 * lab makes.
 *
 * DIR/apiserver.sock (each node's 127.0.0.1:6443 relay leads there) passes
 * bytes through to kube-apiserver's TLS port: inside a node every client
 * authenticates itself (trellis-node with its ServiceAccount token, the
 * kubelet stand-in with its certificate). A loopback TCP port (the CLI's URL,
 * state.apiserverUrl) is a plain-HTTP relay that opens a TLS connection to
 * the API server as the lab-proxy client (system:masters), for the lab's own
 * tools. kubectl and helm use DIR/kubeconfig: https with the admin client
 * certificate.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { isAlive, readPidFile, startDaemon, stopProcesses, waitHttpOk } from "../daemon.js";
import type { LabLayout } from "../lab-layout.js";
import { LabError } from "../lab-errors.js";
import {
  apiserverArgv,
  controllerManagerArgv,
  etcdArgv,
  passthroughArgv,
  relayArgv,
  type ControlPlanePorts,
} from "./args.js";
import { controlPlaneLayout, type ControlPlaneLayout } from "./layout.js";
import {
  ADMIN,
  CONTROL_PLANE_CLIENTS,
  CONTROLLER_MANAGER,
  LAB_KUBELET,
  makeClientCert,
  makeKubeletServingCert,
  makePki,
  kubeletServingName,
  nodeIdentity,
  pairKubeconfig,
} from "./pki.js";
import { egressSelectorConfig } from "./kubelet-egress.js";
import { isBuilt, requireBuilt } from "./node-binaries.js";
import { renderTlsKubeconfig } from "./tls-kubeconfig.js";
import { startScheduler } from "./scheduler.js";
import {
  binaryPaths,
  controlPlanePaths,
  nodeBinaryPaths,
  readVersions,
  type ControlPlaneBinaries,
  type NodeBinaries,
} from "./versions.js";

export const CONTROL_PLANE_MODES = ["embedded", "real"] as const;
export type ControlPlaneMode = (typeof CONTROL_PLANE_MODES)[number];

export interface RealControlPlane {
  /** plain-http relay URL for the lab's own tools (state.apiserverUrl) */
  relayUrl: string;
  /** the API server itself */
  apiserverUrl: string;
}

/** Builds the binaries when they are not cached (minutes, once), printing progress. */
export async function ensureBinaries(say: (l: string) => void): Promise<ControlPlaneBinaries> {
  const b = binaryPaths(readVersions());
  if (isBuilt(b)) return b;
  say(`the real control plane is not built yet: running ${controlPlanePaths.buildScript} (minutes, once)`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(controlPlanePaths.buildScript, [], { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`${controlPlanePaths.buildScript} failed (exit ${code})`);
  return b;
}

/**
 * The cached binaries, or a LabError naming scripts/build-k8s when they are
 * not built (`lab up` does not start a build of many minutes on its own:
 * lab/README.md says why).
 */
export function requireBinaries(): ControlPlaneBinaries {
  const v = readVersions();
  const b = binaryPaths(v);
  return requireBuilt(
    b,
    b.stamps,
    `the real control plane (Kubernetes ${v.kubernetes}, etcd ${v.etcd}, helm ${v.helm}) is not built`,
    "build it once",
    "(scripts/bootstrap and npm run lab do; 14 to 37 minutes on 2 cores), or run the lab on the " +
      "embedded API server with --control-plane embedded",
  );
}

/** The real nodes' binaries (kubelet, containerd and its shim, ctr), likewise. */
export function requireNodeBinaries(): NodeBinaries {
  const v = readVersions();
  const b = nodeBinaryPaths(v);
  return requireBuilt(
    b,
    b.stamps,
    `the real nodes (kubelet ${v.kubernetes}, containerd ${v.containerd}) are not built`,
    "build them once",
    "(scripts/bootstrap does), or run the nodes on the kubelet stand-in with --kubelet standin",
  );
}

export interface StartOptions {
  /**
   * false: refuse (requireBinaries) instead of building missing binaries.
   * Default true: the chart tests build them lazily.
   */
  build?: boolean;
  /**
   * false: install no CRD (a test that installs them another way, e.g. the
   * chart's crds/ with `helm install`). Default true: crds/manifests and crds/upstream.
   */
  crds?: boolean;
  /**
   * true: the lab runs real kubelets (lab/nodes/): kube-apiserver reaches them
   * through the kubelet egress proxy (kubelet-egress.ts).
   */
  realNodes?: boolean;
}

/** dist/lab/controlplane/kubelet-egress-main.js */
const egressMain = fileURLToPath(new URL("./kubelet-egress-main.js", import.meta.url));

export async function startRealControlPlane(
  L: LabLayout,
  say: (l: string) => void,
  o: StartOptions = {},
): Promise<RealControlPlane> {
  const b = o.build === false ? requireBinaries() : await ensureBinaries(say);
  const C = controlPlaneLayout(L.dir);
  mkdirSync(C.dir, { recursive: true });
  say("real control plane: certificates");
  await makePki(C, CONTROL_PLANE_CLIENTS);
  if (o.realNodes === true) {
    writeFileSync(C.egressConfig, egressSelectorConfig(C.egressSocket));
    startDaemon({
      argv: [process.execPath, egressMain, "--socket", C.egressSocket, "--lab-dir", L.dir],
      pidFile: C.egressPid,
      logFile: C.egressLog,
    });
  }
  const ports: ControlPlanePorts = {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    relay: await freePort(),
  };
  writeFileSync(C.portsFile, JSON.stringify(ports) + "\n");
  const apiserverUrl = `https://127.0.0.1:${ports.apiserver}`;
  const relayUrl = `http://127.0.0.1:${ports.relay}`;
  writeKubeconfig(C, L.kubeconfig, apiserverUrl, ADMIN.name, "trellis-lab");
  writeKubeconfig(
    C,
    C.controllerManagerKubeconfig,
    apiserverUrl,
    CONTROLLER_MANAGER.name,
    "kube-controller-manager",
  );

  say(`real control plane: etcd on 127.0.0.1:${ports.etcdClient}`);
  const etcd = startDaemon({ argv: etcdArgv(b, C, ports), pidFile: C.etcdPid, logFile: C.etcdLog });
  await waitHttpOk(`http://127.0.0.1:${ports.etcdClient}/health`, 60_000, {
    pid: etcd,
    log: C.etcdLog,
    what: "etcd",
  });

  say(`real control plane: kube-apiserver on ${apiserverUrl}`);
  const api = startApiserverDaemon(L, b, C, ports);
  rmSync(L.apiserverSocket, { force: true });
  startDaemon({
    argv: passthroughArgv(`UNIX-LISTEN:${L.apiserverSocket},fork,unlink-early`, ports),
    pidFile: C.proxyUnixPid,
    logFile: C.proxyLog,
  });
  startDaemon({
    argv: relayArgv(`TCP-LISTEN:${ports.relay},bind=127.0.0.1,fork,reuseaddr`, C, ports),
    pidFile: C.proxyTcpPid,
    logFile: C.proxyLog,
  });
  await waitHttpOk(`${relayUrl}/readyz`, 180_000, { pid: api, log: L.apiserverLog, what: "kube-apiserver" });

  say("real control plane: kube-controller-manager");
  const kcm = startDaemon({
    argv: controllerManagerArgv(b, C),
    pidFile: C.controllerManagerPid,
    logFile: C.controllerManagerLog,
  });

  say("real control plane: kube-scheduler");
  startScheduler(C, apiserverUrl);

  if (o.crds !== false) {
    say("real control plane: installing the CRDs");
    await installCrds(relayUrl);
  }
  // Pods are admitted only once their namespace has its `default` ServiceAccount.
  await waitHttpOk(`${relayUrl}/api/v1/namespaces/default/serviceaccounts/default`, 120_000, {
    pid: kcm,
    log: C.controllerManagerLog,
    what: "kube-controller-manager (the default ServiceAccount)",
  });
  return { relayUrl, apiserverUrl };
}

function startApiserverDaemon(
  L: LabLayout,
  b: ControlPlaneBinaries,
  C: ControlPlaneLayout,
  ports: ControlPlanePorts,
): number {
  writeFileSync(L.apiserverOut, "");
  // Present only when the lab runs real nodes (startRealControlPlane realNodes): a restart keeps it.
  const egress = existsSync(C.egressConfig) ? C.egressConfig : undefined;
  return startDaemon({
    argv: apiserverArgv(b, C, ports, egress),
    pidFile: L.apiserverPid,
    logFile: L.apiserverLog,
    stdoutFile: L.apiserverOut,
  });
}

/**
 * Starts kube-apiserver again after it died (an outage test): the same
 * command line, on the port it had (DIR/controlplane/ports.json), so every
 * kubeconfig and relay stays valid; etcd kept the state. Waits until it is
 * ready; returns the plain-HTTP relay URL. Refuses while it still runs.
 */
export async function restartRealApiserver(L: LabLayout): Promise<string> {
  const C = controlPlaneLayout(L.dir);
  if (isAlive(readPidFile(L.apiserverPid)))
    throw new LabError(`${L.dir}: kube-apiserver is still running`, "already-running");
  let ports: ControlPlanePorts;
  try {
    ports = JSON.parse(readFileSync(C.portsFile, "utf8")) as ControlPlanePorts;
  } catch (e) {
    throw new LabError(
      `${C.portsFile}: ${(e as Error).message}: no real control plane to restart`,
      "not-found",
    );
  }
  const pid = startApiserverDaemon(L, requireBinaries(), C, ports);
  const relayUrl = `http://127.0.0.1:${ports.relay}`;
  await waitHttpOk(`${relayUrl}/readyz`, 180_000, { pid, log: L.apiserverLog, what: "kube-apiserver" });
  return relayUrl;
}

/** A kubeconfig for the kubelet stand-ins: `server` (a node's relay), the lab CA, the lab-kubelet certificate. */
export function labKubeletKubeconfig(L: LabLayout, server: string, context: string): string {
  return pairKubeconfig(controlPlaneLayout(L.dir), server, LAB_KUBELET.name, context);
}

/**
 * A real node's credentials from the lab CA: its kubelet's client certificate
 * (system:node:NAME, system:nodes) and serving certificate (its name and
 * `addresses`); returns the kubeconfig for `server` and the serving pair.
 */
export async function makeNodeCredentials(
  L: LabLayout,
  node: string,
  addresses: readonly string[],
  server: string,
): Promise<{ kubeconfig: string; caCert: string; servingCert: string; servingKey: string }> {
  const C = controlPlaneLayout(L.dir);
  const id = nodeIdentity(node);
  await makeClientCert(C, id);
  await makeKubeletServingCert(C, node, addresses);
  const serving = C.pair(kubeletServingName(node));
  return {
    kubeconfig: pairKubeconfig(C, server, id.name, `trellis-lab-${node}`),
    caCert: C.caCert,
    servingCert: serving.cert,
    servingKey: serving.key,
  };
}

/** A kubeconfig for `server` with the lab CA and a bearer token (trellis-node's ServiceAccount token). */
export function tokenKubeconfig(L: LabLayout, server: string, token: string, context: string): string {
  const caPem = readFileSync(controlPlaneLayout(L.dir).caCert, "utf8");
  return renderTlsKubeconfig({ server, context, caPem, token });
}

/**
 * Stops what startRealControlPlane started under `L` (the tests' control
 * plane without a lab; `lab down` finds the same processes by their command lines).
 */
export async function stopRealControlPlane(L: LabLayout): Promise<void> {
  const C = controlPlaneLayout(L.dir);
  const files = [
    C.scheduler.pid,
    C.controllerManagerPid,
    L.apiserverPid,
    C.proxyUnixPid,
    C.proxyTcpPid,
    C.etcdPid,
    C.egressPid,
  ];
  const pids = files.map(readPidFile).filter((p): p is number => p !== undefined);
  await stopProcesses(pids);
}

function writeKubeconfig(
  C: ControlPlaneLayout,
  file: string,
  server: string,
  pair: string,
  context: string,
): void {
  writeFileSync(file, pairKubeconfig(C, server, pair, context), { mode: 0o600 });
}

/** The CRDs of crds/manifests and crds/upstream, created through the API and waited for until Established. */
export async function installCrds(relayUrl: string, dirs = crdDirs()): Promise<string[]> {
  const names: string[] = [];
  for (const file of dirs.flatMap(yamlFiles)) {
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      const crd = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
      if (crd?.kind !== "CustomResourceDefinition" || crd.metadata?.name === undefined) continue;
      const res = await fetch(`${relayUrl}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(crd),
      });
      if (!res.ok && res.status !== 409)
        throw new Error(`CRD ${crd.metadata.name} (${file}): ${res.status} ${await res.text()}`);
      names.push(crd.metadata.name);
    }
  }
  const deadline = Date.now() + 60_000;
  for (const name of names) {
    for (;;) {
      const res = await fetch(`${relayUrl}/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const body = (await res.json()) as { status?: { conditions?: { type: string; status: string }[] } };
      if (body.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established after 60 s`);
      await sleep(200);
    }
  }
  return names;
}

function crdDirs(): string[] {
  return ["crds/manifests", "crds/upstream"].map((d) =>
    fileURLToPath(new URL(`../../../${d}`, import.meta.url)),
  );
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => `${dir}/${f}`);
}

/**
 * A free loopback port below the kernel's ephemeral range. The control plane
 * keeps its ports across a kube-apiserver restart (restartRealApiserver);
 * a port from the ephemeral range can meanwhile become the local port of an
 * outgoing connection (even a client's self-connect to 127.0.0.1:P while
 * nothing listens there), and the restart then fails with EADDRINUSE.
 */
async function freePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const low = Math.max(10_000, ephemeralLow - 12_000);
  const high = ephemeralLow - 1;
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await canListen(port)) return port;
  }
  throw new LabError(`no free loopback port in ${low}..${high} after 100 attempts`);
}

function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (lo !== undefined && hi !== undefined && Number.isInteger(lo) && lo > 11_000) return [lo, hi];
  } catch {
    // not Linux, or /proc not mounted: the kernel's default
  }
  return [32768, 60999];
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
}
