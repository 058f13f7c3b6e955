/**
 * A synthetic cluster for the policy benchmark: `pods` pods over `nodes`
 * nodes in `tenants * 5` namespaces, `policies` NetworkPolicies (selectors,
 * namespace selectors, named ports, ipBlock with except), a few admin
 * policies, and `tenants` Tenants (Strict and Baseline alternating). The
 * namespace `bench` holds the two dataplane pods (client, server) on node
 * `bench-node`, with `benchPolicies` policies selecting the server, the one
 * that allows the client last.
 */
import type { Doc } from "../../../policy/test/fixtures.js";
import { anp, banp, namespace, networkPolicy, pod, tenant } from "../../../policy/test/fixtures.js";
import { v4Text } from "../../../policy/model/ipv4.js";

export interface Size {
  readonly pods: number;
  readonly policies: number;
  readonly tenants: number;
  readonly nodes: number;
}

export const BENCH_CLIENT_IP = "10.250.0.2";
export const BENCH_SERVER_IP = "10.250.0.3";
export const BENCH_NODE = "bench-node";

const base = (10 << 24) + (64 << 16); // 10.64.0.0

export function syntheticDocs(s: Size, benchPolicies: number): Doc[] {
  const nsCount = Math.max(1, s.tenants * 5);
  const docs: Doc[] = [];
  for (let n = 0; n < nsCount; n++) {
    docs.push(
      namespace(`ns${n}`, { tenant: `t${Math.floor(n / 5)}`, tier: ["fe", "be", "db"][n % 3] as string }),
    );
  }
  docs.push(namespace("shared", { tier: "shared" }), namespace("bench", { tier: "bench" }));
  for (let i = 0; i < s.pods; i++) {
    docs.push(
      pod(
        `ns${i % nsCount}`,
        `p${i}`,
        { app: `app${i % 10}`, role: i % 2 === 0 ? "fe" : "be" },
        {
          node: i % s.nodes === 0 ? BENCH_NODE : `node${i % s.nodes}`,
          ip: v4Text(base + i + 1),
          ports: [{ name: "http", containerPort: 8080 }],
        },
      ),
    );
  }
  for (let k = 0; k < s.policies; k++) {
    const ns = `ns${k % nsCount}`;
    docs.push(
      networkPolicy(ns, `np${k}`, {
        podSelector: { matchLabels: { app: `app${k % 10}` } },
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { app: `app${(k + 1) % 10}` } } },
              {
                namespaceSelector: { matchLabels: { tier: "fe" } },
                podSelector: { matchLabels: { role: "fe" } },
              },
            ],
            ports: [{ port: 80 }, { port: "http" }],
          },
        ],
        ...(k % 3 === 0
          ? {
              egress: [
                {
                  to: [{ ipBlock: { cidr: "10.0.0.0/8", except: ["10.64.0.0/24", "10.65.0.0/16"] } }],
                  ports: [{ port: 443 }],
                },
              ],
              policyTypes: ["Ingress", "Egress"],
            }
          : {}),
      }),
    );
  }
  for (let t = 0; t < s.tenants; t++) {
    docs.push(
      tenant(`t${t}`, {
        namespaceSelector: { matchLabels: { tenant: `t${t}` } },
        isolation: t % 2 === 0 ? "Strict" : "Baseline",
        allow: { namespaces: ["shared"] },
      }),
    );
  }
  const nsSel = (ns: string) => ({ namespaces: { matchLabels: { "kubernetes.io/metadata.name": ns } } });
  for (let a = 0; a < 5; a++) {
    docs.push(
      anp(`anp${a}`, {
        priority: 10 + a,
        subject: nsSel(`ns${a}`),
        ingress: [{ action: "Deny", from: [nsSel(`ns${a + 5}`)] }],
      }),
    );
  }
  docs.push(banp({ subject: { namespaces: {} }, ingress: [{ action: "Allow", from: [nsSel("shared")] }] }));

  // The dataplane pods and the policies that select the server.
  docs.push(pod("bench", "client", { app: "client" }, { node: BENCH_NODE, ip: BENCH_CLIENT_IP }));
  docs.push(
    pod(
      "bench",
      "server",
      { app: "server" },
      {
        node: BENCH_NODE,
        ip: BENCH_SERVER_IP,
        ports: [
          { name: "iperf", containerPort: 5201 },
          { name: "http", containerPort: 80 },
        ],
      },
    ),
  );
  for (let k = 0; k < benchPolicies; k++) {
    const last = k === benchPolicies - 1;
    docs.push(
      networkPolicy("bench", `server-${k}`, {
        podSelector: { matchLabels: { app: "server" } },
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { app: last ? "client" : `nobody-${k}` } } },
              { ipBlock: { cidr: `172.${16 + (k % 16)}.${k % 256}.0/24` } },
            ],
            ports: last ? [{ port: "iperf" }, { port: "http" }] : [{ port: 1000 + k }],
          },
        ],
      }),
    );
  }
  return docs;
}
