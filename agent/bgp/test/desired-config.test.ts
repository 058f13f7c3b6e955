import { describe, expect, it } from "@jest/globals";
import type { SpeakerConfigFile } from "../../../bgp/config.js";
import { compileFilter } from "../../../bgp/policy/index.js";
import type { BGPConfiguration, BGPFilter, BGPPeer } from "../../../crds/bgp.js";
import type { Tenant } from "../../../crds/tenant.js";
import { desiredSpeakerConfig, type DesiredInput, type NodeFacts } from "../desired-config.js";

const api = "trellis.dev/v1alpha1" as const;
const node = (name: string, i: number, annotations: Record<string, string> = {}, labels = {}): NodeFacts => ({
  name,
  labels: { "kubernetes.io/hostname": name, ...labels },
  annotations,
  internalIPs: [`198.18.0.${2 * i + 1}`, `fd00::${2 * i + 1}`],
});
const cfg = (name: string, spec: BGPConfiguration["spec"]): BGPConfiguration => ({
  apiVersion: api,
  kind: "BGPConfiguration",
  metadata: { name },
  spec,
});
const peer = (name: string, spec: BGPPeer["spec"]): BGPPeer => ({
  apiVersion: api,
  kind: "BGPPeer",
  metadata: { name },
  spec,
});
const filter = (name: string, spec: BGPFilter["spec"]): BGPFilter => ({
  apiVersion: api,
  kind: "BGPFilter",
  metadata: { name },
  spec,
});

const nodes = [node("n1", 0), node("n2", 1), node("n3", 2)];
const base: DesiredInput = {
  nodeName: "n1",
  nodes,
  configurations: [],
  peers: [],
  filters: [],
  affineBlocks: ["10.244.1.0/26", "fd00:10:244:1::/122"],
  borrowedAddresses: [],
  addresses: {
    ipv4: { address: "198.18.0.1", method: "first-found" },
    ipv6: { address: "fd00::1", method: "first-found" },
  },
};
const run = (over: Partial<DesiredInput>): SpeakerConfigFile =>
  desiredSpeakerConfig({ ...base, ...over }).config;
const peerAt = (c: SpeakerConfigFile, a: string) => c.peers.find((p) => p.address === a);
/** What an import/export filter does with a prefix (local = originated by us). */
function verdict(f: SpeakerConfigFile["peers"][number]["import"], prefix: string, local = false): string {
  if (f === undefined) return "accept";
  const compiled = compileFilter(f, { localAs: 64512 });
  const r = compiled.evaluate({
    prefix,
    attributes: { origin: 0, asPath: [], nextHop: "192.0.2.1" },
    local,
    neighborAs: 64512,
  } as never);
  return r.accept ? "accept" : "reject";
}

describe("desired speaker config: settings", () => {
  it.each<[string, Partial<DesiredInput>, (c: SpeakerConfigFile) => unknown, unknown]>([
    ["defaults: AS 64512", {}, (c) => c.asn, 64512],
    ["defaults: port 179 on ::", {}, (c) => c.listen, { address: "::", port: 179 }],
    [
      "defaults: graceful restart on, 120 s",
      {},
      (c) => [c.gracefulRestart.enabled, c.gracefulRestart.restartTime],
      [true, 120],
    ],
    ["defaults: hold time 90", {}, (c) => c.holdTime, 90],
    ["FIB on, proto 202, ECMP", {}, (c) => [c.fib.enabled, c.fib.protocol, c.fib.ecmp], [true, 202, true]],
    ["router ID is the node's IPv4 address", {}, (c) => c.routerId, "198.18.0.1"],
    [
      "an IPv6-only node gets a router ID in 240.0.0.0/4",
      { addresses: { ipv6: { address: "fd00::1", method: "x" } } },
      (c) => c.routerId.split(".")[0]! >= "240",
      true,
    ],
    [
      "default BGPConfiguration sets the AS",
      { configurations: [cfg("default", { asNumber: 65001 })] },
      (c) => c.asn,
      65001,
    ],
    [
      "node.<name> overrides default field by field",
      {
        configurations: [
          cfg("default", { asNumber: 65001, listenPort: 1179 }),
          cfg("node.n1", { asNumber: 65009 }),
        ],
      },
      (c) => [c.asn, c.listen?.port],
      [65009, 1179],
    ],
    [
      "another node's override does not apply",
      { configurations: [cfg("node.n2", { asNumber: 65009 })] },
      (c) => c.asn,
      64512,
    ],
    [
      "the bgp-asn annotation beats the configuration",
      {
        nodes: [node("n1", 0, { "trellis.dev/bgp-asn": "65100" }), node("n2", 1)],
        configurations: [cfg("default", { asNumber: 65001 })],
      },
      (c) => c.asn,
      65100,
    ],
    [
      "hold, keepalive and graceful restart time from the configuration",
      {
        configurations: [
          cfg("default", { holdTime: 9, keepaliveTime: 3, gracefulRestart: { restartTime: 60 } }),
        ],
      },
      (c) => [c.holdTime, c.keepaliveTime, c.gracefulRestart.restartTime],
      [9, 3, 60],
    ],
  ])("%s", (_n, over, pick, want) => {
    expect(pick(run(over))).toEqual(want);
  });
});

