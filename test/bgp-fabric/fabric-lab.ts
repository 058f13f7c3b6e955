/**
 * The BGP fabric lab as the end-to-end tests in this folder drive it: a lab
 * of N nodes per describe block with one pod per node, kubectl, routes and
 * blocks read back, an agent killed -9 and started again exactly as `lab up`
 * starts it, and reachability by ping between pod namespaces (busybox: the
 * machine has no iputils ping, docs/machine.md).
 */
import { afterAll, beforeAll } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { isAlive } from "../../lab/daemon.js";
import { startNodeAgent } from "../../lab/lab-up.js";
import { labLayout } from "../../lab/lab-layout.js";
import { labPrefix, podNetnsName } from "../../lab/lab-names.js";
import {
  PROTO_NAME_BGP,
  PROTO_NAME_LOCAL,
  PROTO_TRELLIS_BGP,
  PROTO_TRELLIS_LOCAL,
} from "../../net/route-ownership.js";
import { until } from "../support/until.js";
import { type Run, run, trellisctl } from "../lab/lab-commands.js";

/**
 * A kernel route of ours as `ip route` prints it: by number, or by name where
 * /etc/iproute2/rt_protos.d names them (net/route-ownership.ts writes it).
 */
const protoOf = (n: number, name: string): RegExp => new RegExp(`\\bproto (${n}|${name})(\\s|$)`);
/** Learned from BGP (202, trellis-bgp). */
export const LEARNED = protoOf(PROTO_TRELLIS_BGP, PROTO_NAME_BGP);
/** Derived by the agent from local state (201, trellis). */
export const LOCAL = protoOf(PROTO_TRELLIS_LOCAL, PROTO_NAME_LOCAL);

export const waitFor = <T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> =>
  until(what, f, timeoutMs, 100);

export interface Pod {
  name: string;
  node: string;
  netns: string;
  ips: string[];
}

export function podsYaml(nodes: number, ns: string): string {
  const docs = [`apiVersion: v1\nkind: Namespace\nmetadata: {name: ${ns}}`];
  for (let i = 1; i <= nodes; i++)
    docs.push(
      `apiVersion: v1\nkind: Pod\nmetadata: {name: p${i}, namespace: ${ns}}\n` +
        `spec:\n  nodeName: node-${i}\n  containers: [{name: c, image: busybox, ports: [{containerPort: 8080}]}]`,
    );
  return docs.join("\n---\n") + "\n";
}

export class Lab {
  readonly prefix: string;
  constructor(
    readonly dir: string,
    readonly nodes: number,
  ) {
    this.prefix = labPrefix(dir);
  }

  kubectl(...args: string[]): Promise<Run> {
    return run("kubectl", ["--kubeconfig", join(this.dir, "kubeconfig"), ...args]);
  }

  async up(extra: string[] = []): Promise<void> {
    // The kubelet stand-in (not the lab's default real nodes): the fabric suites probe its pods'
    // listeners (lab/kubelet/pod-echo.ts) from namespaces named after the pod uid (lab-names.ts).
    const standin = ["--kubelet", "standin"];
    const r = await trellisctl(
      "lab",
      "up",
      ...standin,
      "--nodes",
      String(this.nodes),
      "--dir",
      this.dir,
      ...extra,
    );
    if (r.code !== 0) throw new Error(`lab up failed: ${r.err}`);
  }

  async down(): Promise<void> {
    await trellisctl("lab", "down", "--dir", this.dir);
    rmSync(this.dir, { recursive: true, force: true });
  }

  async pods(ns: string): Promise<Pod[]> {
    const r = await run(
      "kubectl",
      ["--kubeconfig", join(this.dir, "kubeconfig"), "apply", "-f", "-"],
      podsYaml(this.nodes, ns),
    );
    if (r.code !== 0) throw new Error(`kubectl apply: ${r.err}`);
    return waitFor(
      "pods Running with both addresses",
      async () => {
        const g = await this.kubectl("get", "pods", "-n", ns, "-o", "json");
        const items = (
          JSON.parse(g.out) as {
            items: {
              metadata: { name: string; uid: string };
              spec: { nodeName: string };
              status: { phase?: string; podIPs?: { ip: string }[] };
            }[];
          }
        ).items;
        if (items.length !== this.nodes) return undefined;
        if (!items.every((p) => p.status.phase === "Running" && (p.status.podIPs ?? []).length === 2))
          return undefined;
        return items.map((p) => ({
          name: p.metadata.name,
          node: p.spec.nodeName,
          netns: podNetnsName(this.prefix, p.metadata.uid),
          ips: (p.status.podIPs ?? []).map((x) => x.ip),
        }));
      },
      60_000,
    );
  }

