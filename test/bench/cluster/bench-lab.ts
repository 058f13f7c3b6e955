/**
 * One lab as the cluster benchmark drives it: `trellisctl lab up|down` in a
 * mkdtemp dir of its own (so its namespace prefix is unique), pods created
 * and deleted through the lab API server, the kernel's routes and sessions
 * read with iproute2 and ss in the lab's namespaces, the ToR's RIB with
 * birdc, and each agent's pid from its pid file (lab/lab-layout.ts).
 */
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";
import { ApiError, LabApi, type PodObject } from "../../../lab/api-client.js";
import { labLayout } from "../../../lab/lab-layout.js";
import { labPrefix, podNetnsName } from "../../../lab/lab-names.js";
import { readLabState } from "../../../lab/lab-state.js";
import { namedNetnsPath } from "../../../lab/netns.js";
import { runCommand } from "../../../lab/run-command.js";
import { until } from "../../support/until.js";

export interface PodSpec {
  namespace: string;
  name: string;
  node: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface CreatedPod {
  name: string;
  uid: string;
  netns: string;
}

/** Every lab pod listens on this port (lab/kubelet/pod-echo.ts). */
export const POD_PORT = 8080;

/**
 * trellisctl, run as a user would. (test/lab/lab-commands.ts runs commands
 * for the lab suites through execFile, with its output cap; the benchmark's
 * long runs use net/run-process.ts: no cap, SIGKILL at the deadline.)
 */
const CLI = fileURLToPath(new URL("../../../cli/trellisctl.js", import.meta.url));

/** Runs a command to completion; its exit code (-1 when killed) and output. */
export async function run(
  cmd: string,
  args: string[],
  input?: string,
  timeoutMs = 120_000,
): Promise<{ code: number; out: string; err: string }> {
  const r = await runCommand(cmd, args, { timeoutMs, ...(input !== undefined ? { input } : {}) });
  return { code: r.code ?? -1, out: r.stdout, err: r.stderr };
}

export class BenchLab {
  readonly dir: string;
  readonly prefix: string;
  private apiClient: LabApi | undefined;
  private isDown = false;

  constructor(
    readonly name: string,
    readonly nodes: number,
    readonly upArgs: readonly string[] = [],
  ) {
    this.dir = realpathSync(mkdtempSync(join(tmpdir(), `trellis-bench-cluster-${name}-`)));
    this.prefix = labPrefix(this.dir);
  }

  /** `lab up`, bounded; ms it took. A failed up is torn down before the error is thrown. */
  async up(timeoutMs: number): Promise<number> {
    const t0 = performance.now();
    const r = await run(
      process.execPath,
      // The kubelet stand-in (not the lab's default real nodes): the benchmark's pod churn
      // (a pod in milliseconds, lab/kubelet/pod-echo.ts answering every declared port).
      [
        CLI,
        "lab",
        "up",
        "--kubelet",
        "standin",
        "--nodes",
        String(this.nodes),
        "--dir",
        this.dir,
        ...this.upArgs,
      ],
      undefined,
      timeoutMs,
    );
    const ms = performance.now() - t0;
    if (r.code !== 0) {
      const why = r.err.trim().split("\n").slice(-3).join(" | ") || `killed after ${timeoutMs} ms`;
      await this.down();
      throw new Error(`lab ${this.name}: lab up --nodes ${this.nodes} failed: ${why}`);
    }
    return ms;
  }

  /** `lab down` and the dir removed; once (later calls do nothing). */
  async down(): Promise<void> {
    if (this.isDown) return;
    this.isDown = true;
    await run(process.execPath, [CLI, "lab", "down", "--dir", this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  get api(): LabApi {
    if (this.apiClient === undefined) {
      const url = readLabState(labLayout(this.dir).stateFile)?.apiserverUrl;
      if (url === undefined) throw new Error(`lab ${this.name}: no API server recorded in ${this.dir}`);
      this.apiClient = new LabApi(url, 15_000);
    }
    return this.apiClient;
  }

  nodeNames(): string[] {
    return Array.from({ length: this.nodes }, (_, i) => `node-${i + 1}`);
  }

  /** The namespace of a node, or of the ToR (`tor`). */
  ns(node: string): string {
    return `${this.prefix}${node}`;
  }

  async ensureNamespace(name: string, labels?: Record<string, string>): Promise<void> {
    try {
      await this.api.request("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name, ...(labels !== undefined ? { labels } : {}) },
      });
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 409)) throw e;
    }
  }

