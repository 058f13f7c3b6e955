/**
 * Test bed for the agent: a control plane, node namespaces with an uplink
 * (so proxy ARP has a default route), a socat relay in each node to the
 * API server's unix socket (as the lab does), trellis-node processes in
 * those namespaces, and a CNI client that speaks the shim's frame protocol
 * to the agent socket (or execs the shim).
 *
 * The control plane is the real one (etcd, kube-apiserver with TLS and
 * RBAC, kube-controller-manager, the CRDs of crds/ installed through the
 * API: lab/controlplane, exactly as `lab up --control-plane real` runs it)
 * when scripts/build-k8s has built it, or the embedded lab/apiserver
 * in-process when it has not or when TRELLIS_TEST_CONTROL_PLANE=embedded.
 * With the real one, the test's own clients use its TLS admin kubeconfig and
 * the agents reach it as the lab's do: the node's 127.0.0.1:6443 relay to
 * DIR/apiserver.sock, the lab's relay that opens TLS to kube-apiserver.
 *
 * Everything carries the "tA" prefix plus a per-file token and is removed by
 * cleanup(), also after failures.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, openSync, renameSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import { startApiServer } from "../../lab/apiserver/server.js";
import { labKubeconfig } from "../../lab/apiserver/kubeconfig.js";
import { NODE_API_TLS_URL } from "../../lab/kubeconfig.js";
import {
  installCrds,
  labKubeletKubeconfig,
  startRealControlPlane,
  stopRealControlPlane,
  type ControlPlaneMode,
  type RealControlPlane,
} from "../../lab/controlplane/control-plane.js";
import {
  advanceEtcdRevision,
  currentTestControlPlane,
  startComponent,
  stopComponent,
  waitCrdsServed,
  type StoppedComponent,
} from "../support/control-plane.js";
import { waitHttpOk } from "../../lab/daemon.js";
import { controlPlaneLayout } from "../../lab/controlplane/layout.js";
import { labLayout, type LabLayout } from "../../lab/lab-layout.js";
import { decodeReply, encodeRequest } from "../../agent/cni-server/frame.js";
import { runCaptured } from "../../cli/test/run-captured.js";
import { AGENT_NODE_ENV, AGENT_NODE_FLAGS } from "../../agent/bin/node-flags.js";
import { isReservation } from "../../agent/ipam/reservations.js";

const pexec = promisify(execFile);
export const ROOT = new URL("../../..", import.meta.url).pathname;
export const AGENT_MAIN = join(ROOT, "dist/agent/bin/trellis-node.js");
export const SHIM = join(ROOT, "cni/shim/trellis");

export async function sh(cmd: string, args: readonly string[], input?: string): Promise<string> {
  if (input !== undefined) {
    return new Promise((resolve, reject) => {
      const c = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
      let out = "";
      let err = "";
      c.stdout.on("data", (d: Buffer) => (out += d.toString()));
      c.stderr.on("data", (d: Buffer) => (err += d.toString()));
      c.on("close", (code) =>
        code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")}: ${err}`)),
      );
      c.stdin.end(input);
    });
  }
  const r = await pexec(cmd, [...args], { maxBuffer: 16 * 1024 * 1024 });
  return r.stdout;
}

export interface CniCall {
  command: "ADD" | "DEL" | "CHECK" | "GC" | "STATUS" | "VERSION";
  containerID?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path?: string;
  config: Record<string, unknown>;
}

export interface CniAnswer {
  exitCode: number;
  json: Record<string, unknown>;
}

function envOf(c: CniCall): Record<string, string> {
  const env: Record<string, string> = { CNI_COMMAND: c.command, CNI_PATH: c.path ?? "/usr/lib/cni" };
  if (c.containerID !== undefined) env["CNI_CONTAINERID"] = c.containerID;
  if (c.netns !== undefined) env["CNI_NETNS"] = c.netns;
  if (c.ifname !== undefined) env["CNI_IFNAME"] = c.ifname;
  if (c.args !== undefined) env["CNI_ARGS"] = c.args;
  return env;
}

/** One request over the agent socket, exactly as the shim frames it. */
export function cniSocket(socket: string, c: CniCall): Promise<CniAnswer> {
  return new Promise((resolve, reject) => {
    const s = connect(socket);
    const chunks: Buffer[] = [];
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", reject);
    s.on("end", () => {
      const r = decodeReply(Buffer.concat(chunks));
      if (r === undefined) return reject(new Error("bad reply frame"));
      resolve({
        exitCode: r.exitCode,
        json: r.stdout.trim() === "" ? {} : (JSON.parse(r.stdout) as Record<string, unknown>),
      });
    });
    s.write(encodeRequest({ env: envOf(c), stdin: Buffer.from(JSON.stringify(c.config)) }));
  });
}