  ns(node: string): string {
    return node === "tor" ? `${this.prefix}tor` : `${this.prefix}${node}`;
  }

  async routes(node: string, family: "-4" | "-6"): Promise<string[]> {
    const r = await run("ip", ["-n", this.ns(node), family, "route", "show"]);
    return r.out.split("\n").filter((l) => l.trim() !== "");
  }

  /** The confirmed blocks by node. */
  async blocks(): Promise<Map<string, string[]>> {
    const r = await this.kubectl("get", "ipamblocks", "-o", "json");
    const items = (JSON.parse(r.out) as { items: { spec: { cidr: string; affinity?: string } }[] }).items;
    const out = new Map<string, string[]>();
    for (const b of items) {
      const node = (b.spec.affinity ?? "").replace(/^host:/, "");
      out.set(node, [...(out.get(node) ?? []), b.spec.cidr]);
    }
    return out;
  }

  agentPid(node: string): number {
    return Number(readFileSync(labLayout(this.dir).node(node).agentPid, "utf8"));
  }

  /** Starts a node's agent again exactly as `lab up` does. */
  startAgent(node: string): number {
    return startNodeAgent(this.ns(node), node, labLayout(this.dir).node(node));
  }
}

export async function ping(from: Pod, to: string): Promise<boolean> {
  // busybox: the machine has no iputils ping (docs/machine.md lists busybox-static).
  const r = await run("ip", ["netns", "exec", from.netns, "busybox", "ping", "-c", "1", "-W", "2", to]);
  return r.code === 0;
}

/** Every pod reaches every other pod, both families. */
export async function allPairs(pods: Pod[]): Promise<string[]> {
  const failed: string[] = [];
  for (const a of pods)
    for (const b of pods)
      if (a !== b)
        for (const ip of b.ips) if (!(await ping(a, ip))) failed.push(`${a.name} -> ${b.name} ${ip}`);
  return failed;
}

/** Nodes (of `nodes`) missing a proto 202 route to another listed node's block (`blocks`: read now when absent). */
export async function learnedEverywhere(
  lab: Lab,
  nodes: string[],
  blocks?: Map<string, string[]>,
): Promise<string[]> {
  const missing: string[] = [];
  blocks ??= await lab.blocks();
  for (const node of nodes)
    for (const fam of ["-4", "-6"] as const) {
      const lines = await lab.routes(node, fam);
      for (const [owner, cidrs] of blocks) {
        if (owner === node || !nodes.includes(owner)) continue;
        for (const c of cidrs.filter((x) => x.includes(":") === (fam === "-6")))
          if (!LEARNED.test(lines.find((l) => l.startsWith(`${c} `)) ?? "")) missing.push(`${node}: ${c}`);
      }
    }
  return missing;
}

/** Ping every 100 ms (busybox numbers from seq=0), the longest run of missing replies in ms. */
export async function pingGap(
  from: Pod,
  to: string,
  count: number,
): Promise<{ gapMs: number; received: number }> {
  const r = await run(
    "ip",
    ["netns", "exec", from.netns, "busybox", "ping", "-i", "0.1", "-c", String(count), "-W", "1", to],
    undefined,
    count * 200 + 10_000,
  );
  const seqs = [...r.out.matchAll(/seq=(\d+)/g)].map((m) => Number(m[1]));
  const got = new Set(seqs);
  let worst = 0;
  let cur = 0;
  for (let s = 0; s < count; s++) {
    if (got.has(s)) cur = 0;
    else worst = Math.max(worst, ++cur);
  }
  return { gapMs: worst * 100, received: got.size };
}

/**
 * kill -9 of `node`'s agent, a second's pause, the agent started again as
 * `lab up` starts it, and the wait until every session of the new agent is
 * Established (asked over its control socket), bounded.
 */
export async function killAndRestart(
  lab: Lab,
  node: string,
): Promise<{ killedMs: number; syncedMs: number }> {
  const pid = lab.agentPid(node);
  process.kill(pid, "SIGKILL");
  const killedMs = Date.now();
  await waitFor(`${node}'s agent to die`, async () => (isAlive(pid) ? undefined : true), 10_000);
  await sleep(1000);
  lab.startAgent(node);
  await waitFor(
    `${node}'s restarted agent Established with every peer`,
    async () => {
      const r = await trellisctl("bgp", "peers", "--node", node, "--dir", lab.dir, "-o", "json");
      if (r.code !== 0) return undefined;
      const peers = JSON.parse(r.out) as { state: string }[];
      return peers.length > 0 && peers.every((p) => p.state === "Established") ? true : undefined;
    },
    30_000,
  );
  return { killedMs, syncedMs: Date.now() };
}

