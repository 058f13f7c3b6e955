import { describe, expect, it } from "@jest/globals";
import {
  missingNetnsReason,
  netnsByUid,
  parseContainerIds,
  parseSandboxInfo,
  readSandboxes,
  type SandboxReader,
} from "../pod-netns.js";

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

/**
 * A fake of the nodes' containerd: `sandboxes[node]` are its sandboxes (uid
 * = id), a node in `down` refuses its list, `notJson` ids answer garbage;
 * every info waits a moment and counts what is in flight.
 */
function fakeReader(o: { sandboxes: Record<string, string[]>; down?: string[]; notJson?: string[] }) {
  const seen = { inFlight: 0, peak: 0, infos: 0 };
  const id = (x: string): string => x.padStart(64, "0");
  const reader: SandboxReader = {
    list: async (node) => {
      if (o.down?.includes(node)) throw new Error("ctr containers ls: connection refused");
      return (o.sandboxes[node] ?? []).map(id).join("\n");
    },
    info: async (node, cid) => {
      seen.inFlight++;
      seen.peak = Math.max(seen.peak, seen.inFlight);
      seen.infos++;
      await new Promise((r) => setTimeout(r, 5));
      seen.inFlight--;
      const uid = cid.replace(/^0+/, "");
      if (o.notJson?.includes(uid)) return "ctr: garbage";
      return info({ uid, netns: `/lab/nodes/${node}/netns/${uid}` });
    },
  };
  return { reader, seen };
}

describe("readSandboxes: every node's containerd, each node's failure its own", () => {
  it("a node whose containerd is down is named with why; the other nodes are answered", async () => {
    const { reader } = fakeReader({
      sandboxes: { "node-1": ["a1"], "node-2": ["b1"], "node-3": ["c1"] },
      down: ["node-2"],
    });
    const r = await readSandboxes(["node-1", "node-2", "node-3"], reader);
    expect(r.sandboxes.map((s) => [s.uid, s.netns])).toEqual([
      ["a1", "/lab/nodes/node-1/netns/a1"],
      ["c1", "/lab/nodes/node-3/netns/c1"],
    ]);
    expect([...r.failedNodes]).toEqual([["node-2", "ctr containers ls: connection refused"]]);
  });

  it("a sandbox that reads as garbage fails its node, which keeps what it did answer", async () => {
    const { reader } = fakeReader({
      sandboxes: { "node-1": ["a1", "a2"], "node-2": ["b1"] },
      notJson: ["a2"],
    });
    const r = await readSandboxes(["node-1", "node-2"], reader);
    expect(r.sandboxes.map((s) => s.uid)).toEqual(["a1", "b1"]);
    expect([...r.failedNodes.keys()]).toEqual(["node-1"]);
    expect(r.failedNodes.get("node-1")).toMatch(/^ctr containers info 0+a2: not JSON \(ctr: garbage\)$/);
  });

  it("reads the sandboxes concurrently, never more than the bound at once", async () => {
    const sandboxes = { "node-1": ["1", "2", "3", "4", "5"], "node-2": ["6", "7", "8", "9", "10", "11"] };
    const { reader, seen } = fakeReader({ sandboxes });
    const r = await readSandboxes(["node-1", "node-2"], reader, 3);
    expect(r.sandboxes).toHaveLength(11);
    expect(seen.infos).toBe(11);
    expect(seen.peak).toBe(3);
  });
});

describe("missingNetnsReason: why a pod has no namespace to probe from", () => {
  const lookup = {
    paths: new Map(),
    failedNodes: new Map([["node-2", "ctr containers ls: connection refused"]]),
  };

  it("a pod of a node that did not answer: that node and why", () => {
    expect(missingNetnsReason(lookup, "demo/a", "node-2", "Running")).toBe(
      "cannot find demo/a's network namespace: node node-2: ctr containers ls: connection refused",
    );
  });

  it("a pod of a node that answered: no sandbox there", () => {
    expect(missingNetnsReason(lookup, "demo/b", "node-1", "Pending")).toBe(
      "pod demo/b has no sandbox on this lab (phase Pending)",
    );
  });
});
