import { describe, expect, it } from "@jest/globals";
import { netnsByUid, parseContainerIds, parseSandboxInfo } from "../pod-netns.js";

const ID = "3de3392e95419ca654ddfa7125c8d0aa4f0e1139789f695e8bc0d0e8bd7d99f9";
const NETNS = "/lab/nodes/node-1/containerd/state/io.containerd.grpc.v1.cri/netns/cni-dbc9177c-7c55-09c0";

/** `ctr containers info` of a pod sandbox, cut to the fields read (containerd 2.4, seen on a lab node). */
function info(o: { uid?: string; netns?: string | null; createdAt?: string; kind?: string } = {}): string {
  const namespaces: { type: string; path?: string }[] = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }];
  if (o.netns !== null) namespaces.push({ type: "network", path: o.netns ?? NETNS });
  else namespaces.push({ type: "network" });
  return JSON.stringify({
    ID,
    Labels: {
      "io.cri-containerd.kind": o.kind ?? "sandbox",
      "io.kubernetes.pod.name": "t1",
      "io.kubernetes.pod.namespace": "default",
      ...(o.uid !== "" ? { "io.kubernetes.pod.uid": o.uid ?? "6faadc85-7f31-4a00-b070-2c5f80c68676" } : {}),
    },
    CreatedAt: o.createdAt ?? "2026-12-07T06:18:59.123Z",
    Spec: { linux: { namespaces } },
  });
}

describe("parseSandboxInfo: a sandbox container's pod uid and network namespace", () => {
  it("reads the uid label and the network namespace path of the OCI spec", () => {
    expect(parseSandboxInfo(ID, info())).toEqual({
      uid: "6faadc85-7f31-4a00-b070-2c5f80c68676",
      netns: NETNS,
      createdAt: "2026-12-07T06:18:59.123Z",
    });
  });

  it("a sandbox in the node's namespace (hostNetwork: no path) has no pod namespace", () => {
    expect(parseSandboxInfo(ID, info({ netns: null }))).toBeUndefined();
  });

  it("a container without the pod uid label is no pod's sandbox", () => {
    expect(parseSandboxInfo(ID, info({ uid: "" }))).toBeUndefined();
  });

  it("a relative namespace path is not taken (nsenter would resolve it against our cwd)", () => {
    expect(parseSandboxInfo(ID, info({ netns: "netns/cni-x" }))).toBeUndefined();
  });

  it("output that is not JSON is an error naming the container", () => {
    expect(() => parseSandboxInfo(ID, "ctr: container not found")).toThrow(
      `ctr containers info ${ID}: not JSON (ctr: container not found)`,
    );
    expect(() => parseSandboxInfo(ID, "null")).toThrow("not a container object");
  });
});

describe("netnsByUid: the current sandbox of each pod", () => {
  it("the newest sandbox of a pod wins over one the kubelet has not collected yet", () => {
    const m = netnsByUid([
      { uid: "a", netns: "/old", createdAt: "2026-12-07T06:00:00Z" },
      { uid: "a", netns: "/new", createdAt: "2026-12-07T06:05:00Z" },
      { uid: "b", netns: "/b", createdAt: "2026-12-07T06:01:00Z" },
      { uid: "a", netns: "/older", createdAt: "2026-12-07T05:00:00Z" },
    ]);
    expect([...m].sort()).toEqual([
      ["a", "/new"],
      ["b", "/b"],
    ]);
  });
});

describe("parseContainerIds: `ctr containers ls -q`", () => {
  it("keeps the 64-hex ids and drops containerd's warnings and blank lines", () => {
    const text = `${ID}\n\ntime="…" level=warning msg="DEPRECATION: cgroup v1"\n${"b".repeat(64)}\n`;
    expect(parseContainerIds(text)).toEqual([ID, "b".repeat(64)]);
  });
});
