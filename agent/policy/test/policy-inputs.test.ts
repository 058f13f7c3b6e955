import { describe, it, expect } from "@jest/globals";
import { hostVethName } from "../../../net/veth-name.js";
import { buildClusterFromObjects, parseObject } from "../../../policy/model/load.js";
import { compile } from "../../../policy/compiler/compile.js";
import { compilerInputs, parseWatched, syntheticPod, type LocalAttachment } from "../policy-inputs.js";

const podDoc = (ns: string, name: string, ip?: string, node?: string): object => ({
  metadata: { name, namespace: ns, labels: { app: name } },
  spec: { ...(node ? { nodeName: node } : {}), containers: [] },
  status: ip ? { podIP: ip, podIPs: [{ ip }] } : {},
});

function localPods(atts: LocalAttachment[], watched: object[] = []): { iface: string; ipv4?: string }[] {
  const parsed = watched.map((w) => parseWatched("Pod", "v1", w));
  const inputs = compilerInputs(parsed, new Map(atts.map((a) => [`${a.namespace}/${a.pod}`, a])), "n1");
  return compile(buildClusterFromObjects(inputs), "n1").ir.pods.map((p) => ({
    iface: p.iface,
    ...(p.ipv4 ? { ipv4: p.ipv4 } : {}),
  }));
}

describe("compiler inputs from the watch cache and this node's attachments", () => {
  it("list items without kind/apiVersion are parsed as the watched kind", () => {
    expect(parseWatched("Pod", "v1", podDoc("x", "a", "10.0.0.1")).kind).toBe("Pod");
  });

  it.each([
    ["the IPAM addresses replace a pod's missing status.podIPs", [podDoc("x", "a", undefined, "n1")]],
    ["the IPAM addresses win over a stale status.podIP", [podDoc("x", "a", "10.9.9.9", "n1")]],
    ["a pod bound but not yet seen on this node is moved here", [podDoc("x", "a", undefined, "n2")]],
  ])("%s", (_name, watched) => {
    const pods = localPods([{ namespace: "x", pod: "a", ips: ["10.0.0.5", "fd00::5"] }], watched);
    expect(pods).toEqual([{ iface: hostVethName({ namespace: "x", pod: "a" }), ipv4: "10.0.0.5" }]);
  });

  it("a pod the informer has not seen uses the object read from the API, with its labels", () => {
    const podObject = parseObject({
      ...(podDoc("x", "a") as Record<string, unknown>),
      kind: "Pod",
      apiVersion: "v1",
    });
    const inputs = compilerInputs(
      [],
      new Map([["x/a", { namespace: "x", pod: "a", ips: ["10.0.0.5"], podObject }]]),
      "n1",
    );
    const c = buildClusterFromObjects(inputs);
    expect(c.pods[0]).toMatchObject({ key: "x/a", labels: { app: "a" }, node: "n1", ipv4: "10.0.0.5" });
  });

  it("an attachment without Kubernetes args gets the veth name the dataplane gave it", () => {
    const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const pods = localPods([{ namespace: id, pod: "eth0", ips: ["10.0.0.7"] }]);
    expect(pods).toEqual([{ iface: hostVethName({ containerID: id, ifname: "eth0" }), ipv4: "10.0.0.7" }]);
  });

  it("an attachment without Kubernetes args is the object the Pod schema's parse gives, without the parse", () => {
    const id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    for (const ips of [["10.0.0.7"], ["10.0.0.7", "fd00::7"], []]) {
      const a = { namespace: id, pod: "eth0", ips };
      const doc = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "eth0", namespace: id },
        spec: { nodeName: "n1", containers: [] },
        status: { podIPs: ips.map((ip) => ({ ip })), ...(ips[0] ? { podIP: ips[0] } : {}) },
      };
      expect(syntheticPod(a, "n1")).toEqual(parseObject(doc));
    }
    // An empty name is no pod: refused as the parse refuses it.
    expect(() => syntheticPod({ namespace: id, pod: "", ips: [] }, "n1")).toThrow(/metadata\.name/);
  });

  it("pods of other nodes stay peers, not local pods", () => {
    expect(localPods([], [podDoc("y", "remote", "10.0.1.1", "n2")])).toEqual([]);
  });
});
