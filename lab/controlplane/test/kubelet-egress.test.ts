import { describe, expect, it } from "@jest/globals";
import {
  egressSelectorConfig,
  egressTarget,
  KUBELET_PORT,
  parseConnect,
  socatTcpAddress,
} from "../kubelet-egress.js";

const nodes = [
  { netns: "tl1234-node-1", addresses: ["198.18.0.1", "fd00:198:18::1"] },
  { netns: "tl1234-node-2", addresses: ["198.18.0.3", "fd00:198:18::3"] },
];

describe("kubelet egress proxy", () => {
  it("parses CONNECT host:port and [v6]:port, as kube-apiserver sends it (RFC 9110 §9.3.6)", () => {
    expect(parseConnect("CONNECT 198.18.0.3:10250 HTTP/1.1\r\nHost: 127.0.0.1")).toEqual({
      ok: true,
      host: "198.18.0.3",
      port: 10250,
    });
    expect(parseConnect("CONNECT [fd00:198:18::1]:10250 HTTP/1.1")).toEqual({
      ok: true,
      host: "fd00:198:18::1",
      port: 10250,
    });
  });

  it("answers anything but CONNECT with 405 and a malformed target with 400", () => {
    expect(parseConnect("GET / HTTP/1.1")).toMatchObject({ ok: false, status: 405 });
    expect(parseConnect("CONNECT 198.18.0.3 HTTP/1.1")).toMatchObject({ ok: false, status: 400 });
    expect(parseConnect("CONNECT 198.18.0.3:99999 HTTP/1.1")).toMatchObject({ ok: false, status: 400 });
  });

  it("tunnels to the kubelet port of a lab node's address, in that node's namespace", () => {
    expect(egressTarget(nodes, "198.18.0.3", KUBELET_PORT)).toEqual({ netns: "tl1234-node-2" });
    expect(egressTarget(nodes, "fd00:198:18::1", KUBELET_PORT)).toEqual({ netns: "tl1234-node-1" });
  });

  it("refuses another port (403) and an address no node owns (404)", () => {
    expect(egressTarget(nodes, "198.18.0.3", 22)).toMatchObject({ status: 403 });
    expect(egressTarget(nodes, "10.0.0.1", KUBELET_PORT)).toMatchObject({ status: 404 });
  });

  it("gives socat a bracketed IPv6 literal", () => {
    expect(socatTcpAddress("198.18.0.1", 10250)).toBe("TCP4:198.18.0.1:10250");
    expect(socatTcpAddress("fd00:198:18::1", 10250)).toBe("TCP6:[fd00:198:18::1]:10250");
  });

  it("sends kube-apiserver's cluster egress, and only that, over HTTP CONNECT on the unix socket", () => {
    const yaml = egressSelectorConfig("/lab/controlplane/kubelet-egress.sock");
    expect(yaml).toMatch(/^apiVersion: apiserver\.k8s\.io\/v1beta1\nkind: EgressSelectorConfiguration\n/);
    // one selection: cluster (control-plane and etcd traffic stay direct)
    expect(yaml.match(/- name: (\w+)/g)).toEqual(["- name: cluster"]);
    expect(yaml).toContain("proxyProtocol: HTTPConnect");
    expect(yaml).toContain('udsName: "/lab/controlplane/kubelet-egress.sock"');
  });
});