describe("desired speaker config: peers", () => {
  it("mesh: one session per family to every other node, each carrying its own family", () => {
    const c = run({});
    expect(c.peers.map((p) => [p.address, p.families, p.asn, p.localAddress])).toEqual([
      ["198.18.0.3", ["ipv4-unicast"], 64512, "198.18.0.1"],
      ["198.18.0.5", ["ipv4-unicast"], 64512, "198.18.0.1"],
      ["fd00::3", ["ipv6-unicast"], 64512, "fd00::1"],
      ["fd00::5", ["ipv6-unicast"], 64512, "fd00::1"],
    ]);
  });
  it("node sessions: the side with the higher address is passive, the lower one connects", () => {
    expect(run({}).peers.every((p) => !p.passive)).toBe(true);
    const c = run({ nodeName: "n2", addresses: { ipv4: { address: "198.18.0.3", method: "x" } } });
    expect(c.peers.map((p) => [p.address, p.passive])).toEqual([
      ["198.18.0.1", true],
      ["198.18.0.5", false],
    ]);
  });
  it("a BGPPeer with peerIP is never passive", () => {
    const c = run({ peers: [peer("tor", { peerIP: "198.18.0.0", asNumber: 65000 })] });
    expect(peerAt(c, "198.18.0.0")?.passive).toBe(false);
  });
  it("mesh: another node's address annotation beats its InternalIP", () => {
    const c = run({ nodes: [nodes[0]!, node("n2", 1, { "trellis.dev/bgp-ipv4-address": "192.0.2.7" })] });
    expect(c.peers.map((p) => p.address)).toEqual(["192.0.2.7", "fd00::3"]);
  });
  it("mesh: the peer's AS and port are its own settings", () => {
    const c = run({
      nodes: [nodes[0]!, node("n2", 1, { "trellis.dev/bgp-asn": "64513" })],
      configurations: [cfg("node.n2", { listenPort: 1179 })],
    });
    expect(peerAt(c, "198.18.0.3")).toMatchObject({ asn: 64513, port: 1179 });
  });
  it("mesh off without reflectors: no node sessions", () => {
    expect(run({ configurations: [cfg("default", { nodeToNodeMeshEnabled: false })] }).peers).toEqual([]);
  });
  const rr = { "trellis.dev/route-reflector-cluster-id": "224.0.0.1" };
  const rrNodes = [node("n1", 0, rr), node("n2", 1, rr), node("n3", 2), node("n4", 3)];
  const meshOff = [cfg("default", { nodeToNodeMeshEnabled: false })];
  it("a reflector peers with every node, non-reflectors as clients, and sets its cluster ID", () => {
    const c = run({ nodes: rrNodes, configurations: meshOff });
    expect(c.clusterId).toBe("224.0.0.1");
    expect(
      c.peers.filter((p) => p.families[0] === "ipv4-unicast").map((p) => [p.address, p.routeReflectorClient]),
    ).toEqual([
      ["198.18.0.3", false],
      ["198.18.0.5", true],
      ["198.18.0.7", true],
    ]);
  });
  it("a non-reflector peers with the reflectors only", () => {
    const c = run({
      nodeName: "n3",
      nodes: rrNodes,
      configurations: meshOff,
      addresses: { ipv4: { address: "198.18.0.5", method: "x" } },
    });
    expect(c.peers.map((p) => p.address)).toEqual(["198.18.0.1", "198.18.0.3"]);
  });
  it("with the mesh on, reflector annotations are ignored", () => {
    const c = run({ nodes: rrNodes });
    expect(c.peers.some((p) => p.routeReflectorClient)).toBe(false);
    expect(c.peers).toHaveLength(6);
  });
  it("a BGPPeer with node: applies to that node only", () => {
    const p = peer("tor-n1", {
      peerIP: "198.18.0.0",
      asNumber: 65000,
      node: "n1",
      holdTime: 9,
      keepaliveTime: 3,
    });
    expect(peerAt(run({ peers: [p] }), "198.18.0.0")).toMatchObject({
      asn: 65000,
      port: 179,
      localAddress: "198.18.0.1",
      families: ["ipv4-unicast"],
      holdTime: 9,
      keepaliveTime: 3,
    });
    expect(peerAt(run({ peers: [p], nodeName: "n2" }), "198.18.0.0")).toBeUndefined();
  });
  it("a BGPPeer with nodeSelector applies to matching nodes; without node or selector to all", () => {
    const sel = peer("a", { peerIP: "192.0.2.1", asNumber: 65000, nodeSelector: "rack == r1" });
    const all = peer("b", { peerIP: "[fd00::99]:1179", asNumber: 65000, sourceAddress: "None" });
    const c = run({ peers: [sel, all], nodes: [node("n1", 0, {}, { rack: "r2" }), nodes[1]!] });
    expect(peerAt(c, "192.0.2.1")).toBeUndefined();
    expect(peerAt(c, "fd00::99")).toMatchObject({ port: 1179, families: ["ipv6-unicast"] });
    expect(peerAt(c, "fd00::99")?.localAddress).toBeUndefined();
  });
  it("a BGPPeer with peerSelector peers with the selected nodes", () => {
    const p = peer("to-edge", { peerSelector: "edge == yes" });
    const c = run({
      configurations: [cfg("default", { nodeToNodeMeshEnabled: false })],
      nodes: [nodes[0]!, node("n2", 1, {}, { edge: "yes" }), nodes[2]!],
      peers: [p],
    });
    expect(c.peers.map((x) => x.address)).toEqual(["198.18.0.3", "fd00::3"]);
  });
});

