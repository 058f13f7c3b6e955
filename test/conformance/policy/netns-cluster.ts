/**
 * A two-node cluster in network namespaces for policy tests.
 *
 *   <p>-n1 [10.x.1.0/24 pods]  <p>-l1 ==veth== <p>-l2  <p>-n2 [10.x.2.0/24 pods]
 *
 * Each pod is a network namespace whose eth0 pairs with a host veth in its
 * node named as docs/architecture.md pins (`trl` + sha1(ns.pod)[:11]), addressed /32
 * with `default via 169.254.1.1` (proxy ARP on the host veth) and a host
 * route `podIP/32 dev trl…` in the node. Nodes route each other's pod CIDR
 * over the link. Every pod runs pod-agent.py (TCP+UDP listeners, prober).
 * Policy is compiled per node and applied through the real nft driver.
 *
 * Dual-stack (`{ dualStack: true }`): pods also get a /128 from
 * fd00:<net>:<node>::/64 and `default via <host veth's link-local>` (the pod
 * resolves it by NDP, RFC 4861), the node `podIP6/128 dev trl…`; nodes are
 * linked by fd00:<net>:ff::/64 and route each other's pod /64.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { loadCluster } from "../../../policy/model/load.js";
import { compile } from "../../../policy/compiler/compile.js";
import { podVethName } from "../../../net/veth-name.js";
import { NftDriver, type ApplyResult } from "../../../agent/nft/driver.js";
import { releaseNetfilterSockets } from "../../../net/netlink/netlink.js";
import { netnsPath } from "../../../net/netns-path.js";
import { ExecNft } from "../../../agent/nft/backend.js";
import type { Doc } from "../../../policy/test/fixtures.js";
import type { Protocol } from "../../../policy/model/objects.js";
import type { Family } from "../../../policy/model/select.js";
import { requireRoot } from "../../support/require.js";

/** What a probe speaks: a port protocol, or ICMP echo (ICMPv6 over IPv6). */
export type ProbeProtocol = Protocol | "ICMP";

export const NAMESPACES = ["x", "y", "z"] as const;
export const PODS = ["a", "b", "c"] as const;
export const PORTS = [80, 81] as const;

export interface PodSpec {
  readonly ns: string;
  readonly pod: string;
  readonly node: "n1" | "n2";
  readonly ip: string;
  /** Dual-stack only. */
  readonly ip6?: string;
  readonly netns: string;
}

export type ProbeResult = "connected" | "refused" | "timeout" | string;

