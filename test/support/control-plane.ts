/**
 * The tests' handle on the real control plane (lab/controlplane/). One
 * component of a running real control plane (started by
 * startRealControlPlane under a lab dir), stopped and started again with
 * the very command line it runs with: the tests take etcd or kube-apiserver
 * away for a while (an outage, a restart, a store restored from nothing)
 * and bring it back on the same ports, certificates and data.
 *
 * Also the tests' choice of control plane (TRELLIS_TEST_CONTROL_PLANE):
 * the real one when its binaries are built, the embedded lab/apiserver
 * otherwise or when asked for.
 */
import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { commandLine, isAlive, readPidFile, startDaemon, waitHttpOk } from "../../lab/daemon.js";
import type { LabLayout } from "../../lab/lab-layout.js";
import { controlPlaneLayout } from "../../lab/controlplane/layout.js";
import { binaryPaths, readVersions } from "../../lab/controlplane/versions.js";
import { isBuilt } from "../../lab/controlplane/node-binaries.js";
import type { ControlPlaneMode } from "../../lab/controlplane/control-plane.js";

export type Component = "etcd" | "kube-apiserver" | "kube-controller-manager";

export interface StoppedComponent {
  component: Component;
  argv: string[];
}

/**
 * The test suites' control plane: TRELLIS_TEST_CONTROL_PLANE=embedded|real
 * when set, else real when scripts/build-k8s has built it (scripts/bootstrap
 * does, so CI runs real), else embedded. Pure over its inputs.
 */
export function testControlPlaneMode(env: string | undefined, realBuilt: boolean): ControlPlaneMode {
  if (env === undefined || env === "") return realBuilt ? "real" : "embedded";
  if (env === "embedded") return "embedded";
  if (env === "real") {
    if (!realBuilt)
      throw new Error(
        "TRELLIS_TEST_CONTROL_PLANE=real but the real control plane is not built (run scripts/build-k8s)",
      );
    return "real";
  }
  throw new Error(`TRELLIS_TEST_CONTROL_PLANE must be "embedded" or "real", not ${JSON.stringify(env)}`);
}

/** testControlPlaneMode for this process: its environment and the binary cache. */
export function currentTestControlPlane(): ControlPlaneMode {
  return testControlPlaneMode(
    process.env["TRELLIS_TEST_CONTROL_PLANE"],
    isBuilt(binaryPaths(readVersions())),
  );
}

function files(L: LabLayout, c: Component): { pidFile: string; logFile: string; stdoutFile?: string } {
  const C = controlPlaneLayout(L.dir);
  switch (c) {
    case "etcd":
      return { pidFile: C.etcdPid, logFile: C.etcdLog };
    case "kube-apiserver":
      return { pidFile: L.apiserverPid, logFile: L.apiserverLog, stdoutFile: L.apiserverOut };
    case "kube-controller-manager":
      return { pidFile: C.controllerManagerPid, logFile: C.controllerManagerLog };
  }
}

/**
 * Stops `c` with `signal` (SIGKILL: a crash; SIGTERM: a shutdown) and waits
 * until it is gone (bounded: 15 s, then SIGKILL). Returns what restarts it.
 */
export async function stopComponent(
  L: LabLayout,
  c: Component,
  signal: NodeJS.Signals = "SIGKILL",
): Promise<StoppedComponent> {
  const { pidFile } = files(L, c);
  const pid = readPidFile(pidFile);
  if (pid === undefined || !isAlive(pid)) throw new Error(`${c} is not running (${pidFile})`);
  const argv = commandLine(pid);
  if (argv.length === 0) throw new Error(`${c} (pid ${pid}) exited before its command line was read`);
  const kill = (sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone in the meantime (ESRCH): what we wanted
    }
  };
  kill(signal);
  // A bounded wait: 15 s for `signal`, then one SIGKILL and 5 s more.
  let deadline = Date.now() + 15_000;
  let escalated = signal === "SIGKILL";
  while (isAlive(pid)) {
    if (Date.now() > deadline) {
      if (escalated) throw new Error(`${c} (pid ${pid}) did not exit after SIGKILL`);
      kill("SIGKILL");
      escalated = true;
      deadline = Date.now() + 5_000;
    }
    await sleep(50);
  }
  return { component: c, argv };
}

/** Starts a stopped component again, same argv, same pid and log files (the log is appended to). */
export function startComponent(L: LabLayout, s: StoppedComponent): number {
  const f = files(L, s.component);
  if (f.stdoutFile !== undefined) writeFileSync(f.stdoutFile, "", { flag: "a" });
  return startDaemon({ argv: s.argv, ...f });
}

/**
 * Waits until every CRD's resource is served: a CRD that is Established can
 * still answer 429 "storage is (re)initializing" for a moment while the API
 * server's watch cache for it fills (k8s.io/apiserver cacher), and a test
 * that lists right away would see that instead of its objects.
 */
export async function waitCrdsServed(relayUrl: string, timeoutMs = 60_000): Promise<void> {
  const res = await fetch(`${relayUrl}/apis/apiextensions.k8s.io/v1/customresourcedefinitions`);
  const crds = (await res.json()) as {
    items: {
      spec: { group: string; names: { plural: string }; versions: { name: string; served: boolean }[] };
    }[];
  };
  const urls = crds.items.flatMap((c) =>
    c.spec.versions
      .filter((v) => v.served)
      .map((v) => `${relayUrl}/apis/${c.spec.group}/${v.name}/${c.spec.names.plural}?limit=1`),
  );
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) await waitHttpOk(url, Math.max(1, deadline - Date.now()));
}

/** The client URL of the running etcd under `L`, read from its command line (--listen-client-urls). */
export function etcdClientUrl(L: LabLayout): string {
  const pid = readPidFile(controlPlaneLayout(L.dir).etcdPid);
  if (pid === undefined || !isAlive(pid)) throw new Error("etcd is not running");
  const flag = commandLine(pid).find((a) => a.startsWith("--listen-client-urls="));
  if (flag === undefined) throw new Error("etcd runs without --listen-client-urls");
  return flag.slice("--listen-client-urls=".length).split(",")[0] ?? "";
}

/**
 * Advances etcd's revision by `n` with writes to one key outside /registry
 * (kube-apiserver never reads it), through etcd's JSON gateway (POST
 * /v3/kv/put). A Kubernetes resourceVersion is the etcd revision, so a
 * store restored from before these writes is unmistakably older than
 * anything a client has seen (a test of what clients do then).
 * Returns the revision reached.
 */
export async function advanceEtcdRevision(L: LabLayout, n: number, inFlight = 32): Promise<number> {
  const url = `${etcdClientUrl(L)}/v3/kv/put`;
  const body = JSON.stringify({
    key: Buffer.from("/trellis-test/revision").toString("base64"),
    value: Buffer.from("x").toString("base64"),
  });
  let next = 0;
  let revision = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      const res = await fetch(url, { method: "POST", body, signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`etcd put: ${res.status} ${await res.text()}`);
      const r = (await res.json()) as { header?: { revision?: string } };
      revision = Math.max(revision, Number(r.header?.revision ?? 0));
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
  return revision;
}
