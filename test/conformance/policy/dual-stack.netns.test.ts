/**
 * Dual-stack in network namespaces (root): a representative set of upstream
 * NetworkPolicy cases probed over IPv6 with real TCP/UDP connections and
 * ICMPv6 echo through the compiled nftables, each checked against both the
 * expected truth table and the reference evaluator (family ipv6); IPv6
 * anti-spoofing; the pod's own IPv6 traffic and NDP with its gateway (the
 * host veth's link-local) working under policy.
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { NetnsCluster, linkLocal, type ProbeProtocol } from "./netns-cluster.js";
import { networkPolicy as np, type Doc } from "../../../policy/test/fixtures.js";
import { loadCluster } from "../../../policy/model/load.js";
import { podVethName } from "../../../net/veth-name.js";
import { compile } from "../../../policy/compiler/compile.js";
import { renderNftText } from "../../../policy/compiler/nft-text.js";
import type { Family } from "../../../policy/model/select.js";
import { ALL_PODS, mismatches, Reachability, verdictFor } from "./reachability.js";
import { generate } from "./generator.js";

const NET = 77;
/** Seeded random policy sets (with IPv6 ipBlocks) probed over IPv6; TRELLIS_DIFF6_SEEDS to run more. */
const SEEDS = Number(process.env["TRELLIS_DIFF6_SEEDS"] ?? 6);
const cluster = new NetnsCluster("tVds", NET, { dualStack: true });
const pod = (k: string) => {
  const p = cluster.pods.find((x) => `${x.ns}/${x.pod}` === k);
  if (!p?.ip6) throw new Error(`no pod ${k}`);
  return p as typeof p & { ip6: string };
};
const podA = { matchLabels: { pod: "a" } };
const R = (d: boolean) => new Reachability(d);

interface V6Probe {
  readonly family: Family;
  readonly protocol: ProbeProtocol;
  readonly port: number;
  readonly expect: Reachability;
}
interface V6Case {
  readonly name: string;
  readonly policies: Doc[];
  readonly probes: V6Probe[];
}
const v6 = (protocol: ProbeProtocol, port: number, expect: Reachability): V6Probe => ({
  family: "ipv6",
  protocol,
  port,
  expect,
});

function egressToN2ExceptYc(): Reachability {
  const r = R(true).expectPeer({ ns: "x" }, {}, false);
  for (const f of ALL_PODS.filter((k) => k.startsWith("x/")))
    for (const t of ALL_PODS) if (pod(t).node === "n2" && t !== "y/c") r.expect(f, t, true);
  return r;
}

const cases = (): V6Case[] => [
  {
    name: "should support a 'default-deny-ingress' policy (IPv6)",
    policies: [np("x", "deny-ingress", { podSelector: {}, policyTypes: ["Ingress"] })],
    probes: [v6("TCP", 80, R(true).expectPeer({}, { ns: "x" }, false))],
  },
  {
    name: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector (IPv6)",
    policies: [
      np("x", "allow-y", {
        podSelector: podA,
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }] }],
      }),
    ],
    probes: [
      v6(
        "TCP",
        80,
        R(true).expectAllIngress("x/a", false).expectPeer({ ns: "y" }, { ns: "x", pod: "a" }, true),
      ),
      v6(
        "UDP",
        81,
        R(true).expectAllIngress("x/a", false).expectPeer({ ns: "y" }, { ns: "x", pod: "a" }, true),
      ),
    ],
  },
  {
    name: "should allow ingress access on one named port (IPv6)",
    policies: [np("x", "named", { podSelector: podA, ingress: [{ ports: [{ port: "serve-81-tcp" }] }] })],
    probes: [v6("TCP", 80, R(true).expectAllIngress("x/a", false)), v6("TCP", 81, R(true))],
  },
  {
    name: "should enforce except clause while ingress access is granted from an IPv6 ipBlock",
    policies: [
      np("x", "cidr6", {
        podSelector: podA,
        ingress: [{ from: [{ ipBlock: { cidr: `fd00:${NET}::/32`, except: [`${pod("y/b").ip6}/128`] } }] }],
      }),
    ],
    probes: [
      v6("TCP", 80, R(true).expect("y/b", "x/a", false)),
      // The IPv6 block admits no IPv4 source: over IPv4, x/a is isolated and closed.
      { family: "ipv4", protocol: "TCP", port: 80, expect: R(true).expectAllIngress("x/a", false) },
    ],
  },
  {
    name: "should allow egress access to an IPv6 CIDR with except",
    policies: [
      np("x", "egress6", {
        podSelector: {},
        policyTypes: ["Egress"],
        egress: [{ to: [{ ipBlock: { cidr: `fd00:${NET}:2::/64`, except: [`${pod("y/c").ip6}/128`] } }] }],
      }),
    ],
    probes: [v6("TCP", 80, egressToN2ExceptYc()), v6("UDP", 80, egressToN2ExceptYc())],
  },
  {
    name: "ICMPv6 echo: a rule with ports never admits it, a rule without ports does",
    policies: [
      np("x", "a-80", { podSelector: podA, ingress: [{ ports: [{ port: 80 }] }] }),
      np("x", "b-from-y", {
        podSelector: { matchLabels: { pod: "b" } },
        ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: "y" } } }] }],
      }),
    ],
    probes: [
      v6(
        "ICMP",
        0,
        R(true)
          .expectAllIngress("x/a", false)
          .expectAllIngress("x/b", false)
          .expectPeer({ ns: "y" }, { ns: "x", pod: "b" }, true),
      ),
      {
        family: "ipv4",
        protocol: "ICMP",
        port: 0,
        expect: R(true)
          .expectAllIngress("x/a", false)
          .expectAllIngress("x/b", false)
          .expectPeer({ ns: "y" }, { ns: "x", pod: "b" }, true),
      },
    ],
  },
];

