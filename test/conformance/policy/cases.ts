/**
 * Policy conformance cases as data: objects, label changes, and the expected
 * truth table per probed port/protocol.
 *
 * `networkPolicyCases` follow the upstream Kubernetes e2e NetworkPolicy suite
 * (test/e2e/network/netpol/network_policy.go) on its x/y/z × a/b/c model:
 * every case that applies to a CNI without Services or SCTP listeners, the
 * SCTP ones as "an SCTP-only policy never allows TCP". `adminCases` follow the
 * network-policy-api conformance tests' shape (ANP, BANP, CNP v1beta1 and
 * v1alpha2), and `tenantCases` pin Trellis Tenants.
 */
import type { Doc } from "../../../policy/test/fixtures.js";
import { anp, banp, cnp, networkPolicy as np, tenant } from "../../../policy/test/fixtures.js";
import type { Protocol } from "../../../policy/model/objects.js";
import { Reachability } from "./reachability.js";

export interface Probe {
  readonly port: number;
  readonly protocol: Protocol;
  readonly expect: Reachability;
}

export interface Step {
  readonly policies: readonly Doc[];
  readonly nsLabels?: Record<string, Record<string, string>>;
  readonly podLabels?: Record<string, Record<string, string>>;
  readonly probes: readonly Probe[];
}

export interface Case {
  readonly name: string;
  readonly steps: readonly Step[];
}

const R = (d: boolean) => new Reachability(d);
/** Everything reaches everything, except that x/a admits nothing. */
const aIsolated = () => R(true).expectAllIngress("x/a", false);
/** `r`, then x/a admits namespace y only (a later expectation overrides an earlier one). */
const withAFromYOnly = (r: Reachability) =>
  r.expectAllIngress("x/a", false).expectPeer({ ns: "y" }, { ns: "x", pod: "a" }, true);
/** Everything reaches everything, except that x/a admits namespace y only. */
const aFromYOnly = () => withAFromYOnly(R(true));
const tcp = (port: number, expect: Reachability): Probe => ({ port, protocol: "TCP", expect });
const udp = (port: number, expect: Reachability): Probe => ({ port, protocol: "UDP", expect });
const one = (name: string, policies: Doc[], ...probes: Probe[]): Case => ({
  name,
  steps: [{ policies, probes }],
});
const lbl = (k: string, v: string) => ({ matchLabels: { [k]: v } });
const podA = lbl("pod", "a");
const ingressOnly = ["Ingress"];
/** A NetworkPolicy in x admitting to x/a the peers `from` (on `ports`, else every port). */
const allowToA = (name: string, from: Doc[], ports?: Doc[]) =>
  np("x", name, { podSelector: podA, ingress: [{ from, ...(ports ? { ports } : {}) }] });
/** Set by the suite: the pod CIDR prefix (10.<net>) and pod IPs, for ipBlock cases. */
export interface IpModel {
  readonly net: number;
  ip(pod: string): string;
}