describe("desired speaker config: TCP MD5 and BFD", () => {
  const ref = { secretKeyRef: { name: "bgp-password", key: "password" } };
  const tor = (spec: Partial<BGPPeer["spec"]> = {}): BGPPeer =>
    peer("tor", { peerIP: "198.18.0.0", asNumber: 65000, ...spec });
  const out = (over: Partial<DesiredInput>) => desiredSpeakerConfig({ ...base, ...over });
  it.each<[string, Partial<BGPPeer["spec"]>, Record<string, string>, Record<string, unknown>]>([
    ["no password, no BFD: neither field", {}, {}, { password: undefined, bfd: undefined }],
    ["the resolved password", { password: ref }, { tor: "s3cret" }, { password: "s3cret" }],
    ["bfd: true is 300 ms x 3", { bfd: true }, {}, { bfd: true, password: undefined }],
    ["bfd: false is none", { bfd: false }, {}, { bfd: undefined }],
    [
      "bfdIntervalMs and bfdMultiplier",
      { bfd: true, bfdIntervalMs: 100, bfdMultiplier: 5 },
      {},
      { bfd: { minTxMs: 100, minRxMs: 100, multiplier: 5 } },
    ],
    [
      "bfdMultiplier alone keeps 300 ms",
      { bfd: true, bfdMultiplier: 4 },
      {},
      { bfd: { minTxMs: 300, minRxMs: 300, multiplier: 4 } },
    ],
    ["interval without bfd: none", { bfdIntervalMs: 100 }, {}, { bfd: undefined }],
    [
      "password and BFD together",
      { password: ref, bfd: true },
      { tor: "pw", other: "x" },
      { password: "pw", bfd: true },
    ],
  ])("%s", (_, spec, passwords, want) => {
    const r = out({ peers: [tor(spec)], passwords });
    expect(r.problems).toEqual([]);
    const p = peerAt(r.config, "198.18.0.0");
    expect(p).toBeDefined();
    for (const [k, v] of Object.entries(want)) expect((p as Record<string, unknown>)[k]).toEqual(v);
  });
  it.each<[string, Record<string, string> | undefined]>([
    ["no passwords input", undefined],
    ["the peer's key is absent", { other: "x" }],
    ["the peer's key is empty", { tor: "" }],
    ["the peer's key is longer than 80 bytes", { tor: "x".repeat(81) }],
    ["a key named like an Object property", { toString: "x" }],
  ])("a password that is not resolved: the peer is skipped, a problem (%s)", (_, passwords) => {
    const r = out({ peers: [tor({ password: ref, bfd: true })], ...(passwords ? { passwords } : {}) });
    expect(peerAt(r.config, "198.18.0.0")).toBeUndefined();
    expect(r.problems).toEqual([expect.stringContaining("BGPPeer tor:")]);
    expect(r.problems[0]).toContain("not configured");
    // the mesh is untouched
    expect(peerAt(r.config, "198.18.0.3")).toBeDefined();
  });
  it("a peerSelector BGPPeer's password and BFD go on its node sessions", () => {
    const p = peer("to-edge", { peerSelector: "edge == yes", password: ref, bfd: true });
    const c = run({
      configurations: [cfg("default", { nodeToNodeMeshEnabled: false })],
      nodes: [nodes[0]!, node("n2", 1, {}, { edge: "yes" }), nodes[2]!],
      peers: [p],
      passwords: { "to-edge": "pw" },
    });
    expect(c.peers.map((x) => [x.address, x.password, x.bfd])).toEqual([
      ["198.18.0.3", "pw", true],
      ["fd00::3", "pw", true],
    ]);
  });
  it("a BGPPeer that does not select this node needs no password", () => {
    const r = out({ peers: [tor({ password: ref, node: "n2" })] });
    expect(r.problems).toEqual([]);
  });
});

