import { describe, expect, it } from "@jest/globals";
import {
  endpointSliceFacts,
  serviceCidrs,
  serviceFacts,
  serviceRoutes,
  type EndpointFacts,
  type EndpointSliceFacts,
  type ServiceFacts,
  type ServiceRoutesInput,
} from "../service-routes.js";

const svc = (name: string, over: Partial<ServiceFacts> = {}): ServiceFacts => ({
  namespace: "demo",
  name,
  clusterIPs: [],
  externalIPs: [],
  loadBalancerIPs: [],
  externalTrafficPolicy: "Cluster",
  internalTrafficPolicy: "Cluster",
  ...over,
});
const slice = (service: string, endpoints: EndpointFacts[], namespace = "demo"): EndpointSliceFacts => ({
  namespace,
  service,
  endpoints,
});
const base: ServiceRoutesInput = {
  nodeName: "n1",
  cidrs: {
    cluster: ["10.96.0.0/16", "fd00:96::/112"],
    external: ["192.0.2.0/24"],
    loadBalancer: ["198.51.100.0/24"],
  },
  services: [],
  slices: [],
};
const run = (over: Partial<ServiceRoutesInput>) => serviceRoutes({ ...base, ...over });
const lb = (name: string, policy: "Cluster" | "Local", ip = "198.51.100.7"): ServiceFacts =>
  svc(name, { loadBalancerIPs: [ip], externalTrafficPolicy: policy });

describe("service-routes: which /32 and /128 a node originates for Services", () => {
  // externalTrafficPolicy Local, seen from node n1: which endpoints of the Service make n1 advertise it.
  const LB_HOST = ["198.51.100.7/32"];
  it.each<[string, EndpointFacts[], string[]]>([
    [
      "externalTrafficPolicy Local: the node with a ready endpoint advertises the load balancer IP's /32",
      [{ nodeName: "n1", ready: true }],
      LB_HOST,
    ],
    [
      "externalTrafficPolicy Local: a node without an endpoint of the Service advertises nothing",
      [{ nodeName: "n2", ready: true }],
      [],
    ],
    [
      "an endpoint whose ready condition is absent counts as ready (EndpointSlice API: nil is true)",
      [{ nodeName: "n1" }],
      LB_HOST,
    ],
    ["an endpoint with ready false does not count", [{ nodeName: "n1", ready: false }], []],
    [
      "a terminating endpoint does not count, even if still ready",
      [{ nodeName: "n1", ready: true, terminating: true }],
      [],
    ],
  ])("%s", (_rule, endpoints, want) => {
    const r = run({ services: [lb("web", "Local")], slices: [slice("web", endpoints)] });
    expect(r).toEqual({ prefixes: want, problems: [] });
  });

  it("externalTrafficPolicy Local: no endpoint anywhere, no host route", () => {
    expect(run({ services: [lb("web", "Local")] }).prefixes).toEqual([]);
  });

  it("the last local endpoint gone: the route is withdrawn (one of several endpoints is enough)", () => {
    const two = run({
      services: [lb("web", "Local")],
      slices: [slice("web", [{ nodeName: "n1" }, { nodeName: "n2" }]), slice("web", [{ nodeName: "n1" }])],
    });
    expect(two.prefixes).toEqual(["198.51.100.7/32"]);
    const none = run({ services: [lb("web", "Local")], slices: [slice("web", [{ nodeName: "n2" }])] });
    expect(none.prefixes).toEqual([]);
  });

  it("a slice belongs to the Service of its namespace only", () => {
    const r = run({ services: [lb("web", "Local")], slices: [slice("web", [{ nodeName: "n1" }], "other")] });
    expect(r.prefixes).toEqual([]);
  });

  it("externalTrafficPolicy Cluster: no host route, the configured CIDR (from every node) covers it", () => {
    const r = run({ services: [lb("web", "Cluster")], slices: [slice("web", [{ nodeName: "n1" }])] });
    expect(r).toEqual({ prefixes: [], problems: [] });
  });

  it("a load balancer IP outside every serviceLoadBalancerIPs CIDR is never advertised, and said so", () => {
    const r = run({
      services: [lb("web", "Local", "203.0.113.9")],
      slices: [slice("web", [{ nodeName: "n1" }])],
    });
    expect(r.prefixes).toEqual([]);
    expect(r.problems).toEqual([
      "Service demo/web: load balancer IP 203.0.113.9 is outside every serviceLoadBalancerIPs CIDR; not advertised",
    ]);
  });

  it("an address in another kind's CIDR is not eligible (a load balancer IP inside serviceExternalIPs)", () => {
    const r = run({
      services: [lb("web", "Local", "192.0.2.5")],
      slices: [slice("web", [{ nodeName: "n1" }])],
    });
    expect(r.prefixes).toEqual([]);
    expect(r.problems).toHaveLength(1);
  });

  it("a kind with no CIDR configured: its addresses are not advertised and not reported", () => {
    const r = run({
      cidrs: { cluster: [], external: [], loadBalancer: ["198.51.100.0/24"] },
      services: [svc("web", { clusterIPs: ["10.96.0.10"], externalTrafficPolicy: "Local" })],
      slices: [slice("web", [{ nodeName: "n1" }])],
    });
    expect(r).toEqual({ prefixes: [], problems: [] });
  });

  it("external IPs inside serviceExternalIPs follow externalTrafficPolicy Local", () => {
    const s = svc("web", { externalIPs: ["192.0.2.5"], externalTrafficPolicy: "Local" });
    expect(run({ services: [s], slices: [slice("web", [{ nodeName: "n1" }])] }).prefixes).toEqual([
      "192.0.2.5/32",
    ]);
    expect(run({ services: [s], slices: [slice("web", [{ nodeName: "n2" }])] }).prefixes).toEqual([]);
  });

  it("cluster IPs are Local with externalTrafficPolicy Local (as Calico)", () => {
    const s = svc("web", { clusterIPs: ["10.96.0.10"], externalTrafficPolicy: "Local" });
    expect(run({ services: [s], slices: [slice("web", [{ nodeName: "n1" }])] }).prefixes).toEqual([
      "10.96.0.10/32",
    ]);
  });

  it("cluster IPs are Local with internalTrafficPolicy Local (as Calico)", () => {
    const s = svc("web", { clusterIPs: ["10.96.0.10"], internalTrafficPolicy: "Local" });
    expect(run({ services: [s], slices: [slice("web", [{ nodeName: "n1" }])] }).prefixes).toEqual([
      "10.96.0.10/32",
    ]);
  });

  it("internalTrafficPolicy Local alone does not localise load balancer or external IPs (KEP-2086; Calico does)", () => {
    const s = svc("web", {
      clusterIPs: ["10.96.0.10"],
      externalIPs: ["192.0.2.5"],
      loadBalancerIPs: ["198.51.100.7"],
      internalTrafficPolicy: "Local",
    });
    expect(run({ services: [s], slices: [slice("web", [{ nodeName: "n1" }])] }).prefixes).toEqual([
      "10.96.0.10/32",
    ]);
  });

  it("IPv6 addresses get a /128, sorted after IPv4, no duplicates", () => {
    const s = svc("web", {
      clusterIPs: ["10.96.0.10", "fd00:96::a"],
      externalTrafficPolicy: "Local",
    });
    const r = run({
      services: [s, { ...s, name: "web2" }],
      slices: [slice("web", [{ nodeName: "n1" }]), slice("web2", [{ nodeName: "n1" }])],
    });
    expect(r.prefixes).toEqual(["10.96.0.10/32", "fd00:96::a/128"]);
  });

  it("a malformed address is reported, never thrown", () => {
    const r = run({
      services: [lb("web", "Local", "not-an-ip")],
      slices: [slice("web", [{ nodeName: "n1" }])],
    });
    expect(r.prefixes).toEqual([]);
    expect(r.problems[0]).toMatch(/^Service demo\/web: load balancer IP "not-an-ip" is not an IPv4 address/);
  });

  it("serviceCidrs reads the three lists of a BGPConfiguration spec", () => {
    expect(
      serviceCidrs({
        serviceClusterIPs: [{ cidr: "10.96.0.0/16" }],
        serviceLoadBalancerIPs: [{ cidr: "198.51.100.0/24" }],
      }),
    ).toEqual({ cluster: ["10.96.0.0/16"], external: [], loadBalancer: ["198.51.100.0/24"] });
  });
});

