// End to end, as root: Service advertisement in the lab (issue 9), as a
// Calico user expects it. A 3-node lab; BGPConfiguration `default` gets
// serviceLoadBalancerIPs and serviceClusterIPs; a LoadBalancer Service with
// externalTrafficPolicy Local has endpoint pods on node-1 and node-2. The
// Service has no selector and its EndpointSlices are written here (a custom
// managed-by label), so the test decides the endpoints: the lab's
// kube-controller-manager runs the endpointslice controller, which would
// otherwise keep its own slice for a selector (and the lab's kubelet stand-in
// has no readiness probes to drive it). The ToR's BIRD must hold its ingress IP's /32 (and /128) from
// exactly node-1 and node-2; removing node-2's endpoint withdraws node-2's
// path within two seconds; Cluster makes every node advertise it (through the
// configured CIDR); the serviceClusterIPs CIDR comes from every node; an
// ingress IP outside serviceLoadBalancerIPs is never advertised.
//
// Reachability: through the lab's kube-proxy (nftables mode, lab/kube-proxy.ts),
// which programs the load balancer IP from the Service's status and the
// endpoints from the EndpointSlices written here; with externalTrafficPolicy
// Local each node sends it to its own endpoint pod only. A TCP connection
// from the ToR to the load balancer IP (lab/probe.ts's socat client) must be
// answered by the lab's echo listener (lab/kubelet/pod-echo.ts) of a pod on
// a node the ToR routes it to.
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labLayout } from "../../lab/lab-layout.js";
import { labPrefix } from "../../lab/lab-names.js";
import { probeFromNetns } from "../../lab/probe.js";
import { kubectlApply, kubectlIn, must, run, trellisctl, type Run } from "../lab/lab-commands.js";
import { busyboxPod } from "../lab/lab-pods.js";
import { maybe } from "../lab/suite-lab.js";
import { until } from "../support/until.js";

const LB_CIDR = "198.51.100.0/24";
const LB_CIDR6 = "2001:db8:51::/112";
const LB_IP = "198.51.100.10";
const LB_IP6 = "2001:db8:51::10";
/** The lab API server allocates cluster IPs from 10.96.0.0/16 (lab/apiserver/api.ts). */
const CLUSTER_CIDR = "10.96.0.0/16";
/** Outside every serviceLoadBalancerIPs CIDR. */
const OUTSIDE_IP = "203.0.113.10";
const NS = "svc";