/**
 * A lab of `nodes` nodes for one describe block: up before its tests (down
 * again if that fails), with the pods of namespace `ns` Running on every node
 * (`pods`, filled then); down after them.
 */
export function labForSuite(nodes: number, ns: string, upArgs: string[] = []): { lab: Lab; pods: Pod[] } {
  const lab = new Lab(mkdtempSync(join(tmpdir(), "trellis-bgp-")), nodes);
  const pods: Pod[] = [];
  beforeAll(async () => {
    try {
      await lab.up(upArgs);
      pods.push(...(await lab.pods(ns)));
    } catch (e) {
      await lab.down();
      throw e;
    }
  }, 180_000);
  afterAll(async () => {
    await lab.down();
  }, 60_000);
  return { lab, pods };
}

/*
 * What the tests of cluster objects (tenant-communities, filters,
 * bgp-settings) ask of a lab besides: objects applied and patched, the ToR's
 * birdc, routes by selector, blocks with their pool, and the marks an agent
 * restart or a ToR session reset leaves (restartMarks).
 */

/** `kubectl apply` that must succeed. */
export async function applyYaml(lab: Lab, yaml: string): Promise<void> {
  const r = await run("kubectl", ["--kubeconfig", join(lab.dir, "kubeconfig"), "apply", "-f", "-"], yaml);
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.err}`);
}

/** `kubectl patch KIND NAME --type=merge` that must succeed. */
export async function mergePatch(lab: Lab, kind: string, name: string, patch: unknown): Promise<void> {
  const r = await lab.kubectl("patch", kind, name, "--type=merge", "-p", JSON.stringify(patch));
  if (r.code !== 0) throw new Error(`kubectl patch ${kind} ${name}: ${r.err}`);
}

/** The ToR's BIRD: `birdc -s DIR/tor/bird.ctl ARGS`. */
export async function birdc(lab: Lab, ...args: string[]): Promise<string> {
  return (await run("birdc", ["-s", labLayout(lab.dir).birdSocket, ...args])).out;
}

/** `ip route show ARGS` lines in the ToR's or a node's namespace. */
export async function routesShow(lab: Lab, where: string, ...args: string[]): Promise<string[]> {
  const r = await run("ip", ["-n", lab.ns(where), "route", "show", ...args]);
  return r.out.split("\n").filter((l) => l.trim() !== "");
}

export interface Block {
  cidr: string;
  pool: string;
  node: string;
}

/** Every IPAM block with its pool and node. */
export async function poolBlocks(lab: Lab): Promise<Block[]> {
  const r = await lab.kubectl("get", "ipamblocks", "-o", "json");
  const items = (
    JSON.parse(r.out) as { items: { spec: { cidr: string; pool: string; affinity?: string } }[] }
  ).items;
  return items.map((b) => ({
    cidr: b.spec.cidr,
    pool: b.spec.pool,
    node: (b.spec.affinity ?? "").replace(/^host:/, ""),
  }));
}

/**
 * What an agent restart or a ToR session reset moves: the pid of every node's
 * agent (node-1 first), and each ToR session (`node_<i>`, `node_<i>_v6`) with
 * its state and the time it last changed state. A change that must do
 * neither leaves two of these equal.
 */
export async function restartMarks(lab: Lab): Promise<{ agentPids: number[]; torSessions: string[] }> {
  const protocols = await birdc(lab, "show", "protocols");
  return {
    agentPids: Array.from({ length: lab.nodes }, (_, i) => lab.agentPid(`node-${i + 1}`)),
    torSessions: protocols
      .split("\n")
      .filter((l) => /^node_\d/.test(l))
      .map((l) => l.split(/\s+/).slice(0, 5).join(" ")),
  };
}

/** Waits for pods (by name, in `namespace`) to be Running. */
export async function running(lab: Lab, namespace: string, names: string[]): Promise<void> {
  await waitFor(`pods ${names.join(", ")} Running in ${namespace}`, async () => {
    const r = await lab.kubectl("get", "pods", "-n", namespace, "-o", "json");
    const items = (
      JSON.parse(r.out) as { items: { metadata: { name: string }; status?: { phase?: string } }[] }
    ).items;
    const up = new Set(items.filter((p) => p.status?.phase === "Running").map((p) => p.metadata.name));
    return names.every((n) => up.has(n)) ? true : undefined;
  });
}