export function networkPolicyCases(m: IpModel): Case[] {
  const denyIngressX = () => np("x", "deny-ingress", { podSelector: {}, policyTypes: ingressOnly });
  /** One policy admitting to x/a, on every port, the namespaces `namespaceSelector` picks: y alone. */
  const fromYOnly = (name: string, policy: string, namespaceSelector: Doc) =>
    one(name, [allowToA(policy, [{ namespaceSelector }])], tcp(80, aFromYOnly()));
  return [
    one(
      "should support a 'default-deny-ingress' policy",
      [denyIngressX()],
      tcp(80, R(true).expectPeer({}, { ns: "x" }, false)),
    ),
    one(
      "should support a 'default-deny-all' policy",
      [np("x", "deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] })],
      tcp(80, R(true).expectPeer({}, { ns: "x" }, false).expectPeer({ ns: "x" }, {}, false)),
    ),
    one(
      "should enforce policy to allow traffic from pods within server namespace based on PodSelector",
      [allowToA("allow-b", [{ podSelector: lbl("pod", "b") }])],
      tcp(80, aIsolated().expect("x/b", "x/a", true)),
    ),
    one(
      "should enforce policy to allow ingress traffic for a target",
      [denyIngressX(), np("x", "allow-a", { podSelector: podA, ingress: [{}] })],
      tcp(80, R(true).expectPeer({}, { ns: "x" }, false).expectAllIngress("x/a", true)),
    ),
    one(
      "should enforce policy to allow ingress traffic from pods in all namespaces",
      [allowToA("allow-all-ns", [{ namespaceSelector: {} }])],
      tcp(80, R(true)),
    ),
    fromYOnly(
      "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
      "allow-ns-y",
      lbl("ns", "y"),
    ),
    one(
      "should enforce policy based on PodSelector with MatchExpressions",
      [
        allowToA("allow-expr", [
          { podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["b"] }] } },
        ]),
      ],
      tcp(80, aIsolated().expect("x/b", "x/a", true)),
    ),
    fromYOnly("should enforce policy based on NamespaceSelector with MatchExpressions", "allow-ns-expr", {
      matchExpressions: [{ key: "ns", operator: "In", values: ["y"] }],
    }),
    one(
      "should enforce policy based on PodSelector or NamespaceSelector",
      [
        allowToA("allow-or", [
          { namespaceSelector: { matchExpressions: [{ key: "ns", operator: "NotIn", values: ["x"] }] } },
          { podSelector: lbl("pod", "b") },
        ]),
      ],
      tcp(80, R(true).expect("x/c", "x/a", false)),
    ),
    one(
      "should enforce policy based on PodSelector and NamespaceSelector",
      [
        allowToA("allow-and", [
          {
            namespaceSelector: { matchExpressions: [{ key: "ns", operator: "NotIn", values: ["x"] }] },
            podSelector: lbl("pod", "b"),
          },
        ]),
      ],
      tcp(80, aIsolated().expect("y/b", "x/a", true).expect("z/b", "x/a", true)),
    ),
    one(
      "should enforce policy based on Multiple PodSelectors and NamespaceSelectors",
      [
        allowToA("allow-multi", [
          {
            namespaceSelector: { matchExpressions: [{ key: "ns", operator: "NotIn", values: ["x"] }] },
            podSelector: { matchExpressions: [{ key: "pod", operator: "In", values: ["b", "c"] }] },
          },
        ]),
      ],
      tcp(
        80,
        aIsolated()
          .expectPeer({ ns: "y", pod: "b" }, { ns: "x", pod: "a" }, true)
          .expectPeer({ ns: "y", pod: "c" }, { ns: "x", pod: "a" }, true)
          .expectPeer({ ns: "z", pod: "b" }, { ns: "x", pod: "a" }, true)
          .expectPeer({ ns: "z", pod: "c" }, { ns: "x", pod: "a" }, true),
      ),
    ),
    one(
      "should enforce policy based on any PodSelectors",
      [allowToA("allow-any", [{ podSelector: lbl("pod", "b") }, { podSelector: lbl("pod", "c") }])],
      tcp(80, aIsolated().expect("x/b", "x/a", true).expect("x/c", "x/a", true)),
    ),
    one(
      "should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
      [allowToA("allow-ya", [{ namespaceSelector: lbl("ns", "y"), podSelector: podA }])],
      tcp(80, aIsolated().expect("y/a", "x/a", true)),
    ),
    one(
      "should enforce policy based on Ports",
      [allowToA("allow-81", [{ namespaceSelector: lbl("ns", "y") }], [{ port: 81, protocol: "TCP" }])],
      tcp(80, aIsolated()),
      tcp(81, aFromYOnly()),
    ),
    {
      name: "should enforce multiple, stacked policies with overlapping podSelectors",
      steps: [
        {
          policies: [
            allowToA("allow-81", [{ namespaceSelector: lbl("ns", "y") }], [{ port: 81, protocol: "TCP" }]),
          ],
          probes: [tcp(80, aIsolated())],
        },
        {
          policies: [
            allowToA("allow-81", [{ namespaceSelector: lbl("ns", "y") }], [{ port: 81, protocol: "TCP" }]),
            allowToA("allow-80", [{ namespaceSelector: lbl("ns", "y") }], [{ port: 80, protocol: "TCP" }]),
          ],
          probes: [tcp(80, aFromYOnly())],
        },
      ],
    },
    one(
      "should support allow-all policy",
      [np("x", "allow-all", { podSelector: {}, ingress: [{}] })],
      tcp(80, R(true)),
      tcp(81, R(true)),
    ),
    one(
      "should allow ingress access on one named port",
      [np("x", "allow-named-81", { podSelector: {}, ingress: [{ ports: [{ port: "serve-81-tcp" }] }] })],
      tcp(81, R(true)),
      tcp(80, R(true).expectPeer({}, { ns: "x" }, false)),
    ),
    one(
      "should allow ingress access from namespace on one named port",
      [
        np("x", "allow-y-named-80", {
          podSelector: {},
          ingress: [{ from: [{ namespaceSelector: lbl("ns", "y") }], ports: [{ port: "serve-80-tcp" }] }],
        }),
      ],
      tcp(80, R(true).expectPeer({}, { ns: "x" }, false).expectPeer({ ns: "y" }, { ns: "x" }, true)),
      tcp(81, R(true).expectPeer({}, { ns: "x" }, false)),
    ),
    one(
      "should allow egress access on one named port",
      [
        np("x", "allow-egress-named-80", {
          podSelector: {},
          policyTypes: ["Egress"],
          egress: [{ ports: [{ port: "serve-80-tcp" }] }],
        }),
      ],
      tcp(80, R(true)),
      tcp(81, R(true).expectPeer({ ns: "x" }, {}, false)),
    ),
    {
      name: "should enforce updated policy",
      steps: [
        { policies: [np("x", "mutate", { podSelector: {}, ingress: [{}] })], probes: [tcp(81, R(true))] },
        {
          policies: [np("x", "mutate", { podSelector: {}, policyTypes: ingressOnly, ingress: [] })],
          probes: [tcp(81, R(true).expectPeer({}, { ns: "x" }, false))],
        },
      ],
    },
    {
      name: "should allow ingress access from updated namespace",
      steps: [
        {
          policies: [allowToA("allow-ns2", [{ namespaceSelector: lbl("ns2", "updated") }])],
          probes: [tcp(80, aIsolated())],
        },
        {
          policies: [allowToA("allow-ns2", [{ namespaceSelector: lbl("ns2", "updated") }])],
          nsLabels: { y: { ns: "y", ns2: "updated" } },
          probes: [tcp(80, aFromYOnly())],
        },
      ],
    },
    {
      name: "should allow ingress access from updated pod",
      steps: [
        {
          policies: [allowToA("allow-pod2", [{ podSelector: lbl("pod2", "updated") }])],
          probes: [tcp(80, aIsolated())],
        },
        {
          policies: [allowToA("allow-pod2", [{ podSelector: lbl("pod2", "updated") }])],
          podLabels: { "x/b": { pod: "b", pod2: "updated" } },
          probes: [tcp(80, aIsolated().expect("x/b", "x/a", true))],
        },
      ],
    },
    one(
      "should deny ingress from pods on other namespaces",
      [np("x", "same-ns-only", { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })],
      tcp(
        80,
        R(true).expectPeer({ ns: "y" }, { ns: "x" }, false).expectPeer({ ns: "z" }, { ns: "x" }, false),
      ),
    ),
    {
      name: "should deny ingress access to updated pod",
      steps: [
        {
          policies: [
            np("x", "deny-isolated", { podSelector: lbl("target", "isolated"), policyTypes: ingressOnly }),
          ],
          probes: [tcp(80, R(true))],
        },
        {
          policies: [
            np("x", "deny-isolated", { podSelector: lbl("target", "isolated"), policyTypes: ingressOnly }),
          ],
          podLabels: { "x/a": { pod: "a", target: "isolated" } },
          probes: [tcp(80, aIsolated())],
        },
      ],
    },
    one(
      "should deny egress from pods based on PodSelector",
      [np("x", "deny-egress-a", { podSelector: podA, policyTypes: ["Egress"] })],
      tcp(80, R(true).expectAllEgress("x/a", false)),
    ),
    one(
      "should deny egress from all pods in a namespace",
      [np("x", "deny-egress", { podSelector: {}, policyTypes: ["Egress"] })],
      tcp(80, R(true).expectPeer({ ns: "x" }, {}, false)),
    ),
    one(
      "should work with Ingress, Egress specified together",
      [
        np("x", "in-and-out", {
          podSelector: podA,
          ingress: [{ from: [{ podSelector: lbl("pod", "b") }] }],
          egress: [{ to: [{ podSelector: lbl("pod", "b") }], ports: [{ port: 80 }] }],
        }),
      ],
      tcp(
        80,
        aIsolated().expect("x/b", "x/a", true).expectAllEgress("x/a", false).expect("x/a", "x/b", true),
      ),
      tcp(81, aIsolated().expect("x/b", "x/a", true).expectAllEgress("x/a", false)),
    ),
    one(
      "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
      [
        np("x", "egress-to-y", {
          podSelector: podA,
          policyTypes: ["Egress"],
          egress: [{ to: [{ namespaceSelector: lbl("ns", "y") }] }],
        }),
        np("y", "ingress-from-xa", {
          podSelector: podA,
          ingress: [{ from: [{ namespaceSelector: lbl("ns", "x"), podSelector: podA }] }],
        }),
        np("z", "ingress-from-xa", {
          podSelector: lbl("pod", "b"),
          ingress: [{ from: [{ namespaceSelector: lbl("ns", "x"), podSelector: podA }] }],
        }),
      ],
      tcp(
        80,
        R(true)
          .expectAllEgress("x/a", false)
          .expectPeer({ ns: "x", pod: "a" }, { ns: "y" }, true)
          .expectAllIngress("y/a", false)
          .expect("x/a", "y/a", true)
          .expectAllIngress("z/b", false),
      ),
    ),
    one(
      "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
      [
        np("x", "egress-ya", {
          podSelector: podA,
          policyTypes: ["Egress"],
          egress: [{ to: [{ namespaceSelector: lbl("ns", "y"), podSelector: podA }] }],
        }),
      ],
      tcp(80, R(true).expectAllEgress("x/a", false).expect("x/a", "y/a", true)),
    ),
    one(
      "should enforce ingress policy allowing any port traffic to a server on a specific protocol",
      [np("x", "tcp-any-port", { podSelector: podA, ingress: [{ ports: [{ protocol: "TCP" }] }] })],
      tcp(80, R(true)),
      tcp(81, R(true)),
      udp(80, aIsolated()),
    ),
    {
      name: "should enforce multiple ingress policies with ingress allow-all policy taking precedence",
      steps: [
        {
          policies: [allowToA("only-81", [], [{ port: 81 }])],
          probes: [tcp(80, aIsolated())],
        },
        {
          policies: [
            allowToA("only-81", [], [{ port: 81 }]),
            np("x", "allow-all", { podSelector: {}, ingress: [{}] }),
          ],
          probes: [tcp(80, R(true))],
        },
      ],
    },
    {
      name: "should enforce multiple egress policies with egress allow-all policy taking precedence",
      steps: [
        {
          policies: [
            np("x", "egress-81", {
              podSelector: podA,
              policyTypes: ["Egress"],
              egress: [{ ports: [{ port: 81 }] }],
            }),
          ],
          probes: [tcp(80, R(true).expectAllEgress("x/a", false))],
        },
        {
          policies: [
            np("x", "egress-81", {
              podSelector: podA,
              policyTypes: ["Egress"],
              egress: [{ ports: [{ port: 81 }] }],
            }),
            np("x", "egress-all", { podSelector: podA, policyTypes: ["Egress"], egress: [{}] }),
          ],
          probes: [tcp(80, R(true))],
        },
      ],
    },
    {
      name: "should stop enforcing policies after they are deleted",
      steps: [
        {
          policies: [np("x", "deny-all", { podSelector: {}, policyTypes: ["Ingress", "Egress"] })],
          probes: [tcp(80, R(true).expectPeer({}, { ns: "x" }, false).expectPeer({ ns: "x" }, {}, false))],
        },
        { policies: [], probes: [tcp(80, R(true))] },
      ],
    },
    one(
      "should allow egress access to server in CIDR block",
      [
        np("x", "egress-cidr", {
          podSelector: podA,
          policyTypes: ["Egress"],
          egress: [{ to: [{ ipBlock: { cidr: `${m.ip("y/b")}/32` } }] }],
        }),
      ],
      tcp(80, R(true).expectAllEgress("x/a", false).expect("x/a", "y/b", true)),
    ),
    one(
      "should enforce except clause while egress access to server in CIDR block",
      [
        np("x", "egress-except", {
          podSelector: podA,
          policyTypes: ["Egress"],
          egress: [{ to: [{ ipBlock: { cidr: `10.${m.net}.0.0/16`, except: [`${m.ip("x/b")}/32`] } }] }],
        }),
      ],
      tcp(80, R(true).expect("x/a", "x/b", false)),
    ),
    {
      name: "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
      steps: [
        {
          policies: [
            np("x", "egress-except", {
              podSelector: podA,
              policyTypes: ["Egress"],
              egress: [{ to: [{ ipBlock: { cidr: `10.${m.net}.0.0/16`, except: [`${m.ip("x/b")}/32`] } }] }],
            }),
          ],
          probes: [tcp(80, R(true).expect("x/a", "x/b", false))],
        },
        {
          policies: [
            np("x", "egress-except", {
              podSelector: podA,
              policyTypes: ["Egress"],
              egress: [{ to: [{ ipBlock: { cidr: `10.${m.net}.0.0/16`, except: [`${m.ip("x/b")}/32`] } }] }],
            }),
            np("x", "egress-xb", {
              podSelector: podA,
              policyTypes: ["Egress"],
              egress: [{ to: [{ ipBlock: { cidr: `${m.ip("x/b")}/32` } }] }],
            }),
          ],
          probes: [tcp(80, R(true))],
        },
      ],
    },
    {
      name: "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector",
      steps: [
        {
          policies: [np("x", "deny-egress-a", { podSelector: podA, policyTypes: ["Egress"] })],
          probes: [tcp(80, R(true).expectAllEgress("x/a", false))],
        },
        {
          policies: [
            np("x", "deny-egress-a", { podSelector: podA, policyTypes: ["Egress"] }),
            np("x", "deny-ingress-b", { podSelector: lbl("pod", "b"), policyTypes: ingressOnly }),
          ],
          probes: [tcp(80, R(true).expectAllEgress("x/a", false).expectAllIngress("x/b", false))],
        },
      ],
    },
    one(
      "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
      [np("x", "sctp-80", { podSelector: podA, ingress: [{ ports: [{ protocol: "SCTP", port: 80 }] }] })],
      tcp(80, aIsolated()),
    ),
    one(
      "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
      [np("x", "sctp-any", { podSelector: podA, ingress: [{ ports: [{ protocol: "SCTP" }] }] })],
      tcp(81, aIsolated()),
    ),
    one(
      "should not allow access by TCP when a policy specifies only UDP",
      [np("x", "udp-81", { podSelector: podA, ingress: [{ ports: [{ protocol: "UDP", port: 81 }] }] })],
      tcp(81, aIsolated()),
      udp(81, R(true)),
    ),
    fromYOnly(
      "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label",
      "default-ns-label",
      lbl("kubernetes.io/metadata.name", "y"),
    ),
    one(
      "should enforce policy based on NamespaceSelector with MatchExpressions using default ns label",
      [
        np("x", "egress-not-y", {
          podSelector: podA,
          policyTypes: ["Egress"],
          egress: [
            {
              to: [
                {
                  namespaceSelector: {
                    matchExpressions: [
                      { key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["y"] },
                    ],
                  },
                },
              ],
            },
          ],
        }),
      ],
      tcp(80, R(true).expectPeer({ ns: "x", pod: "a" }, { ns: "y" }, false)),
    ),
    one(
      "should enforce policy based on Ports range (endPort)",
      [allowToA("range-80-81", [{ namespaceSelector: lbl("ns", "y") }], [{ port: 80, endPort: 81 }])],
      tcp(80, aFromYOnly()),
      tcp(81, aFromYOnly()),
    ),
    one(
      "should enforce policy based on Ports range not covering the probed port (endPort)",
      [allowToA("range-81-90", [{ namespaceSelector: lbl("ns", "y") }], [{ port: 81, endPort: 90 }])],
      tcp(80, aIsolated()),
    ),
    one(
      "should allow ingress from an ipBlock",
      [allowToA("from-yb-ip", [{ ipBlock: { cidr: `${m.ip("y/b")}/32` } }])],
      tcp(80, aIsolated().expect("y/b", "x/a", true)),
    ),
    one(
      "UDP: should support a 'default-deny-ingress' policy",
      [denyIngressX()],
      udp(80, R(true).expectPeer({}, { ns: "x" }, false)),
    ),
    one(
      "UDP: should enforce policy based on Ports",
      [allowToA("allow-udp-81", [{ namespaceSelector: lbl("ns", "y") }], [{ port: 81, protocol: "UDP" }])],
      udp(80, aIsolated()),
      udp(81, aFromYOnly()),
    ),
    one(
      "UDP: should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
      [
        allowToA(
          "allow-ya-udp",
          [{ namespaceSelector: lbl("ns", "y"), podSelector: podA }],
          [{ port: 80, protocol: "UDP" }],
        ),
      ],
      udp(80, aIsolated().expect("y/a", "x/a", true)),
    ),
  ];
}

