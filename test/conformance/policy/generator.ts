/**
 * Seeded random policy sets for the differential test, in the manner of
 * cyclonus: a base policy with one dimension varied at a time (target,
 * policy types, peers, ports), plus fully random sets that also mix in admin
 * policies and tenants. Deterministic for a given seed.
 */
import type { Doc } from "../../../policy/test/fixtures.js";
import { anp, banp, networkPolicy, tenant } from "../../../policy/test/fixtures.js";
import { rng } from "../../support/rng.js";

type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

const targets: Doc[] = [
  {},
  { matchLabels: { pod: "a" } },
  { matchExpressions: [{ key: "pod", operator: "In", values: ["a", "b"] }] },
  { matchExpressions: [{ key: "pod", operator: "NotIn", values: ["c"] }] },
  { matchExpressions: [{ key: "pod", operator: "Exists" }] },
];

/** Dual-stack models: IPv6 pod addresses, for IPv6 ipBlocks with excepts (fd00:<net>:<node>::/64 per node). */
export type Ip6Of = (k: string) => string;

function peers(net: number, ipOf: (k: string) => string, ip6Of?: Ip6Of): (Doc[] | undefined)[] {
  const v6: Doc[][] = ip6Of
    ? [
        [{ ipBlock: { cidr: `fd00:${net}::/32`, except: [`fd00:${net}:2::/64`] } }],
        [{ ipBlock: { cidr: `${ip6Of("y/a")}/128` } }, { podSelector: { matchLabels: { pod: "a" } } }],
        [
          { ipBlock: { cidr: `fd00:${net}:1::/64`, except: [`${ip6Of("x/a")}/128`] } },
          { ipBlock: { cidr: `10.${net}.2.0/24` } },
        ],
      ]
    : [];
  return [
    ...v6,
    undefined,
    [],
    [{ podSelector: { matchLabels: { pod: "b" } } }],
    [{ namespaceSelector: { matchLabels: { ns: "y" } } }],
    [
      {
        namespaceSelector: { matchExpressions: [{ key: "ns", operator: "NotIn", values: ["x"] }] },
        podSelector: { matchLabels: { pod: "c" } },
      },
    ],
    [{ namespaceSelector: {} }],
    [{ podSelector: {} }],
    [{ ipBlock: { cidr: `10.${net}.0.0/16`, except: [`10.${net}.2.0/24`] } }],
    [{ ipBlock: { cidr: `${ipOf("y/a")}/32` } }, { podSelector: { matchLabels: { pod: "a" } } }],
    [{ namespaceSelector: { matchLabels: { ns: "z" } } }, { podSelector: { matchLabels: { pod: "c" } } }],
  ];
}

const portsChoices: (Doc[] | undefined)[] = [
  undefined,
  [{ port: 80 }],
  [{ port: 81, protocol: "UDP" }],
  [{ port: "serve-80-tcp" }],
  [{ port: "serve-81-udp", protocol: "UDP" }],
  [{ protocol: "UDP" }],
  [{ port: 80, endPort: 81 }],
  [{ protocol: "SCTP", port: 80 }],
  [{ port: 80 }, { port: 81, protocol: "UDP" }],
  [{ port: "no-such-port" }],
];

const typesChoices: (string[] | undefined)[] = [undefined, ["Ingress"], ["Egress"], ["Ingress", "Egress"]];

interface Dims {
  ns: string;
  target: Doc;
  types: string[] | undefined;
  ingressPeers: Doc[] | undefined;
  ingressPorts: Doc[] | undefined;
  egressPeers: Doc[] | undefined;
  egressPorts: Doc[] | undefined;
  hasEgress: boolean;
}

