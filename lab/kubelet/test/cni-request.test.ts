import { describe, expect, it } from "@jest/globals";
import {
  cacheFileName,
  cniEnv,
  pluginOrder,
  pluginStdin,
  portMappings,
  resultIps,
  type Conflist,
} from "../cni-request.js";
import { declaredPorts, listenerArgv, POD_ECHO_MAIN } from "../listeners.js";
import { backoffDelay } from "../../../net/backoff.js";
import { KUBELET_BACKOFF } from "../backoff.js";

const list: Conflist = {
  cniVersion: "1.0.0",
  name: "k8s-pod-network",
  plugins: [
    { type: "ptp", ipam: { type: "host-local" } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
};
const pod = { namespace: "demo", name: "web-0", uid: "1111-2222" };

describe("CNI invocation as a runtime does it", () => {
  it("sets every CNI_* variable, with the Kubernetes args after IgnoreUnknown=1", () => {
    expect(
      cniEnv("ADD", {
        containerId: "c0ffee",
        netnsPath: "/var/run/netns/tl1234-p-abc",
        ifName: "eth0",
        pod,
        cniPath: ["/lab/bin", "/usr/lib/cni"],
        capabilityArgs: {},
      }),
    ).toEqual({
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c0ffee",
      CNI_NETNS: "/var/run/netns/tl1234-p-abc",
      CNI_IFNAME: "eth0",
      CNI_ARGS:
        "IgnoreUnknown=1;K8S_POD_NAMESPACE=demo;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=1111-2222",
      CNI_PATH: "/lab/bin:/usr/lib/cni",
    });
  });

  it("gives each plugin its config with the list's name and cniVersion, and no prevResult first", () => {
    expect(pluginStdin(list, list.plugins[0]!, {}, undefined)).toEqual({
      type: "ptp",
      ipam: { type: "host-local" },
      name: "k8s-pod-network",
      cniVersion: "1.0.0",
    });
  });

  it("chains prevResult and adds runtimeConfig only for declared capabilities", () => {
    const prev = { cniVersion: "1.0.0", ips: [{ address: "10.244.1.2/32" }] };
    const caps = {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
      bandwidth: { x: 1 },
    };
    const s = pluginStdin(list, list.plugins[1]!, caps, prev);
    expect(s["prevResult"]).toEqual(prev);
    expect(s["runtimeConfig"]).toEqual({ portMappings: caps.portMappings });
    expect(pluginStdin(list, list.plugins[0]!, caps, prev)["runtimeConfig"]).toBeUndefined();
  });

  it("runs ADD in list order and DEL in reverse", () => {
    expect(pluginOrder("ADD", list).map((p) => p.type)).toEqual(["ptp", "portmap"]);
    expect(pluginOrder("DEL", list).map((p) => p.type)).toEqual(["portmap", "ptp"]);
    expect(list.plugins.map((p) => p.type)).toEqual(["ptp", "portmap"]);
  });

  it("maps only container ports with a hostPort to portMappings, protocol lower-cased", () => {
    expect(
      portMappings([
        { containerPort: 80 },
        { containerPort: 53, hostPort: 5353, protocol: "UDP" },
        { containerPort: 443, hostPort: 8443, hostIP: "127.0.0.1" },
      ]),
    ).toEqual([
      { hostPort: 5353, containerPort: 53, protocol: "udp" },
      { hostPort: 8443, containerPort: 443, protocol: "tcp", hostIP: "127.0.0.1" },
    ]);
  });

  it("names the result cache like libcni", () => {
    expect(cacheFileName("k8s-pod-network", "abc", "eth0")).toBe("k8s-pod-network-abc-eth0");
  });

  it("reads pod IPs out of a result, IPv4 first", () => {
    expect(resultIps({ ips: [{ address: "fd00:10:244:1::2/64" }, { address: "10.244.1.2/24" }] })).toEqual([
      "10.244.1.2",
      "fd00:10:244:1::2",
    ]);
    expect(resultIps({})).toEqual([]);
    expect(resultIps(null)).toEqual([]);
  });
});

describe("pod listeners", () => {
  it("collects distinct declared ports over all containers", () => {
    expect(
      declaredPorts([
        { ports: [{ containerPort: 81 }, { containerPort: 80 }] },
        { ports: [{ containerPort: 80 }] },
        {},
      ]),
    ).toEqual([80, 81]);
  });

  it("runs one listener process per pod inside its netns, answering the pod's name on every declared port", () => {
    expect(listenerArgv("tl1234-p-abc", "demo/web-0", [80, 53], "/usr/bin/node")).toEqual([
      "nsenter",
      "--net=/var/run/netns/tl1234-p-abc",
      "--",
      "/usr/bin/node",
      "--max-old-space-size=16",
      POD_ECHO_MAIN,
      "--reply",
      "demo/web-0",
      "--port",
      "80",
      "--port",
      "53",
    ]);
    expect(listenerArgv("x", "demo/none", [])).toBeUndefined();
  });

  it("refuses a reply that is not a plain pod name", () => {
    expect(() => listenerArgv("x", "a b", [1])).toThrow(/not a pod name/);
  });
});

describe("watch restart backoff", () => {
  it("starts at 500 ms, doubles, and caps at 30 s", () => {
    const seq = Array.from({ length: 10 }, (_, i) => backoffDelay(i + 1, KUBELET_BACKOFF, Math.random));
    expect(seq.slice(0, 4)).toEqual([500, 1000, 2000, 4000]);
    expect(seq.at(-1)).toBe(30_000);
  });
});