describe("desired speaker config: origination and policy", () => {
  it("originates each affine block on its own, and borrowed addresses outside them as host routes", () => {
    const c = run({ borrowedAddresses: ["10.244.2.5", "10.244.1.9", "fd00:10:244:2::7"] });
    expect(c.originate.map((o) => o.prefix)).toEqual([
      "10.244.1.0/26",
      "10.244.2.5/32",
      "fd00:10:244:1::/122",
      "fd00:10:244:2::7/128",
    ]);
  });
  it("originates service CIDRs", () => {
    const c = run({ configurations: [cfg("default", { serviceClusterIPs: [{ cidr: "10.96.0.0/12" }] })] });
    expect(c.originate.map((o) => o.prefix)).toContain("10.96.0.0/12");
  });
  it("originates the /32 of a Local Service with an endpoint here, with prefixAdvertisements' communities", () => {
    const r = desiredSpeakerConfig({
      ...base,
      configurations: [
        cfg("default", {
          serviceLoadBalancerIPs: [{ cidr: "198.51.100.0/24" }],
          prefixAdvertisements: [{ cidr: "198.51.100.0/24", communities: ["64512:300"] }],
        }),
      ],
      serviceObjects: {
        services: [
          {
            namespace: "demo",
            name: "web",
            clusterIPs: [],
            externalIPs: [],
            loadBalancerIPs: ["198.51.100.7", "203.0.113.1"],
            externalTrafficPolicy: "Local",
            internalTrafficPolicy: "Cluster",
          },
        ],
        slices: [{ namespace: "demo", service: "web", endpoints: [{ nodeName: "n1" }] }],
      },
    });
    expect(r.config.originate.find((o) => o.prefix === "198.51.100.7/32")?.communities).toEqual([
      "64512:300",
    ]);
    expect(r.config.originate.map((o) => o.prefix)).toContain("198.51.100.0/24");
    expect(r.problems).toEqual([
      "Service demo/web: load balancer IP 203.0.113.1 is outside every serviceLoadBalancerIPs CIDR; not advertised",
    ]);
  });
  it("prefixAdvertisements attach named and literal communities, standard and large", () => {
    const c = run({
      configurations: [
        cfg("default", {
          communities: [
            { name: "pods", value: "64512:100" },
            { name: "big", value: "64512:1:2" },
          ],
          prefixAdvertisements: [{ cidr: "10.244.0.0/16", communities: ["pods", "big", "64512:7"] }],
        }),
      ],
    });
    expect(c.originate.find((o) => o.prefix === "10.244.1.0/26")).toMatchObject({
      communities: ["64512:100", "64512:7"],
      largeCommunities: ["64512:1:2"],
    });
    expect(c.originate.find((o) => o.prefix === "fd00:10:244:1::/122")?.communities).toEqual([]);
  });
  it.each([
    ["its own block", "10.244.1.0/26", "reject"],
    ["its own IPv6 block", "fd00:10:244:1::/122", "reject"],
    ["its own borrowed address", "10.244.2.5/32", "reject"],
    ["another node's /32 inside its block (borrowed from it)", "10.244.1.9/32", "accept"],
    ["another node's block", "10.244.2.0/26", "accept"],
  ])("import always rejects exactly the node's own prefixes: %s", (_n, prefix, want) => {
    const c = run({
      borrowedAddresses: ["10.244.2.5"],
      peers: [peer("tor", { peerIP: "198.18.0.0", asNumber: 65000 })],
    });
    for (const p of c.peers) expect(verdict(p.import, prefix)).toBe(want);
  });
  it.each([
    ["a node session exports what it has", "198.18.0.3", "10.244.2.0/26", false, "accept"],
    ["an external peer gets this node's own prefixes", "198.18.0.0", "10.244.1.0/26", true, "accept"],
    ["an external peer never gets another node's prefixes", "198.18.0.0", "10.244.2.0/26", false, "reject"],
  ])("export: %s", (_n, addr, prefix, local, want) => {
    const c = run({ peers: [peer("tor", { peerIP: "198.18.0.0", asNumber: 65000 })] });
    expect(verdict(peerAt(c, addr)?.export, prefix, local)).toBe(want);
  });
  // A rule on 10.0.0.0/8 with the given operator and action.
  const in10 = <Op extends string, A extends string>(matchOperator: Op, action: A) =>
    ({ cidr: "10.0.0.0/8", matchOperator, action }) as const;
  it.each([
    ["In accepts inside", in10("In", "Accept"), "10.1.0.0/16", "accept"],
    ["In: a prefix outside falls through", in10("In", "Reject"), "11.0.0.0/16", "accept"],
    ["Equal matches the CIDR only", in10("Equal", "Reject"), "10.0.0.0/8", "reject"],
    ["Equal: a longer prefix falls through", in10("Equal", "Reject"), "10.1.0.0/16", "accept"],
    ["NotIn matches outside", in10("NotIn", "Reject"), "192.168.0.0/16", "reject"],
    ["NotIn matches a supernet", in10("NotIn", "Reject"), "0.0.0.0/0", "reject"],
    ["NotIn: inside falls through", in10("NotIn", "Reject"), "10.9.0.0/16", "accept"],
    ["prefixLength narrows", { prefixLength: { min: 32 }, action: "Reject" }, "10.9.0.0/16", "accept"],
    ["prefixLength matches", { prefixLength: { min: 32 }, action: "Reject" }, "10.9.0.1/32", "reject"],
    ["no cidr: every prefix of the family", { action: "Reject" }, "172.16.0.0/12", "reject"],
    ["a v4 rule leaves IPv6 alone", { action: "Reject" }, "fd00::/8", "accept"],
  ] as const)("BGPFilter importV4: %s", (_n, rule, prefix, want) => {
    const c = run({
      peers: [peer("tor", { peerIP: "198.18.0.0", asNumber: 65000, filters: ["f"] })],
      filters: [filter("f", { importV4: [rule] })],
    });
    expect(verdict(peerAt(c, "198.18.0.0")?.import, prefix)).toBe(want);
  });
  it("BGPFilter source RemotePeers applies to learned routes only", () => {
    const c = run({
      peers: [peer("tor", { peerIP: "198.18.0.0", asNumber: 65000, filters: ["f"] })],
      filters: [filter("f", { exportV4: [{ source: "RemotePeers", action: "Reject" }] })],
    });
    const exp = peerAt(c, "198.18.0.0")?.export;
    expect(verdict(exp, "10.244.1.0/26", true)).toBe("accept");
  });
  it("filters are applied in order: the first matching rule decides", () => {
    const c = run({
      peers: [peer("tor", { peerIP: "198.18.0.0", asNumber: 65000, filters: ["a", "b"] })],
      filters: [
        filter("b", { importV4: [{ action: "Reject" }] }),
        filter("a", { importV4: [{ cidr: "10.0.0.0/8", matchOperator: "In", action: "Accept" }] }),
      ],
    });
    const imp = peerAt(c, "198.18.0.0")?.import;
    expect([verdict(imp, "10.5.0.0/16"), verdict(imp, "11.0.0.0/8")]).toEqual(["accept", "reject"]);
  });
  it("a missing BGPFilter is reported", () => {
    const r = desiredSpeakerConfig({
      ...base,
      peers: [peer("tor", { peerIP: "198.18.0.0", asNumber: 65000, filters: ["nope"] })],
    });
    expect(r.problems.join()).toMatch(/BGPFilter nope not found/);
  });
});