const nsSel = (ns: string) => ({ namespaces: lbl("kubernetes.io/metadata.name", ns) });

export function adminCases(m: IpModel): Case[] {
  return [
    one(
      "ANP: Deny ingress from a namespace",
      [
        anp("deny-y-to-x", {
          priority: 10,
          subject: nsSel("x"),
          ingress: [{ name: "deny-y", action: "Deny", from: [nsSel("y")] }],
        }),
      ],
      tcp(80, R(true).expectPeer({ ns: "y" }, { ns: "x" }, false)),
    ),
    one(
      "ANP: Allow overrides a NetworkPolicy deny",
      [
        np("x", "deny-ingress", { podSelector: {}, policyTypes: ingressOnly }),
        anp("allow-y-to-x", {
          priority: 10,
          subject: nsSel("x"),
          ingress: [{ action: "Allow", from: [nsSel("y")] }],
        }),
      ],
      tcp(80, R(true).expectPeer({}, { ns: "x" }, false).expectPeer({ ns: "y" }, { ns: "x" }, true)),
    ),
    one(
      "ANP: Pass hands the decision to NetworkPolicy, skipping lower-precedence ANPs",
      [
        anp("pass-y", {
          priority: 10,
          subject: nsSel("x"),
          ingress: [{ action: "Pass", from: [nsSel("y")] }],
        }),
        anp("deny-y", {
          priority: 20,
          subject: nsSel("x"),
          ingress: [{ action: "Deny", from: [nsSel("y")] }],
        }),
        np("x", "allow-ya", {
          podSelector: {},
          ingress: [{ from: [{ namespaceSelector: lbl("ns", "y"), podSelector: podA }] }],
        }),
      ],
      tcp(
        80,
        R(true).expectPeer({}, { ns: "x" }, false).expectPeer({ ns: "y", pod: "a" }, { ns: "x" }, true),
      ),
    ),
    one(
      "ANP: a lower priority number takes precedence",
      [
        anp("allow-y-to-xa", {
          priority: 5,
          subject: { pods: { namespaceSelector: lbl("ns", "x"), podSelector: podA } },
          ingress: [{ action: "Allow", from: [nsSel("y")] }],
        }),
        anp("deny-y-to-x", {
          priority: 10,
          subject: nsSel("x"),
          ingress: [{ action: "Deny", from: [nsSel("y")] }],
        }),
      ],
      tcp(
        80,
        R(true)
          .expectPeer({ ns: "y" }, { ns: "x" }, false)
          .expectPeer({ ns: "y" }, { ns: "x", pod: "a" }, true),
      ),
    ),
    one(
      "ANP: egress Deny on a port number",
      [
        anp("deny-x-to-z-80", {
          priority: 10,
          subject: nsSel("x"),
          egress: [
            { action: "Deny", to: [nsSel("z")], ports: [{ portNumber: { protocol: "TCP", port: 80 } }] },
          ],
        }),
      ],
      tcp(80, R(true).expectPeer({ ns: "x" }, { ns: "z" }, false)),
      tcp(81, R(true)),
    ),
    one(
      "ANP: namedPort resolves on the destination pod",
      [
        anp("deny-named-80", {
          priority: 10,
          subject: nsSel("x"),
          ingress: [{ action: "Deny", from: [{ namespaces: {} }], ports: [{ namedPort: "serve-80-tcp" }] }],
        }),
      ],
      tcp(80, R(true).expectPeer({}, { ns: "x" }, false)),
      tcp(81, R(true)),
      udp(80, R(true)),
    ),
    one(
      "ANP: portRange on UDP",
      [
        anp("deny-udp-range", {
          priority: 10,
          subject: nsSel("y"),
          egress: [
            {
              action: "Deny",
              to: [{ namespaces: {} }],
              ports: [{ portRange: { protocol: "UDP", start: 80, end: 81 } }],
            },
          ],
        }),
      ],
      udp(80, R(true).expectPeer({ ns: "y" }, {}, false)),
      tcp(80, R(true)),
    ),
    one(
      "ANP: egress to networks",
      [
        anp("deny-z-to-xa-ip", {
          priority: 10,
          subject: nsSel("z"),
          egress: [{ action: "Deny", to: [{ networks: [`${m.ip("x/a")}/32`] }] }],
        }),
      ],
      tcp(80, R(true).expectPeer({ ns: "z" }, { ns: "x", pod: "a" }, false)),
    ),
    one(
      "BANP: Deny applies when no NetworkPolicy selects the pod",
      [banp({ subject: nsSel("x"), ingress: [{ action: "Deny", from: [nsSel("y")] }] })],
      tcp(80, R(true).expectPeer({ ns: "y" }, { ns: "x" }, false)),
    ),
    one(
      "BANP: a NetworkPolicy selecting the pod overrides it",
      [
        banp({ subject: nsSel("x"), ingress: [{ action: "Deny", from: [nsSel("y")] }] }),
        allowToA("allow-y-to-a", [{ namespaceSelector: lbl("ns", "y") }]),
      ],
      tcp(80, withAFromYOnly(R(true).expectPeer({ ns: "y" }, { ns: "x" }, false))),
    ),
    one(
      "ANP Pass then BANP Deny",
      [
        anp("pass-y", {
          priority: 10,
          subject: nsSel("x"),
          ingress: [{ action: "Pass", from: [nsSel("y")] }],
        }),
        banp({
          subject: nsSel("x"),
          ingress: [
            { action: "Deny", from: [nsSel("y")] },
            { action: "Allow", from: [{ namespaces: {} }] },
          ],
        }),
      ],
      tcp(80, R(true).expectPeer({ ns: "y" }, { ns: "x" }, false)),
    ),
    one(
      "CNP v1beta1: Admin tier Deny on TCP port only",
      [
        cnp("admin-deny-tcp80", {
          tier: "Admin",
          priority: 10,
          subject: nsSel("x"),
          ingress: [
            { action: "Deny", from: [nsSel("y")], protocols: [{ tcp: { destinationPort: { number: 80 } } }] },
          ],
        }),
      ],
      tcp(80, R(true).expectPeer({ ns: "y" }, { ns: "x" }, false)),
      udp(80, R(true)),
    ),
    one(
      "CNP v1beta1: Baseline tier Accept then Deny",
      [
        cnp("baseline-z", {
          tier: "Baseline",
          priority: 10,
          subject: nsSel("z"),
          ingress: [
            { action: "Accept", from: [nsSel("x")] },
            { action: "Deny", from: [{ namespaces: {} }] },
          ],
        }),
      ],
      tcp(
        80,
        R(true).expectPeer({ ns: "y" }, { ns: "z" }, false).expectPeer({ ns: "z" }, { ns: "z" }, false),
      ),
    ),
    one(
      "CNP v1alpha2: Admin Accept overrides a NetworkPolicy deny",
      [
        np("y", "deny-ingress", { podSelector: {}, policyTypes: ingressOnly }),
        cnp(
          "accept-x-to-y",
          {
            tier: "Admin",
            priority: 10,
            subject: nsSel("y"),
            ingress: [{ action: "Accept", from: [nsSel("x")] }],
          },
          "v1alpha2",
        ),
      ],
      tcp(80, R(true).expectPeer({}, { ns: "y" }, false).expectPeer({ ns: "x" }, { ns: "y" }, true)),
    ),
    one(
      "CNP: Admin Pass then Baseline Deny",
      [
        cnp("admin-pass", {
          tier: "Admin",
          priority: 5,
          subject: nsSel("z"),
          ingress: [{ action: "Pass", from: [nsSel("y")] }],
        }),
        cnp("admin-deny", {
          tier: "Admin",
          priority: 6,
          subject: nsSel("z"),
          ingress: [{ action: "Deny", from: [{ namespaces: {} }] }],
        }),
        cnp("baseline-deny", {
          tier: "Baseline",
          priority: 5,
          subject: nsSel("z"),
          ingress: [{ action: "Deny", from: [nsSel("y")] }],
        }),
      ],
      tcp(80, R(true).expectPeer({}, { ns: "z" }, false)),
    ),
    one(
      "CNP: port range and named port on egress",
      [
        cnp("egress-x", {
          tier: "Admin",
          priority: 10,
          subject: nsSel("x"),
          egress: [
            { action: "Accept", to: [nsSel("y")], protocols: [{ destinationNamedPort: "serve-81-tcp" }] },
            {
              action: "Deny",
              to: [{ namespaces: {} }],
              protocols: [{ tcp: { destinationPort: { range: { start: 79, end: 81 } } } }],
            },
          ],
        }),
      ],
      tcp(80, R(true).expectPeer({ ns: "x" }, {}, false)),
      tcp(81, R(true).expectPeer({ ns: "x" }, {}, false).expectPeer({ ns: "x" }, { ns: "y" }, true)),
    ),
  ];
}