function sh(args: string[]): string {
  return execFileSync(args[0] as string, args.slice(1), {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function ipn(netns: string, ...args: string[]): void {
  sh(["ip", "-n", netns, ...args]);
}

/** The kernel-generated (EUI-64) link-local address of an interface, once it has one. */
export function linkLocal(netns: string, dev: string): string {
  for (let i = 0; i < 50; i++) {
    const out = JSON.parse(
      sh(["ip", "-n", netns, "-j", "-6", "addr", "show", "dev", dev, "scope", "link"]),
    ) as {
      addr_info?: { local?: string; tentative?: boolean }[];
    }[];
    const a = out[0]?.addr_info?.find((x) => x.local?.startsWith("fe80:") && !x.tentative);
    if (a?.local) return a.local;
    execFileSync("sleep", ["0.1"]);
  }
  throw new Error(`no link-local address on ${netns}/${dev}`);
}

const AGENT = fileURLToPath(new URL("../../../../test/conformance/policy/pod-agent.py", import.meta.url));

export class NetnsCluster {
  readonly pods: PodSpec[] = [];
  readonly nodes: Record<
    "n1" | "n2",
    { netns: string; address: string; address6?: string; driver: NftDriver }
  >;
  readonly dualStack: boolean;
  private readonly agents = new Map<
    string,
    { proc: ChildProcess; pending: Map<number, (r: string) => void> }
  >();
  private nextId = 1;
  private readonly created: string[] = [];

  /** `prefix` must be unique per test file (e.g. "tPnp"), `net` a second octet (10.<net>.x.x). */
  constructor(
    readonly prefix: string,
    readonly net: number,
    opts: { dualStack?: boolean } = {},
  ) {
    this.dualStack = opts.dualStack === true;
    const node = (i: 1 | 2) => ({
      netns: `${prefix}-n${i}`,
      address: `192.168.${net}.${i}`,
      ...(this.dualStack ? { address6: `fd00:${net}:ff::${i}` } : {}),
      driver: new NftDriver(new ExecNft({ netns: `${prefix}-n${i}` })),
    });
    this.nodes = { n1: node(1), n2: node(2) };
    let k = 0;
    for (const ns of NAMESPACES) {
      for (const pod of PODS) {
        const node = k % 2 === 0 ? "n1" : "n2";
        const host = 10 + Math.floor(k / 2);
        this.pods.push({
          ns,
          pod,
          node,
          ip: `10.${net}.${node === "n1" ? 1 : 2}.${host}`,
          ...(this.dualStack ? { ip6: `fd00:${net}:${node === "n1" ? 1 : 2}::${host}` } : {}),
          netns: `${prefix}-${ns}-${pod}`,
        });
        k++;
      }
    }
  }

  async up(): Promise<void> {
    requireRoot(`the policy cluster ${this.prefix}`);
    this.down(true);
    const { n1, n2 } = this.nodes;
    for (const n of [n1, n2]) {
      sh(["ip", "netns", "add", n.netns]);
      this.created.push(n.netns);
      sh([
        "ip",
        "netns",
        "exec",
        n.netns,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
        "net.ipv4.conf.all.rp_filter=0",
        "net.ipv4.conf.default.rp_filter=0",
        // No duplicate address detection: addresses (and link-locals) usable at once.
        "net.ipv6.conf.all.accept_dad=0",
        "net.ipv6.conf.default.accept_dad=0",
        `net.ipv6.conf.all.forwarding=${this.dualStack ? 1 : 0}`,
      ]);
      ipn(n.netns, "link", "set", "lo", "up");
    }
    ipn(
      n1.netns,
      "link",
      "add",
      `${this.prefix}-l1`,
      "type",
      "veth",
      "peer",
      "name",
      `${this.prefix}-l2`,
      "netns",
      n2.netns,
    );
    ipn(n1.netns, "addr", "add", `${n1.address}/24`, "dev", `${this.prefix}-l1`);
    ipn(n2.netns, "addr", "add", `${n2.address}/24`, "dev", `${this.prefix}-l2`);
    ipn(n1.netns, "link", "set", `${this.prefix}-l1`, "up");
    ipn(n2.netns, "link", "set", `${this.prefix}-l2`, "up");
    ipn(n1.netns, "route", "add", `10.${this.net}.2.0/24`, "via", n2.address);
    ipn(n2.netns, "route", "add", `10.${this.net}.1.0/24`, "via", n1.address);
    // Proxy ARP answers for 169.254.1.1 only when the node has a route to it.
    ipn(n1.netns, "route", "add", "default", "via", n2.address);
    ipn(n2.netns, "route", "add", "default", "via", n1.address);
    if (n1.address6 && n2.address6) {
      ipn(n1.netns, "-6", "addr", "add", `${n1.address6}/64`, "dev", `${this.prefix}-l1`, "nodad");
      ipn(n2.netns, "-6", "addr", "add", `${n2.address6}/64`, "dev", `${this.prefix}-l2`, "nodad");
      ipn(n1.netns, "-6", "route", "add", `fd00:${this.net}:2::/64`, "via", n2.address6);
      ipn(n2.netns, "-6", "route", "add", `fd00:${this.net}:1::/64`, "via", n1.address6);
    }
    for (const p of this.pods) {
      const node = this.nodes[p.node].netns;
      const veth = podVethName(p.ns, p.pod);
      sh(["ip", "netns", "add", p.netns]);
      this.created.push(p.netns);
      sh(["ip", "netns", "exec", p.netns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"]);
      ipn(node, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", p.netns);
      sh([
        "ip",
        "netns",
        "exec",
        node,
        "sysctl",
        "-qw",
        `net.ipv4.conf.${veth}.proxy_arp=1`,
        `net.ipv4.conf.${veth}.rp_filter=0`,
      ]);
      ipn(node, "link", "set", veth, "up");
      ipn(node, "route", "add", `${p.ip}/32`, "dev", veth);
      ipn(p.netns, "link", "set", "lo", "up");
      ipn(p.netns, "addr", "add", `${p.ip}/32`, "dev", "eth0");
      ipn(p.netns, "link", "set", "eth0", "up");
      ipn(p.netns, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link");
      ipn(p.netns, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0");
      if (p.ip6) {
        ipn(node, "-6", "route", "add", `${p.ip6}/128`, "dev", veth);
        ipn(p.netns, "-6", "addr", "add", `${p.ip6}/128`, "dev", "eth0", "nodad");
        ipn(p.netns, "-6", "route", "add", "default", "via", linkLocal(node, veth), "dev", "eth0");
      }
    }
    await Promise.all(this.pods.map((p) => this.startAgent(p)));
  }

  private startAgent(p: PodSpec): Promise<void> {
    const proc = spawn(
      "nsenter",
      [`--net=/var/run/netns/${p.netns}`, "--", "python3", "-u", AGENT, ...PORTS.map(String)],
      {
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    const pending = new Map<number, (r: string) => void>();
    this.agents.set(`${p.ns}/${p.pod}`, { proc, pending });
    return new Promise((resolve, reject) => {
      const rl = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
      rl.on("line", (line) => {
        const m = JSON.parse(line) as { ready?: boolean; id?: number; result?: string };
        if (m.ready) resolve();
        else if (m.id !== undefined) {
          pending.get(m.id)?.(m.result ?? "error");
          pending.delete(m.id);
        }
      });
      proc.on("error", reject);
      proc.on("exit", (code) => reject(new Error(`pod agent ${p.netns} exited ${code}`)));
    });
  }

  /** Pod objects (and Namespaces, Nodes) the way the API would serve them. */
  baseDocs(
    nsLabels: Record<string, Record<string, string>> = {},
    podLabels: Record<string, Record<string, string>> = {},
  ): Doc[] {
    const docs: Doc[] = [];
    for (const n of ["n1", "n2"] as const) {
      docs.push({
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: n, labels: { node: n } },
        status: {
          addresses: [this.nodes[n].address, this.nodes[n].address6]
            .filter((a): a is string => a !== undefined)
            .map((address) => ({ type: "InternalIP", address })),
        },
      });
    }
    for (const ns of NAMESPACES) {
      docs.push({
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns, labels: nsLabels[ns] ?? { ns } },
      });
    }
    for (const p of this.pods) {
      docs.push({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: p.pod, namespace: p.ns, labels: podLabels[`${p.ns}/${p.pod}`] ?? { pod: p.pod } },
        spec: {
          nodeName: p.node,
          containers: PORTS.flatMap((port) =>
            (["TCP", "UDP"] as const).map((proto) => ({
              name: `cont-${port}-${proto.toLowerCase()}`,
              ports: [{ name: `serve-${port}-${proto.toLowerCase()}`, containerPort: port, protocol: proto }],
            })),
          ),
        },
        status: { podIP: p.ip, podIPs: [p.ip, ...(p.ip6 ? [p.ip6] : [])].map((ip) => ({ ip })) },
      });
    }
    return docs;
  }

  /** Compiles for both nodes and applies through the driver; flushes conntrack so old flows do not leak. */
  async apply(docs: readonly Doc[]): Promise<Record<"n1" | "n2", ApplyResult>> {
    const c = loadCluster(docs);
    const out = {} as Record<"n1" | "n2", ApplyResult>;
    for (const n of ["n1", "n2"] as const) {
      out[n] = await this.nodes[n].driver.apply(compile(c, n).table);
      try {
        sh(["ip", "netns", "exec", this.nodes[n].netns, "conntrack", "-F"]);
      } catch {
        // conntrack -F fails when the table is already empty on some versions.
      }
    }
    return out;
  }

  probe(from: string, toIp: string, port: number, proto: ProbeProtocol, timeout = 1): Promise<ProbeResult> {
    const a = this.agents.get(from);
    if (!a) throw new Error(`no pod ${from}`);
    const id = this.nextId++;
    return new Promise((resolve) => {
      a.pending.set(id, resolve);
      a.proc.stdin?.write(JSON.stringify({ id, proto, ip: toIp, port, timeout }) + "\n");
    });
  }

  /** A one-off TCP connect from any namespace (a node, a rogue netns): connected | refused | timeout. */
  static connectFrom(netns: string, ip: string, port: number, timeout = 1): string {
    const code = `import socket,sys
try:
  socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=${timeout}).close(); print("connected")
except ConnectionRefusedError: print("refused")
except (socket.timeout, TimeoutError): print("timeout")
except OSError as e: print("error:" + str(e))`;
    return execFileSync(
      "nsenter",
      [`--net=/var/run/netns/${netns}`, "--", "python3", "-c", code, ip, String(port)],
      { encoding: "utf8" },
    ).trim();
  }

  /** Every pod to every other pod on one port/protocol and family, all at once. Key: "from->to". */
  async probeAll(
    port: number,
    proto: ProbeProtocol,
    timeout = 1,
    family: Family = "ipv4",
  ): Promise<Map<string, ProbeResult>> {
    const jobs: Promise<[string, ProbeResult]>[] = [];
    for (const f of this.pods) {
      for (const t of this.pods) {
        if (f === t) continue;
        const key = `${f.ns}/${f.pod}->${t.ns}/${t.pod}`;
        const to = family === "ipv4" ? t.ip : t.ip6;
        if (to === undefined) throw new Error(`${t.ns}/${t.pod} has no ${family} address`);
        jobs.push(this.probe(`${f.ns}/${f.pod}`, to, port, proto, timeout).then((r) => [key, r]));
      }
    }
    return new Map(await Promise.all(jobs));
  }

  /** Removes everything this cluster made (also what a crashed earlier run left). */
  down(quiet = false): void {
    for (const a of this.agents.values()) {
      a.proc.removeAllListeners("exit");
      a.proc.stdin?.end();
      a.proc.kill();
    }
    this.agents.clear();
    // The nf_tables sockets kept for the node namespaces would hold them alive after `ip netns del`.
    for (const n of [this.nodes.n1.netns, this.nodes.n2.netns])
      void releaseNetfilterSockets(netnsPath(n)).catch(() => undefined);
    const all = new Set([
      ...this.created,
      ...this.pods.map((p) => p.netns),
      this.nodes.n1.netns,
      this.nodes.n2.netns,
    ]);
    for (const n of all) {
      try {
        sh(["ip", "netns", "del", n]);
      } catch (e) {
        if (!quiet && this.created.includes(n)) throw e;
      }
    }
    this.created.length = 0;
  }
}