const tenant = (name: string, spec: Partial<Tenant["spec"]>): Tenant => ({
  apiVersion: api,
  kind: "Tenant",
  metadata: { name },
  spec: { namespaceSelector: {}, isolation: "Strict", ...spec },
});
/** n1's blocks (pool lab-1 and the tenant pool t-a), n2's block of t-a (a borrowed address in it), n2's own. */
const tenantInput: Partial<DesiredInput> = {
  affineBlocks: ["10.244.1.0/26", "10.250.0.0/26", "fd00:10:250::/122"],
  borrowedAddresses: ["10.250.0.70", "10.244.2.5"],
  blockPools: [
    { cidr: "10.244.1.0/26", pool: "lab-1" },
    { cidr: "10.244.2.0/26", pool: "lab-2" },
    { cidr: "10.250.0.0/26", pool: "t-a" },
    { cidr: "10.250.0.64/26", pool: "t-a" },
    { cidr: "fd00:10:250::/122", pool: "t-a6" },
  ],
};
const origin = (c: SpeakerConfigFile, prefix: string) => c.originate.find((o) => o.prefix === prefix);

describe("desired speaker config: tenant communities", () => {
  it("a block of a Tenant's pool carries its standard and large communities", () => {
    const c = run({
      ...tenantInput,
      tenants: [tenant("a", { ipPools: ["t-a", "t-a6"], bgp: { communities: ["65001:10", "65001:0:10"] } })],
    });
    expect(origin(c, "10.250.0.0/26")).toMatchObject({
      communities: ["65001:10"],
      largeCommunities: ["65001:0:10"],
    });
    expect(origin(c, "fd00:10:250::/122")).toMatchObject({ communities: ["65001:10"] });
  });
  it("an address borrowed from another node's block of the pool carries them too", () => {
    const c = run({
      ...tenantInput,
      tenants: [tenant("a", { ipPools: ["t-a"], bgp: { communities: ["65001:10"] } })],
    });
    expect(origin(c, "10.250.0.70/32")?.communities).toEqual(["65001:10"]);
  });
  it("blocks and borrowed addresses of other pools do not", () => {
    const c = run({
      ...tenantInput,
      tenants: [tenant("a", { ipPools: ["t-a"], bgp: { communities: ["65001:10"] } })],
    });
    expect(origin(c, "10.244.1.0/26")?.communities).toEqual([]);
    expect(origin(c, "10.244.2.5/32")?.communities).toEqual([]);
  });
  it("a block belongs to the pool its IPAMBlock names, not to a pool whose CIDR merely holds it", () => {
    const c = run({
      ...tenantInput,
      blockPools: [{ cidr: "10.250.0.0/26", pool: "other" }],
      tenants: [tenant("a", { ipPools: ["t-a"], bgp: { communities: ["65001:10"] } })],
    });
    expect(origin(c, "10.250.0.0/26")?.communities).toEqual([]);
  });
  it("names resolve through the BGPConfiguration's communities, added to prefixAdvertisements'", () => {
    const out = desiredSpeakerConfig({
      ...base,
      ...tenantInput,
      configurations: [
        cfg("default", {
          communities: [
            { name: "tenant-a", value: "65001:10" },
            { name: "pods", value: "64512:100" },
          ],
          prefixAdvertisements: [{ cidr: "10.250.0.0/16", communities: ["pods"] }],
        }),
      ],
      tenants: [tenant("a", { ipPools: ["t-a"], bgp: { communities: ["tenant-a", "nope"] } })],
    });
    expect(origin(out.config, "10.250.0.0/26")?.communities).toEqual(["64512:100", "65001:10"]);
    expect(out.problems).toContain('Tenant a bgp.communities: unknown community "nope"');
  });
  it("a pool two Tenants list belongs to the first by name; the other is reported", () => {
    const out = desiredSpeakerConfig({
      ...base,
      ...tenantInput,
      tenants: [
        tenant("b", { ipPools: ["t-a"], bgp: { communities: ["65002:20"] } }),
        tenant("a", { ipPools: ["t-a"], bgp: { communities: ["65001:10"] } }),
      ],
    });
    expect(origin(out.config, "10.250.0.0/26")?.communities).toEqual(["65001:10"]);
    expect(out.problems.join("\n")).toMatch(/Tenant b: IPPool t-a already belongs to Tenant a/);
  });
  it("a Tenant without ipPools tags nothing", () => {
    const c = run({ ...tenantInput, tenants: [tenant("a", { bgp: { communities: ["65001:10"] } })] });
    expect(c.originate.every((o) => o.communities.length === 0)).toBe(true);
  });
});