describe("service-routes: API objects to facts", () => {
  it("a LoadBalancer Service: clusterIPs, externalIPs, ingress IPs (hostname-only ingress has none), policies", () => {
    expect(
      serviceFacts({
        metadata: { namespace: "demo", name: "web" },
        spec: {
          type: "LoadBalancer",
          clusterIP: "10.96.0.10",
          clusterIPs: ["10.96.0.10", "fd00:96::a"],
          externalIPs: ["192.0.2.5"],
          externalTrafficPolicy: "Local",
        },
        status: { loadBalancer: { ingress: [{ ip: "198.51.100.7" }, {}] } },
      }),
    ).toEqual({
      namespace: "demo",
      name: "web",
      clusterIPs: ["10.96.0.10", "fd00:96::a"],
      externalIPs: ["192.0.2.5"],
      loadBalancerIPs: ["198.51.100.7"],
      externalTrafficPolicy: "Local",
      internalTrafficPolicy: "Cluster",
    });
  });

  it("a headless Service (clusterIP None) has no cluster IP; clusterIP alone is used when clusterIPs is absent", () => {
    expect(serviceFacts({ spec: { clusterIP: "None", clusterIPs: ["None"] } }).clusterIPs).toEqual([]);
    expect(serviceFacts({ spec: { clusterIP: "10.96.0.1" } }).clusterIPs).toEqual(["10.96.0.1"]);
  });

  it("an ExternalName Service has no addresses", () => {
    const f = serviceFacts({ spec: { type: "ExternalName", externalIPs: ["192.0.2.5"] } });
    expect([...f.clusterIPs, ...f.externalIPs, ...f.loadBalancerIPs]).toEqual([]);
  });

  it("an EndpointSlice names its Service by label kubernetes.io/service-name; without it, none", () => {
    expect(
      endpointSliceFacts({
        metadata: { namespace: "demo", labels: { "kubernetes.io/service-name": "web" } },
        endpoints: [{ nodeName: "n1", conditions: { ready: true, terminating: false } }, {}],
      }),
    ).toEqual({
      namespace: "demo",
      service: "web",
      endpoints: [{ nodeName: "n1", ready: true, terminating: false }, {}],
    });
    expect(endpointSliceFacts({ metadata: { namespace: "demo" } })).toBeUndefined();
  });
});
