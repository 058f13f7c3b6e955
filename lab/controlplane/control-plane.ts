/**
 * `lab up --control-plane real`: etcd, kube-apiserver and
 * kube-controller-manager, built by scripts/build-k8s at the versions of
 * versions.env, run in the root network namespace on loopback (like the
 * embedded server), with a CA the lab makes.
 *
 * The lab's own processes keep the plain-HTTP paths they have with the
 * embedded server: DIR/apiserver.sock (the node relays' target) and a
 * loopback TCP port (the CLI's URL) are socat relays that open a TLS
 * connection to the API server as the lab-proxy client (system:masters).
 * Everyone else, kubectl and helm included, uses DIR/kubeconfig: https with
 * the admin client certificate.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { isAlive, readPidFile, startDaemon, stopProcesses } from "../daemon.js";
import type { LabLayout } from "../lab-layout.js";
import { apiserverArgv, controllerManagerArgv, etcdArgv, relayArgv, type ControlPlanePorts } from "./args.js";
import { controlPlaneLayout, type ControlPlaneLayout } from "./layout.js";
import { ADMIN, CONTROLLER_MANAGER, LAB_PROXY, makePki } from "./pki.js";
import { renderTlsKubeconfig } from "./tls-kubeconfig.js";
import { binaryPaths, controlPlanePaths, readVersions, type ControlPlaneBinaries } from "./versions.js";

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
  if (b.stamps.every((s) => existsSync(s))) return b;
  say(`the real control plane is not built yet: running ${controlPlanePaths.buildScript} (minutes, once)`);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(controlPlanePaths.buildScript, [], { stdio: ["ignore", "inherit", "inherit"] });
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`${controlPlanePaths.buildScript} failed (exit ${code})`);
  return b;
}

export async function startRealControlPlane(
  L: LabLayout,
  say: (l: string) => void,
): Promise<RealControlPlane> {
  const b = await ensureBinaries(say);
  const C = controlPlaneLayout(L.dir);
  mkdirSync(C.dir, { recursive: true });
  say("real control plane: certificates");
  await makePki(C, [ADMIN, LAB_PROXY, CONTROLLER_MANAGER]);
  const ports: ControlPlanePorts = {
    etcdClient: await freePort(),
    etcdPeer: await freePort(),
    apiserver: await freePort(),
    relay: await freePort(),
  };
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
  await waitHttp(`http://127.0.0.1:${ports.etcdClient}/health`, 60_000, etcd, C.etcdLog, "etcd");

  say(`real control plane: kube-apiserver on ${apiserverUrl}`);
  writeFileSync(L.apiserverOut, "");
  const api = startDaemon({
    argv: apiserverArgv(b, C, ports),
    pidFile: L.apiserverPid,
    logFile: L.apiserverLog,
    stdoutFile: L.apiserverOut,
  });
  rmSync(L.apiserverSocket, { force: true });
  startDaemon({
    argv: relayArgv(`UNIX-LISTEN:${L.apiserverSocket},fork,unlink-early`, C, ports),
    pidFile: C.proxyUnixPid,
    logFile: C.proxyLog,
  });
  startDaemon({
    argv: relayArgv(`TCP-LISTEN:${ports.relay},bind=127.0.0.1,fork,reuseaddr`, C, ports),
    pidFile: C.proxyTcpPid,
    logFile: C.proxyLog,
  });
  await waitHttp(`${relayUrl}/readyz`, 180_000, api, L.apiserverLog, "kube-apiserver");

  say("real control plane: kube-controller-manager");
  const kcm = startDaemon({
    argv: controllerManagerArgv(b, C),
    pidFile: C.controllerManagerPid,
    logFile: C.controllerManagerLog,
  });

  say("real control plane: installing the CRDs");
  await installCrds(relayUrl);
  // Pods are admitted only once their namespace has its `default` ServiceAccount.
  await waitHttp(
    `${relayUrl}/api/v1/namespaces/default/serviceaccounts/default`,
    120_000,
    kcm,
    C.controllerManagerLog,
    "kube-controller-manager (the default ServiceAccount)",
  );
  return { relayUrl, apiserverUrl };
}

/**
 * Stops what startRealControlPlane started under `L` (the tests' control
 * plane without a lab; `lab down` finds the same processes by their command lines).
 */
export async function stopRealControlPlane(L: LabLayout): Promise<void> {
  const C = controlPlaneLayout(L.dir);
  const files = [C.controllerManagerPid, L.apiserverPid, C.proxyUnixPid, C.proxyTcpPid, C.etcdPid];
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
  const { cert, key } = C.pair(pair);
  writeFileSync(
    file,
    renderTlsKubeconfig({
      server,
      context,
      caPem: readFileSync(C.caCert, "utf8"),
      certPem: readFileSync(cert, "utf8"),
      keyPem: readFileSync(key, "utf8"),
    }),
    { mode: 0o600 },
  );
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

async function waitHttp(
  url: string,
  timeoutMs: number,
  pid: number,
  log: string,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (!isAlive(pid)) throw new Error(`${what} exited: ${tail(log)}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (res.ok) return;
      last = `${res.status} ${(await res.text()).slice(0, 200)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(250);
  }
  throw new Error(
    `${what} not ready after ${Math.round(timeoutMs / 1000)} s (${url}: ${last}): ${tail(log)}`,
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join(" | ");
  } catch {
    return "(no log)";
  }
}