/** Applies the docs, probes every pair for each probe (all at once), checks evaluator and truth table if any. */
async function runV6Case(k: {
  policies: Doc[];
  probes: (Omit<V6Probe, "expect"> & { expect?: Reachability })[];
}) {
  const docs = [...cluster.baseDocs(), ...k.policies];
  await cluster.apply(docs);
  const c = loadCluster(docs);
  const errors: string[] = [];
  const results = await Promise.all(k.probes.map((p) => cluster.probeAll(p.port, p.protocol, 1, p.family)));
  for (const [i, p] of k.probes.entries()) {
    const label = `${p.family} ${p.protocol}/${p.port}`;
    const observed = new Map<string, boolean>();
    for (const [key, r] of results[i] ?? []) {
      observed.set(key, r === "connected");
      if (r !== "connected" && r !== "timeout") errors.push(`${label} ${key}: unexpected probe result ${r}`);
      const v = verdictFor(c, key, { port: p.port, protocol: p.protocol, family: p.family });
      if (v === undefined) continue;
      if (v.allowed !== (r === "connected"))
        errors.push(`${label} ${key}: evaluator says ${v.allowed ? "allowed" : "denied"}, probe ${r}`);
    }
    if (p.expect) errors.push(...mismatches(p.expect, observed, label));
  }
  return errors;
}

function antiSpoofPackets(netns: string): number {
  const out = JSON.parse(
    execFileSync(
      "ip",
      ["netns", "exec", netns, "nft", "-j", "list", "chain", "inet", "trellis", "from-pods"],
      {
        encoding: "utf8",
      },
    ),
  ) as { nftables: { rule?: { expr: unknown[] } }[] };
  for (const o of out.nftables) {
    const text = JSON.stringify(o.rule?.expr ?? []);
    if (!text.includes("@pod-sources-v6")) continue;
    const counter = (o.rule?.expr ?? []).find(
      (e) => typeof e === "object" && e !== null && "counter" in e,
    ) as { counter: { packets: number } } | undefined;
    return counter?.counter.packets ?? -1;
  }
  throw new Error("no IPv6 anti-spoofing rule");
}

function connectFromSource(netns: string, ip: string, port: number, src: string): string {
  return execFileSync(
    "nsenter",
    [
      `--net=/var/run/netns/${netns}`,
      "--",
      "python3",
      "-c",
      `import socket,sys
try:
  socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1, source_address=(sys.argv[3], 0)).close(); print("connected")
except ConnectionRefusedError: print("refused")
except (socket.timeout, TimeoutError): print("timeout")
except OSError as e: print("error:" + str(e))`,
      ip,
      String(port),
      src,
    ],
    { encoding: "utf8" },
  ).trim();
}