maybe("BGP fabric: Service advertisement (3 nodes)", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-svc-"));
  const prefix = labPrefix(dir);
  const L = labLayout(dir);
  const kubectl = (...args: string[]): Promise<Run> => kubectlIn(dir, ...args);
  /** One TCP connection from the ToR to the load balancer IP: the echo pod's first line ("" if none). */
  const torConnect = async (): Promise<{ code: number; out: string }> => {
    const v = await probeFromNetns(`${prefix}tor`, LB_IP, 80, "TCP", 3000);
    return { code: v.outcome === "connected" ? 0 : 1, out: v.reply ?? "" };
  };
  const webClusterIP = async (): Promise<string> =>
    (await kubectl("get", "service", "-n", NS, "web", "-o", "jsonpath={.spec.clusterIP}")).out;
  const patchService = (name: string, patch: string, ...extra: string[]): Promise<Run> =>
    must(
      `patch Service ${name}`,
      kubectl("patch", "service", "-n", NS, name, "--type=merge", "-p", patch, ...extra),
    );
  const down = async (): Promise<void> => {
    await trellisctl("lab", "down", "--dir", dir);
    rmSync(dir, { recursive: true, force: true });
  };
  /** Pod name → its addresses (IPv4 first). */
  const podIPs = new Map<string, string[]>();

  /** The BIRD protocols (node_N, node_N_v6) the ToR holds a route for exactly `prefix` from. */
  const torPaths = async (pfx: string): Promise<string[]> => {
    const r = await run("birdc", ["-s", L.birdSocket, "show", "route", "all", pfx]);
    return [...new Set([...r.out.matchAll(/unicast \[(node_\d+(?:_v6)?) /g)].map((m) => m[1] ?? ""))].sort();
  };
  /** The ToR's longest match for `ip`: its prefix and the protocols it came from. */
  const torLookup = async (ip: string): Promise<{ prefix: string; from: string[] }> => {
    const r = await run("birdc", ["-s", L.birdSocket, "show", "route", "for", ip, "all"]);
    const prefix = /^(\S+\/\d+)\s+unicast/m.exec(r.out)?.[1] ?? "";
    return {
      prefix,
      from: [...new Set([...r.out.matchAll(/unicast \[(node_\d+) /g)].map((m) => m[1] ?? ""))].sort(),
    };
  };
  const pathsBecome = (pfx: string, want: string[], ms: number): Promise<true> =>
    until(
      `the ToR's paths for ${pfx} to be ${want.join(",") || "none"}`,
      async () => (JSON.stringify(await torPaths(pfx)) === JSON.stringify(want) ? true : undefined),
      ms,
    );

  const slice = (family: 4 | 6, nodes: string[]): string => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-ipv${family}
  namespace: ${NS}
  labels: {kubernetes.io/service-name: web, endpointslice.kubernetes.io/managed-by: trellis-test}
addressType: IPv${family}
ports: [{name: "", port: 8080, protocol: TCP}]
endpoints:
${nodes
  .map((n) => {
    const pod = `web-${n.replace("node-", "")}`;
    const ip = (podIPs.get(pod) ?? []).find((a) => a.includes(":") === (family === 6));
    return (
      `  - addresses: [${JSON.stringify(ip)}]\n    nodeName: ${n}\n` +
      `    targetRef: {kind: Pod, namespace: ${NS}, name: ${pod}}\n` +
      `    conditions: {ready: true, serving: true, terminating: false}`
    );
  })
  .join("\n")}
`;
  /** What the endpointslice controller would write for endpoints on `nodes`: one slice per family. */
  const writeSlices = (nodes: string[]): Promise<Run> =>
    must("apply EndpointSlices", kubectlApply(dir, slice(4, nodes) + slice(6, nodes)));

  beforeAll(async () => {
    try {
      // The kubelet stand-in (not the lab's default real nodes): its echo listeners answer the probes.
      await must("lab up", trellisctl("lab", "up", "--nodes", "3", "--dir", dir, "--kubelet", "standin"));
      const cfg = {
        spec: {
          serviceLoadBalancerIPs: [{ cidr: LB_CIDR }, { cidr: LB_CIDR6 }],
          serviceClusterIPs: [{ cidr: CLUSTER_CIDR }],
        },
      };
      await must(
        "patch BGPConfiguration",
        kubectl("patch", "bgpconfiguration", "default", "--type=merge", "-p", JSON.stringify(cfg)),
      );
      const svc = (name: string): string => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${NS}}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  ports: [{port: 80, targetPort: 8080, protocol: TCP}]
`;
      await must(
        "apply pods and Services",
        kubectlApply(
          dir,
          `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${NS}}\n` +
            busyboxPod(NS, "web-1", "node-1", "web") +
            busyboxPod(NS, "web-2", "node-2", "web") +
            svc("web") +
            svc("outside"),
        ),
      );
      await until(
        "the endpoint pods Running with both addresses",
        async () => {
          const g = await kubectl("get", "pods", "-n", NS, "-o", "json");
          const items = (
            JSON.parse(g.out) as {
              items: { metadata: { name: string }; status: { phase?: string; podIPs?: { ip: string }[] } }[];
            }
          ).items;
          if (items.length !== 2 || !items.every((p) => p.status.phase === "Running")) return undefined;
          if (!items.every((p) => (p.status.podIPs ?? []).length === 2)) return undefined;
          for (const p of items)
            podIPs.set(
              p.metadata.name,
              (p.status.podIPs ?? [])
                .map((x) => x.ip)
                .sort((a, b) => Number(a.includes(":")) - Number(b.includes(":"))),
            );
          return true;
        },
        60_000,
      );
      // What a load balancer controller does: the ingress addresses, in the status subresource.
      const ingress = (ips: string[]): string =>
        JSON.stringify({ status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } } });
      await patchService("web", ingress([LB_IP, LB_IP6]), "--subresource=status");
      await patchService("outside", ingress([OUTSIDE_IP]), "--subresource=status");
      await writeSlices(["node-1", "node-2"]);
      await must(
        "apply the outside EndpointSlice",
        kubectlApply(
          dir,
          `apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n` +
            `metadata: {name: outside-ipv4, namespace: ${NS}, labels: {kubernetes.io/service-name: outside}}\n` +
            `addressType: IPv4\nendpoints: [{addresses: ["${podIPs.get("web-1")?.[0]}"], nodeName: node-1}]\n`,
        ),
      );
      // kube-proxy has programmed the load balancer IP on the nodes with an endpoint.
      await until(
        "the load balancer IP answering from the ToR",
        async () => (await torConnect()).code === 0,
        30_000,
        250,
      );
    } catch (e) {
      await down();
      throw e;
    }
  }, 240_000);

  afterAll(down, 60_000);

  it("externalTrafficPolicy Local: the ToR holds the load balancer IP's /32 and /128, and the cluster IP's /32, from exactly node-1 and node-2", async () => {
    await pathsBecome(`${LB_IP}/32`, ["node_1", "node_2"], 15_000);
    await pathsBecome(`${LB_IP6}/128`, ["node_1_v6", "node_2_v6"], 15_000);
    // its cluster IP too (inside serviceClusterIPs; Local for cluster IPs as well, as in Calico)
    const ip = await webClusterIP();
    await pathsBecome(`${ip}/32`, ["node_1", "node_2"], 15_000);
    // Settled, not a snapshot on the way: node-3 still does not advertise it.
    await new Promise((r) => setTimeout(r, 1000));
    expect(await torPaths(`${LB_IP}/32`)).toEqual(["node_1", "node_2"]);
  }, 40_000);

  it("a TCP connection from the ToR to the load balancer IP is answered by a pod on a node hosting an endpoint", async () => {
    const r = await torConnect();
    expect(r.code).toBe(0);
    expect([`${NS}/web-1`, `${NS}/web-2`]).toContain(r.out.trim());
  }, 30_000);

  it("with the ToR hashing on ports, connections reach both endpoint nodes (ECMP over the two /32 paths)", async () => {
    // Layer 4 hashing (the kernel's default hashes addresses only, so one client lands on one node).
    await must(
      "ToR hash policy",
      run("ip", ["netns", "exec", `${prefix}tor`, "sysctl", "-qw", "net.ipv4.fib_multipath_hash_policy=1"]),
    );
    const seen = new Set<string>();
    for (let i = 0; i < 24 && seen.size < 2; i++) {
      const r = await torConnect();
      seen.add(r.out.trim());
    }
    expect([...seen].sort()).toEqual([`${NS}/web-1`, `${NS}/web-2`]);
  }, 60_000);

  it("an ingress IP outside every serviceLoadBalancerIPs CIDR is never advertised, and the agent says so once", async () => {
    const line = `${OUTSIDE_IP} is outside every serviceLoadBalancerIPs CIDR; not advertised`;
    const log = L.node("node-1").agentLog;
    await until("the agent's log line", () => readFileSync(log, "utf8").includes(line), 15_000);
    // recomputes later (a Service changed meanwhile), still one line
    for (const v of ["1", "2"])
      await must(
        "annotate web",
        kubectl("annotate", "service", "-n", NS, "web", `test/touch=${v}`, "--overwrite"),
      );
    await new Promise((r) => setTimeout(r, 2000));
    expect(
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.includes(line)),
    ).toHaveLength(1);
    expect(await torPaths(`${OUTSIDE_IP}/32`)).toEqual([]);
    expect((await torLookup(OUTSIDE_IP)).prefix).toBe("");
  }, 40_000);

  it("removing node-2's endpoint withdraws node-2's path from the ToR within two seconds", async () => {
    await pathsBecome(`${LB_IP}/32`, ["node_1", "node_2"], 15_000);
    const t0 = Date.now();
    await writeSlices(["node-1"]);
    const [ms4, ms6] = await Promise.all([
      pathsBecome(`${LB_IP}/32`, ["node_1"], 10_000).then(() => Date.now() - t0),
      pathsBecome(`${LB_IP6}/128`, ["node_1_v6"], 10_000).then(() => Date.now() - t0),
    ]);
    process.stderr.write(
      `services: node-2's /32 withdrawn from the ToR ${ms4} ms, its /128 ${ms6} ms after its endpoint went\n`,
    );
    expect(ms4).toBeLessThanOrEqual(2000);
    expect(ms6).toBeLessThanOrEqual(2000);
    // and, once BIRD's kernel protocol has followed, connections land on the node that has the endpoint
    await until(
      "the ToR's kernel route via node-1 only",
      async () => {
        const r = await run("ip", ["-n", `${prefix}tor`, "route", "show", `${LB_IP}/32`]);
        return !r.out.includes("nexthop") && r.out.includes("to-node-1");
      },
      5000,
    );
    const r = await torConnect();
    expect(r.out.trim()).toBe(`${NS}/web-1`);
  }, 40_000);

  it("externalTrafficPolicy Cluster: every node advertises it (the serviceLoadBalancerIPs CIDR, no /32)", async () => {
    await patchService("web", '{"spec":{"externalTrafficPolicy":"Cluster"}}');
    await pathsBecome(`${LB_IP}/32`, [], 10_000);
    expect(await torLookup(LB_IP)).toEqual({ prefix: LB_CIDR, from: ["node_1", "node_2", "node_3"] });
  }, 30_000);

  it("the serviceClusterIPs CIDR is advertised by every node", async () => {
    expect(await torPaths(CLUSTER_CIDR)).toEqual(["node_1", "node_2", "node_3"]);
    const ip = await webClusterIP();
    expect(await torLookup(ip)).toEqual({ prefix: CLUSTER_CIDR, from: ["node_1", "node_2", "node_3"] });
  }, 30_000);
});