function policyFrom(name: string, d: Dims): Doc {
  const rule = (peerKey: "from" | "to", p: Doc[] | undefined, ports: Doc[] | undefined): Doc => ({
    ...(p !== undefined ? { [peerKey]: p } : {}),
    ...(ports !== undefined ? { ports } : {}),
  });
  return networkPolicy(d.ns, name, {
    podSelector: d.target,
    ...(d.types ? { policyTypes: d.types } : {}),
    ingress: [rule("from", d.ingressPeers, d.ingressPorts)],
    ...(d.hasEgress ? { egress: [rule("to", d.egressPeers, d.egressPorts)] } : {}),
  });
}

export interface Generated {
  readonly name: string;
  readonly docs: Doc[];
}

/** Case `i` of a seed: the first ones vary one dimension of the base; the rest are fully random. */
export function generate(seed: number, net: number, ipOf: (k: string) => string, ip6Of?: Ip6Of): Generated {
  const r = rng(seed);
  const peerChoices = peers(net, ipOf, ip6Of);
  const base: Dims = {
    ns: "x",
    target: { matchLabels: { pod: "a" } },
    types: undefined,
    ingressPeers: [{ podSelector: { matchLabels: { pod: "b" } } }],
    ingressPorts: [{ port: 80 }],
    egressPeers: undefined,
    egressPorts: undefined,
    hasEgress: false,
  };
  const mode = seed % 3;
  if (mode !== 2) {
    const dim = pick(r, ["ns", "target", "types", "ingressPeers", "ingressPorts", "egress"] as const);
    const d = { ...base };
    if (dim === "ns") d.ns = pick(r, ["y", "z"]);
    if (dim === "target") d.target = pick(r, targets);
    if (dim === "types") d.types = pick(r, typesChoices);
    if (dim === "ingressPeers") d.ingressPeers = pick(r, peerChoices);
    if (dim === "ingressPorts") d.ingressPorts = pick(r, portsChoices);
    if (dim === "egress") {
      d.hasEgress = true;
      d.types = ["Ingress", "Egress"];
      d.egressPeers = pick(r, peerChoices);
      d.egressPorts = pick(r, portsChoices);
    }
    return { name: `seed ${seed}: base with ${dim} varied`, docs: [policyFrom("gen", d)] };
  }
  const docs: Doc[] = [];
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n; i++) {
    const hasEgress = r() < 0.5;
    docs.push(
      policyFrom(`gen-${i}`, {
        ns: pick(r, ["x", "y", "z"]),
        target: pick(r, targets),
        types: pick(r, typesChoices),
        ingressPeers: pick(r, peerChoices),
        ingressPorts: pick(r, portsChoices),
        egressPeers: pick(r, peerChoices),
        egressPorts: pick(r, portsChoices),
        hasEgress,
      }),
    );
  }
  const nsSel = (ns: string) => ({ namespaces: { matchLabels: { "kubernetes.io/metadata.name": ns } } });
  if (r() < 0.4) {
    docs.push(
      anp("gen-anp", {
        priority: Math.floor(r() * 100),
        subject: nsSel(pick(r, ["x", "y", "z"])),
        ingress: [
          {
            action: pick(r, ["Allow", "Deny", "Pass"]),
            from: [nsSel(pick(r, ["x", "y", "z"]))],
            ...(r() < 0.5 ? { ports: [{ portNumber: { protocol: "TCP", port: 80 } }] } : {}),
          },
        ],
      }),
    );
  }
  if (r() < 0.3) {
    docs.push(
      banp({
        subject: nsSel(pick(r, ["x", "y", "z"])),
        egress: [{ action: pick(r, ["Allow", "Deny"]), to: [nsSel(pick(r, ["x", "y", "z"]))] }],
      }),
    );
  }
  if (r() < 0.3) {
    docs.push(
      tenant("gen-tenant", {
        namespaceSelector: { matchLabels: { ns: pick(r, ["x", "y", "z"]) } },
        isolation: pick(r, ["Strict", "Baseline", "None"]),
        ...(r() < 0.5 ? { allow: { namespaces: [pick(r, ["x", "y", "z"])] } } : {}),
      }),
    );
  }
  return { name: `seed ${seed}: fully random (${docs.length} objects)`, docs };
}