/** One request through the real exec'd shim. */
export function cniShim(c: CniCall, extraEnv: Record<string, string> = {}): Promise<CniAnswer> {
  return new Promise((resolve, reject) => {
    const p = spawn(SHIM, [], { env: { ...envOf(c), ...extraEnv }, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.on("error", reject);
    p.on("close", (code) =>
      resolve({
        exitCode: code ?? -1,
        json: out.trim() === "" ? {} : (JSON.parse(out) as Record<string, unknown>),
      }),
    );
    p.stdin.end(JSON.stringify(c.config));
  });
}

/** CNI_ARGS naming a Kubernetes pod, as the kubelet's runtime sends them. */
export function k8sArgs(namespace: string, pod: string): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${namespace};K8S_POD_NAME=${pod}`;
}

/** A pod's eth0 attachment through `agent`: its netns by name (under /var/run/netns) and the agent's netconf. */
export function podCall(
  command: CniCall["command"],
  agent: { socket: string },
  containerID: string,
  netns: string,
  args?: string,
): CniCall {
  return {
    command,
    containerID,
    netns: `/var/run/netns/${netns}`,
    ifname: "eth0",
    ...(args !== undefined ? { args } : {}),
    config: netconf(agent.socket),
  };
}

/**
 * Agent settings for tests that watch time pass: leak checks every 0.5 s with
 * a 1 s grace, empty blocks released after 1 s, informers retried at 0.1–1 s.
 */
export const FAST_AGENT_TIMERS = {
  leakCheckIntervalSeconds: 0.5,
  leakGraceSeconds: 1,
  emptyBlockGraceSeconds: 1,
  informerBackoffMinMs: 100,
  informerBackoffMaxMs: 1000,
};

export function netconf(socket: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: "1.1.0",
    name: "k8s-pod-network",
    type: "trellis",
    agentSocket: socket,
    mtu: 1400,
    ipam: { type: "trellis-ipam" },
    ...extra,
  };
}

/** GET `url` from a short-lived Node.js client inside `netns` (the node's, or another host's). */
export async function httpGetIn(
  netns: string,
  url: string,
): Promise<{ status: number; type: string; body: string }> {
  const script =
    `const r = await fetch(${JSON.stringify(url)});` +
    'process.stdout.write(JSON.stringify({ status: r.status, type: r.headers.get("content-type"), body: await r.text() }));';
  const out = await sh("nsenter", [
    `--net=/var/run/netns/${netns}`,
    process.execPath,
    "--input-type=module",
    "-e",
    script,
  ]);
  return JSON.parse(out) as { status: number; type: string; body: string };
}

export interface AgentProc {
  node: string;
  netns: string;
  socket: string;
  logFile: string;
  metricsPort: number;
  proc: ChildProcess;
}

export class TestBed {
  readonly dir: string;
  private api: { url: string; close(): Promise<void> } | undefined;
  readonly apiSocket: string;
  kubeconfig = "";
  nodeKubeconfig = "";
  private readonly procs: ChildProcess[] = [];
  private readonly netnses = new Set<string>();
  private nodeCount = 0;
  kc = new KubeConfig();

  /** the control plane this bed runs (see the file's comment) */
  readonly controlPlane: ControlPlaneMode;
  /** the real control plane, its files under this.dir as a lab's are */
  private real: { L: LabLayout; cp: RealControlPlane } | undefined;

  /** token: 1–4 characters making this file's names unique ("tA" + token + …). */
  constructor(
    readonly token: string,
    controlPlane: ControlPlaneMode = currentTestControlPlane(),
  ) {
    this.controlPlane = controlPlane;
    this.dir = mkdtempSync(join(tmpdir(), `tA${token}-`));
    this.apiSocket =
      controlPlane === "real" ? labLayout(this.dir).apiserverSocket : join(this.dir, "api.sock");
  }

  /** The lab layout of the real control plane (its pid, log and kubeconfig files); throws on embedded. */
  get realLayout(): LabLayout {
    if (this.real === undefined) throw new Error("this bed does not run the real control plane");
    return this.real.L;
  }

  /** The plain-http URL of the API server from the root namespace (the real one's relay, or the embedded one). */
  get apiUrl(): string {
    return this.real?.cp.relayUrl ?? this.api?.url ?? "";
  }

  private apiPort = 0;

  private async listenApi(): Promise<void> {
    this.api = await startApiServer({
      address: "127.0.0.1",
      port: this.apiPort,
      unixSocket: this.apiSocket,
      stateDir: join(this.dir, "api-state"),
      crdDirs: [join(ROOT, "crds/manifests")],
      logLevel: "error",
    });
    this.apiPort = new URL(this.api.url).port === "" ? 0 : Number(new URL(this.api.url).port);
  }

  /**
   * Stops the API server (state saved), waits, starts it again on the same
   * socket and port. `state: "empty"` starts it on a fresh store (its state
   * put aside: a server that lost its data), `"restored"` puts that state back.
   */
  async restartApi(downMs: number, state: "kept" | "empty" | "restored" = "kept"): Promise<void> {
    if (this.real !== undefined) return this.restartReal(downMs, state);
    await this.api?.close();
    const dir = join(this.dir, "api-state");
    const aside = join(this.dir, "api-state.aside");
    if (state === "empty") renameSync(dir, aside);
    if (state === "restored") {
      rmSync(dir, { recursive: true, force: true });
      renameSync(aside, dir);
    }
    await new Promise((r) => setTimeout(r, downMs));
    await this.listenApi();
  }

  /**
   * The real control plane's restart: kube-apiserver stopped (SIGTERM) and
   * started again on the same port; for "empty" etcd too, its data put
   * aside (a cluster restored from nothing: the revision starts over), for
   * "restored" that data put back. The CRDs are installed again on an empty
   * store, as the embedded server re-applies its manifests.
   */
  private async restartReal(downMs: number, state: "kept" | "empty" | "restored"): Promise<void> {
    if (this.real === undefined) throw new Error("restartReal without the real control plane");
    const { L, cp } = this.real;
    const stopped: StoppedComponent[] = [await stopComponent(L, "kube-apiserver", "SIGTERM")];
    if (state !== "kept") {
      stopped.unshift(await stopComponent(L, "etcd", "SIGTERM"));
      const data = controlPlaneLayout(L.dir).etcdData;
      if (state === "empty") renameSync(data, `${data}.aside`);
      else {
        rmSync(data, { recursive: true, force: true });
        renameSync(`${data}.aside`, data);
      }
    }
    await new Promise((r) => setTimeout(r, downMs));
    for (const s of stopped) startComponent(L, s);
    await waitHttpOk(`${cp.relayUrl}/readyz`, 120_000);
    if (state === "empty") await installCrds(cp.relayUrl);
    await waitCrdsServed(cp.relayUrl);
  }

  /**
   * Takes the store's resourceVersion `n` ahead (real: writes to etcd outside
   * /registry; embedded: nothing, its fresh store restarts at 1 anyway). A
   * fresh etcd's revision restarts near where this one began, after the API
   * server's own bootstrap writes; taken ahead first, the store the agents
   * saw is unmistakably newer than an empty one (as it is than a restored
   * backup). Clients see the new version with their next event or list.
   */
  async advanceResourceVersion(n: number): Promise<void> {
    if (this.real !== undefined) await advanceEtcdRevision(this.real.L, n);
  }

  /**
   * Real control plane only: `component` killed (SIGKILL, a crash) for
   * `downMs`, then started again with the same command line, and waited for
   * until the API server is ready again (bounded: 120 s).
   */
  async outage(component: "etcd" | "kube-apiserver", downMs: number): Promise<void> {
    if (this.real === undefined) throw new Error("an outage needs the real control plane");
    const { L, cp } = this.real;
    const stopped = await stopComponent(L, component, "SIGKILL");
    await new Promise((r) => setTimeout(r, downMs));
    startComponent(L, stopped);
    await waitHttpOk(`${cp.relayUrl}/readyz`, 120_000);
    await waitCrdsServed(cp.relayUrl);
  }

  async startApi(): Promise<void> {
    this.nodeKubeconfig = join(this.dir, "node-kubeconfig");
    if (this.controlPlane === "real") {
      const L = labLayout(this.dir);
      const cp = await startRealControlPlane(L, () => undefined);
      this.real = { L, cp };
      await waitCrdsServed(cp.relayUrl);
      this.kubeconfig = L.kubeconfig;
      // DIR/apiserver.sock passes kube-apiserver's TLS through (as in the lab),
      // so the agents verify the lab CA and present a client certificate. The
      // lab's own agents run as the chart's ServiceAccount (test/lab proves
      // that identity suffices); here they get the lab's node certificate.
      writeFileSync(this.nodeKubeconfig, labKubeletKubeconfig(L, NODE_API_TLS_URL, "trellis-test-node"), {
        mode: 0o600,
      });
      this.kc.loadFromFile(this.kubeconfig);
      return;
    }
    await this.listenApi();
    this.kubeconfig = join(this.dir, "kubeconfig");
    writeFileSync(this.kubeconfig, labKubeconfig(this.api?.url ?? ""));
    writeFileSync(this.nodeKubeconfig, labKubeconfig("http://127.0.0.1:6443"));
    this.kc.loadFromFile(this.kubeconfig);
  }

  get core(): CoreV1Api {
    return this.kc.makeApiClient(CoreV1Api);
  }
  get custom(): CustomObjectsApi {
    return this.kc.makeApiClient(CustomObjectsApi);
  }

  async createPool(name: string, spec: Record<string, unknown>): Promise<void> {
    await this.custom.createClusterCustomObject({
      group: "trellis.dev",
      version: "v1alpha1",
      plural: "ippools",
      body: { apiVersion: "trellis.dev/v1alpha1", kind: "IPPool", metadata: { name }, spec },
    });
  }

  /**
   * Deletes CRDs by name and waits until they are gone (bounded: 30 s): the
   * real control plane installs crds/upstream too, the embedded bed does
   * not; a test about kinds that are not served removes them first.
   */
  async removeCrds(names: readonly string[]): Promise<void> {
    const ext = this.kc.makeApiClient(ApiextensionsV1Api);
    for (const name of names)
      await ext.deleteCustomResourceDefinition({ name }).catch((e: { code?: number }) => {
        if (e.code !== 404) throw e;
      });
    const deadline = Date.now() + 30_000;
    for (const name of names) {
      while (
        await ext.readCustomResourceDefinition({ name }).then(
          () => true,
          () => false,
        )
      ) {
        if (Date.now() > deadline) throw new Error(`CRD ${name} still there after 30 s`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async list(plural: string): Promise<{ metadata: { name: string }; spec: Record<string, unknown> }[]> {
    const r = (await this.custom.listClusterCustomObject({
      group: "trellis.dev",
      version: "v1alpha1",
      plural,
    })) as {
      items: { metadata: { name: string }; spec: Record<string, unknown> }[];
    };
    return r.items;
  }

  /**
   * The pods' allocations: address -> handle. The agents' reservations
   * (agent/ipam/reservations.ts: free addresses a node keeps for its next
   * ADDs) are left out.
   */
  async podAllocations(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [addr, a] of await this.allocations()) if (!isReservation(a.handle)) out.set(addr, a.handle);
    return out;
  }

  /** All allocations, reservations included: address -> handle. */
  async allocations(): Promise<Map<string, { handle: string; node?: string; block: string }>> {
    const out = new Map<string, { handle: string; node?: string; block: string }>();
    const { parsePrefix, formatAddress } = await import("../../net/address.js");
    for (const b of await this.list("ipamblocks")) {
      const c = parsePrefix(b.spec["cidr"] as string);
      if (typeof c === "string") continue;
      for (const a of b.spec["allocations"] as {
        ordinal: number;
        handle: string;
        attributes?: { node?: string };
      }[]) {
        const addr = formatAddress({ family: c.family, value: c.base + BigInt(a.ordinal) });
        out.set(addr, {
          handle: a.handle,
          block: b.metadata.name,
          ...(a.attributes?.node ? { node: a.attributes.node } : {}),
        });
      }
    }
    return out;
  }

  /** A Pod object bound to `node` with one container, as the scheduler leaves it. */
  async createPod(
    namespace: string,
    name: string,
    node: string,
    annotations?: Record<string, string>,
  ): Promise<void> {
    await this.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, ...(annotations !== undefined ? { annotations } : {}) },
        spec: { nodeName: node, containers: [{ name: "c", image: "busybox" }] },
      },
    });
  }

  /** trellisctl in-process against this bed's API server: exit code and what it printed. */
  cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    return runCaptured(...args, "--kubeconfig", this.kubeconfig);
  }

  netnsName(suffix: string): string {
    return `tA${this.token}${suffix}`;
  }

  /**
   * Creates namespaces in one `ip -batch` (a hundred pods cost one spawn).
   * A namespace of the same name left by an earlier run of this file that was
   * killed before its cleanup (names are fixed per file) is removed first.
   */
  async addNetns(names: readonly string[]): Promise<void> {
    await this.delNetns(names);
    for (const n of names) this.netnses.add(n);
    await sh("ip", ["-batch", "-"], names.map((n) => `netns add ${n}`).join("\n") + "\n");
  }

  async delNetns(names: readonly string[]): Promise<void> {
    const existing = names.filter((n) => existsSync(`/var/run/netns/${n}`));
    for (const n of names) this.netnses.delete(n);
    if (existing.length > 0)
      await sh("ip", ["-force", "-batch", "-"], existing.map((n) => `netns del ${n}`).join("\n") + "\n");
  }

  /**
   * A node namespace with lo up, an uplink veth to a per-node peer namespace
   * (default route, so proxy ARP answers for 169.254.1.1), and the API relay.
   */
  async addNode(): Promise<{ netns: string; index: number }> {
    const i = ++this.nodeCount;
    const ns = this.netnsName(`n${i}`);
    const up = this.netnsName(`u${i}`);
    await this.addNetns([ns, up]);
    const ifn = `tA${this.token}v${i}`;
    await sh(
      "ip",
      ["-n", ns, "-batch", "-"],
      [
        "link set lo up",
        `link add ${ifn} type veth peer name ${ifn}p netns ${up}`,
        `addr add 10.250.${i}.2/24 dev ${ifn}`,
        `addr add fd00:250:${i}::2/64 dev ${ifn} nodad`,
        `link set ${ifn} up`,
        `route add default via 10.250.${i}.1`,
        `route add ::/0 via fd00:250:${i}::1`,
      ].join("\n") + "\n",
    );
    await sh(
      "ip",
      ["-n", up, "-batch", "-"],
      [
        "link set lo up",
        `addr add 10.250.${i}.1/24 dev ${ifn}p`,
        `addr add fd00:250:${i}::1/64 dev ${ifn}p nodad`,
        `link set ${ifn}p up`,
      ].join("\n") + "\n",
    );
    const relay = spawn(
      "nsenter",
      [
        `--net=/var/run/netns/${ns}`,
        "socat",
        // nodelay: without it a large request (an IPAM block PUT) waits out Nagle and the
        // peer's delayed ACK, 40 ms at a time (test/bench/README.md, cni/).
        "TCP-LISTEN:6443,bind=127.0.0.1,reuseaddr,fork,nodelay",
        `UNIX-CONNECT:${this.apiSocket}`,
      ],
      { stdio: "ignore" },
    );
    this.procs.push(relay);
    return { netns: ns, index: i };
  }

  async startAgent(
    node: string,
    netns: string,
    config: Record<string, unknown> = {},
    opts: { wait?: boolean; kubeconfig?: string; logLevel?: string } = {},
  ): Promise<AgentProc> {
    const socket = join(this.dir, `${node}.sock`);
    const logFile = join(this.dir, `${node}.log`);
    const cfgFile = join(this.dir, `${node}.yaml`);
    const metricsPort = 19000 + Math.floor(Math.random() * 5000);
    writeFileSync(
      cfgFile,
      JSON.stringify({
        metricsAddress: `127.0.0.1:${metricsPort}`,
        leakCheckIntervalSeconds: 3600,
        ...config,
      }),
    );
    const fd = openSync(logFile, "a");
    const proc = spawn(
      "nsenter",
      [
        `--net=/var/run/netns/${netns}`,
        process.execPath,
        // As every launcher starts it (agent/bin/node-flags.ts).
        ...AGENT_NODE_FLAGS,
        // Extra Node.js flags for the agent, e.g. "--cpu-prof --cpu-prof-dir=/tmp/x" (profiling).
        ...(process.env["TRELLIS_TEST_AGENT_NODE_ARGS"] ?? "").split(" ").filter((x) => x !== ""),
        AGENT_MAIN,
        "--node-name",
        node,
        "--kubeconfig",
        opts.kubeconfig ?? this.nodeKubeconfig,
        "--cni-socket",
        socket,
        "--config",
        cfgFile,
        "--log-level",
        opts.logLevel ?? "debug",
      ],
      { stdio: ["ignore", fd, fd], env: { ...process.env, ...AGENT_NODE_ENV } },
    );
    this.procs.push(proc);
    const a: AgentProc = { node, netns, socket, logFile, metricsPort, proc };
    if (opts.wait !== false) await this.waitReady(a);
    return a;
  }

  /** Polls /readyz inside the node namespace (the agent listens there). */
  async waitReady(a: AgentProc, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await cniSocket(a.socket, { command: "STATUS", config: netconf(a.socket) }).catch(
        () => undefined,
      );
      if (r?.exitCode === 0) return;
      if (a.proc.exitCode !== null) throw new Error(`agent ${a.node} exited with ${a.proc.exitCode}`);
      if (Date.now() > deadline) throw new Error(`agent ${a.node} not ready after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async httpInNode(netns: string, port: number, path: string): Promise<{ status: number; body: string }> {
    return httpGetIn(netns, `http://127.0.0.1:${port}${path}`);
  }

  async stopAgent(a: AgentProc, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (a.proc.exitCode !== null || a.proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      a.proc.once("exit", () => resolve());
      a.proc.kill(signal);
    });
  }

  async cleanup(): Promise<void> {
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) {
        try {
          p.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await Promise.all(
      this.procs.map((p) =>
        p.exitCode !== null || p.signalCode !== null
          ? Promise.resolve()
          : new Promise<void>((r) => p.once("exit", () => r())),
      ),
    );
    await this.delNetns([...this.netnses]).catch(() => undefined);
    await this.api?.close();
    if (this.real !== undefined) await stopRealControlPlane(this.real.L);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