describe("dual-stack policy in network namespaces", () => {
  beforeAll(async () => {
    await cluster.up();
  }, 120_000);
  afterAll(() => cluster.down());

  it("reaches every pod over IPv6 with no policy, and a second apply of the same table is a no-op", async () => {
    const first = await cluster.apply(cluster.baseDocs());
    expect(first.n1.mode).not.toBe("noop");
    const again = await cluster.apply(cluster.baseDocs());
    expect([again.n1.mode, again.n2.mode]).toEqual(["noop", "noop"]);
    const res = await cluster.probeAll(80, "TCP", 2, "ipv6");
    expect([...res].filter(([, r]) => r !== "connected")).toEqual([]);
  }, 60_000);

  it("renders a dual-stack table as `nft -f` text that nft accepts (trellisctl policy compile -o nft)", () => {
    const c = loadCluster([...cluster.baseDocs(), ...cases().flatMap((k) => k.policies)]);
    const text = renderNftText(compile(c, "n1").table);
    expect(text).toContain("iifname . ip6 saddr != @pod-sources-v6");
    // -c: check only, nothing is committed; replacing the table the earlier tests applied.
    const replace = `table inet trellis\ndelete table inet trellis\n${text}`;
    execFileSync("ip", ["netns", "exec", cluster.nodes.n1.netns, "nft", "-c", "-f", "-"], { input: replace });
  });

  for (const k of cases()) {
    it(k.name, async () => expect(await runV6Case(k)).toEqual([]), 60_000);
  }

  for (let seed = 1; seed <= SEEDS; seed++) {
    const ip = (k: string) => cluster.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip as string;
    const g = generate(seed, NET, ip, (k) => pod(k).ip6);
    it(`differential over IPv6: ${g.name}`, async () => {
      const errors = await runV6Case({
        policies: g.docs,
        probes: [
          { family: "ipv6", protocol: "TCP", port: 80 },
          { family: "ipv6", protocol: "UDP", port: 81 },
          { family: "ipv6", protocol: "ICMP", port: 0 },
        ],
      });
      if (errors.length > 0) errors.unshift(JSON.stringify(g.docs));
      expect(errors).toEqual([]);
    }, 60_000);
  }

  it("drops a forged IPv6 source from a pod veth, and passes the pod's own", async () => {
    await cluster.apply(cluster.baseDocs());
    const xa = pod("x/a");
    const forged = pod("y/b").ip6; // y/b lives on the other node: the forged flow must die on x/a's node
    const node = cluster.nodes[xa.node].netns;
    execFileSync("ip", ["-n", xa.netns, "-6", "addr", "add", `${forged}/128`, "dev", "eth0", "nodad"]);
    try {
      expect(connectFromSource(xa.netns, pod("z/c").ip6, 80, xa.ip6)).toBe("connected");
      const before = antiSpoofPackets(node);
      expect(connectFromSource(xa.netns, pod("z/c").ip6, 80, forged)).toBe("timeout");
      expect(antiSpoofPackets(node)).toBeGreaterThan(before);
    } finally {
      execFileSync("ip", ["-n", xa.netns, "-6", "addr", "del", `${forged}/128`, "dev", "eth0"]);
    }
  }, 30_000);

  it("keeps NDP and the link-local gateway working for an isolated pod", async () => {
    await cluster.apply([
      ...cluster.baseDocs(),
      np("x", "deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] }),
    ]);
    const xa = pod("x/a");
    const node = cluster.nodes[xa.node].netns;
    const gw = linkLocal(node, podVethName("x", "a"));
    execFileSync("ip", ["-n", xa.netns, "-6", "neigh", "flush", "dev", "eth0"]);
    // Echo to the gateway's link-local: NS/NA resolve it first (RFC 4861 §7.2), and it is the pod's own node.
    expect(await cluster.probe("x/a", `${gw}%eth0`, 0, "ICMP", 2)).toBe("connected");
    const neigh = execFileSync("ip", ["-n", xa.netns, "-6", "-j", "neigh", "show", "dev", "eth0"], {
      encoding: "utf8",
    });
    const entry = (JSON.parse(neigh) as { dst: string; lladdr?: string; state?: string[] }[]).find(
      (n) => n.dst === gw,
    );
    expect(entry?.lladdr).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    // The default route via that link-local carries what policy allows: another
    // pod (ingress not isolated in y) is denied by x/a's egress…
    expect(await cluster.probe("x/a", pod("y/a").ip6, 80, "TCP")).toBe("timeout");
    // …and the node's own addresses are always allowed (node-local), over IPv6 too.
    expect(NetnsCluster.connectFrom(node, xa.ip6, 80)).toBe("connected");
  }, 30_000);
});