describe("desired speaker config: logSeverity, maxRestartTime, reachableBy", () => {
  it.each([
    [undefined, undefined],
    ["Debug", "debug"],
    ["Info", "info"],
    ["Warning", "warn"],
    ["Error", "error"],
    ["Fatal", "fatal"],
  ] as const)("logSeverity %s sets the speaker's log level %s", (sev, level) => {
    const spec: BGPConfiguration["spec"] = sev === undefined ? {} : { logSeverity: sev };
    expect(desiredSpeakerConfig({ ...base, configurations: [cfg("default", spec)] }).logLevel).toBe(level);
  });
  it("logSeverity of node.<name> overrides default", () => {
    const out = desiredSpeakerConfig({
      ...base,
      configurations: [cfg("default", { logSeverity: "Error" }), cfg("node.n1", { logSeverity: "Debug" })],
    });
    expect(out.logLevel).toBe("debug");
  });
  it("maxRestartTime goes on the BGPPeer's session (peerIP and peerSelector)", () => {
    const c = run({
      peers: [
        peer("tor", { peerIP: "198.18.0.0", asNumber: 65000, maxRestartTime: 30 }),
        peer("mesh", { peerSelector: "kubernetes.io/hostname == n2", maxRestartTime: 15 }),
      ],
    });
    expect(peerAt(c, "198.18.0.0")?.maxRestartTime).toBe(30);
    expect(peerAt(c, "198.18.0.3")?.maxRestartTime).toBe(15);
    expect(peerAt(c, "198.18.0.5")?.maxRestartTime).toBeUndefined();
  });
  it("reachableBy: a host route to peerIP via the gateway, for the nodes the BGPPeer selects only", () => {
    const peers = [
      peer("far", { peerIP: "192.0.2.10", asNumber: 65000, reachableBy: "198.18.0.0", node: "n1" }),
      peer("far6", { peerIP: "[2001:db8::10]:1179", asNumber: 65000, reachableBy: "fd00::" }),
      peer("other", { peerIP: "192.0.2.20", asNumber: 65000, reachableBy: "198.18.0.2", node: "n2" }),
      peer("near", { peerIP: "198.18.0.0", asNumber: 65000 }),
    ];
    expect(desiredSpeakerConfig({ ...base, peers }).peerRoutes).toEqual([
      { prefix: "192.0.2.10/32", via: "198.18.0.0", peer: "far" },
      { prefix: "2001:db8::10/128", via: "fd00::", peer: "far6" },
    ]);
  });
  it.each([
    ["of the other family", "fd00::", /is not of peerIP's family/],
    ["peerIP itself", "192.0.2.10", /is peerIP itself/],
  ])("reachableBy %s installs nothing and is reported", (_n, via, why) => {
    const out = desiredSpeakerConfig({
      ...base,
      peers: [peer("far", { peerIP: "192.0.2.10", asNumber: 65000, reachableBy: via })],
    });
    expect(out.peerRoutes).toEqual([]);
    expect(out.problems.join("\n")).toMatch(why);
  });
  it("two BGPPeers routing one peerIP through different gateways: the first by name wins", () => {
    const out = desiredSpeakerConfig({
      ...base,
      peers: [
        peer("b", { peerIP: "192.0.2.10", asNumber: 65000, reachableBy: "198.18.0.4" }),
        peer("a", { peerIP: "192.0.2.10", asNumber: 65000, reachableBy: "198.18.0.0" }),
      ],
    });
    expect(out.peerRoutes).toEqual([{ prefix: "192.0.2.10/32", via: "198.18.0.0", peer: "a" }]);
    expect(out.problems.join("\n")).toMatch(/BGPPeer a already routes 192\.0\.2\.10\/32 via 198\.18\.0\.0/);
  });
});