  async createPod(p: PodSpec): Promise<CreatedPod> {
    const body = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: p.name,
        namespace: p.namespace,
        ...(p.labels !== undefined ? { labels: p.labels } : {}),
        ...(p.annotations !== undefined ? { annotations: p.annotations } : {}),
      },
      spec: {
        nodeName: p.node,
        containers: [{ name: "c", image: "busybox", ports: [{ containerPort: POD_PORT }] }],
      },
    };
    const o = await this.api.request<PodObject>("POST", `/api/v1/namespaces/${p.namespace}/pods`, body);
    const uid = o.metadata?.uid ?? "";
    return { name: p.name, uid, netns: podNetnsName(this.prefix, uid) };
  }

  /** Deletes a pod and waits (bounded) until the kubelet stand-in has removed its namespace. */
  async deletePod(namespace: string, pod: CreatedPod): Promise<void> {
    await this.api.request("DELETE", `/api/v1/namespaces/${namespace}/pods/${pod.name}`);
    await until(`${pod.name}'s netns removed`, () => !existsSync(namedNetnsPath(pod.netns)), 30_000, 50);
  }

  /** Waits (bounded) until every given pod runs with an IPv4 address; name → address. */
  async waitRunning(namespace: string, names: string[], timeoutMs = 60_000): Promise<Map<string, string>> {
    return until(
      `pods ${names.join(", ")} Running in ${this.name}`,
      async () => {
        const items = (
          await this.api.request<{ items: PodObject[] }>("GET", `/api/v1/namespaces/${namespace}/pods`)
        ).items;
        const out = new Map<string, string>();
        for (const p of items) {
          const ip = (p.status?.podIPs ?? []).map((x) => x.ip).find((x) => !x.includes(":"));
          if (p.status?.phase === "Running" && ip !== undefined) out.set(p.metadata?.name ?? "", ip);
        }
        return names.every((n) => out.has(n)) ? out : undefined;
      },
      timeoutMs,
      200,
    );
  }

  /** The IPAM blocks by node (`spec.affinity` host:<node>), both families. */
  async blocks(): Promise<Map<string, string[]>> {
    const r = await this.api.request<{ items: { spec: { cidr: string; affinity?: string } }[] }>(
      "GET",
      "/apis/trellis.dev/v1alpha1/ipamblocks",
    );
    const out = new Map<string, string[]>();
    for (const b of r.items) {
      const node = (b.spec.affinity ?? "").replace(/^host:/, "");
      out.set(node, [...(out.get(node) ?? []), b.spec.cidr]);
    }
    return out;
  }

  /** The destinations of the kernel's main-table routes in a namespace, both families. */
  async routeDestinations(node: string): Promise<Set<string>> {
    const out = new Set<string>();
    for (const fam of ["-4", "-6"]) {
      const r = await run("ip", ["-n", this.ns(node), fam, "route", "show"]);
      for (const l of r.out.split("\n")) {
        const dst = l.replace(/^(blackhole|unreachable|prohibit) /, "").split(" ")[0] ?? "";
        if (dst !== "") out.add(dst.includes("/") ? dst : `${dst}/${dst.includes(":") ? 128 : 32}`);
      }
    }
    return out;
  }

  /** The prefixes in the ToR BIRD's RIB inside `within` (`birdc show route in`). */
  async torRib(within: string): Promise<string[]> {
    const r = await run("birdc", ["-s", labLayout(this.dir).birdSocket, "show", "route", "in", within]);
    return [...r.out.matchAll(/^([0-9a-f.:]+\/\d+)\s/gm)].map((m) => m[1] ?? "");
  }

  /** Established BGP (TCP port 179) connections in a node's namespace, from the kernel (ss). */
  async bgpSessions(node: string): Promise<number> {
    const r = await run("ip", [
      "netns",
      "exec",
      this.ns(node),
      "ss",
      "-Htn",
      "state",
      "established",
      "( sport = :179 or dport = :179 )",
    ]);
    return r.out.split("\n").filter((l) => l.trim() !== "").length;
  }

  agentPid(node: string): number {
    return Number(readFileSync(labLayout(this.dir).node(node).agentPid, "utf8").trim());
  }

  /** The agent's resident set (VmRSS of /proc/<pid>/status), MiB. */
  agentRssMiB(node: string): number {
    const status = readFileSync(`/proc/${this.agentPid(node)}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return Math.round((kb / 1024) * 10) / 10;
  }
}