const tenantOf = (name: string, ns: string, isolation: string, allow?: Doc) =>
  tenant(name, {
    namespaceSelector: lbl("kubernetes.io/metadata.name", ns),
    isolation,
    ...(allow ? { allow } : {}),
  });

export function tenantCases(): Case[] {
  const isolatedX = () =>
    R(true)
      .expectPeer({ ns: "x" }, { ns: "y" }, false)
      .expectPeer({ ns: "x" }, { ns: "z" }, false)
      .expectPeer({ ns: "y" }, { ns: "x" }, false)
      .expectPeer({ ns: "z" }, { ns: "x" }, false);
  return [
    one(
      "Tenant Strict: no traffic across its boundary",
      [tenantOf("tx", "x", "Strict")],
      tcp(80, isolatedX()),
    ),
    one(
      "Tenant Strict: a NetworkPolicy inside cannot open it",
      [
        tenantOf("tx", "x", "Strict"),
        np("x", "allow-everything-in", { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {} }] }] }),
        np("x", "allow-everything-out", { podSelector: {}, policyTypes: ["Egress"], egress: [{}] }),
      ],
      tcp(80, isolatedX()),
    ),
    one(
      "Tenant Baseline: a NetworkPolicy can open it",
      [tenantOf("tx", "x", "Baseline"), allowToA("allow-y-to-a", [{ namespaceSelector: lbl("ns", "y") }])],
      tcp(80, withAFromYOnly(isolatedX())),
    ),
    one(
      "Tenant allow lists: tenants by name (both must consent) and a shared namespace",
      [
        tenantOf("tx", "x", "Strict", { tenants: ["ty"], namespaces: ["z"] }),
        tenantOf("ty", "y", "Strict", { tenants: ["tx"] }),
      ],
      tcp(
        80,
        R(true).expectPeer({ ns: "y" }, { ns: "z" }, false).expectPeer({ ns: "z" }, { ns: "y" }, false),
      ),
    ),
    {
      name: "Tenant allow list by namespace selector",
      steps: [
        {
          policies: [tenantOf("tx", "x", "Strict", { namespaceSelector: lbl("shared", "true") })],
          nsLabels: { z: { ns: "z", shared: "true" } },
          probes: [
            tcp(
              80,
              R(true).expectPeer({ ns: "x" }, { ns: "y" }, false).expectPeer({ ns: "y" }, { ns: "x" }, false),
            ),
          ],
        },
      ],
    },
    one(
      "Tenant Strict: an admin policy can open it",
      [
        tenantOf("tx", "x", "Strict"),
        anp("allow-y-into-x", {
          priority: 1,
          subject: nsSel("x"),
          ingress: [{ action: "Allow", from: [nsSel("y")] }],
        }),
      ],
      tcp(80, isolatedX().expectPeer({ ns: "y" }, { ns: "x" }, true)),
    ),
    one("Tenant None: only groups namespaces", [tenantOf("tx", "x", "None")], tcp(80, R(true))),
  ];
}
