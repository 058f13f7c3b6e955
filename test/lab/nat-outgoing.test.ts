// natOutgoing end to end, as root: the default lab (2 nodes, its pools with
// natOutgoing: true). A pod's TCP connection to the ToR (an address in no
// pool: "outside") arrives with its NODE's address, over IPv4 and IPv6;
// flip the node's pools to natOutgoing: false (no agent restart) and it
// arrives with the POD's own address; flip back. Pod-to-pod connections,
// same node and across the ToR, keep the pod's address either way. The
// listeners are lab/peer-echo.ts (socat answering with the peer address).
import { beforeAll, expect, it } from "@jest/globals";
import { setTimeout as sleep } from "node:timers/promises";
import { nodeNetnsName, podNetnsName } from "../../lab/lab-names.js";
import { type PeerEcho, peerAddressSeen, startPeerEcho } from "../../lab/peer-echo.js";
import { requireExecutable } from "../support/require.js";
import { CLI, kubectlApply, run, trellisctl } from "./lab-commands.js";
import { maybe, useSuiteLab } from "./suite-lab.js";

const PORT = 7411;

interface LabStatus {
  tor: { netns: string; address: string };
  nodes: { name: string; address: string; address6: string; torAddress6: string }[];
}

interface PodJson {
  metadata: { name: string; uid: string };
  status: { phase?: string; podIPs?: { ip: string }[] };
}

const PODS = `
apiVersion: v1
kind: Namespace
metadata: {name: nat}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: nat}
spec: {nodeName: node-1, containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: nat}
spec: {nodeName: node-1, containers: [{name: c, image: busybox}]}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: nat}
spec: {nodeName: node-2, containers: [{name: c, image: busybox}]}
`;

maybe("natOutgoing in the lab (root, network namespaces)", () => {
  // The listeners in the pods are socat (lab/peer-echo.ts).
  beforeAll(() => requireExecutable("/usr/bin/socat", "socat"));
  const echoes: PeerEcho[] = [];
  const { dir, prefix, kubectl } = useSuiteLab("trellis-nat-e2e-", {
    beforeDown: async () => {
      for (const e of echoes) await e.stop();
    },
    downTimeoutMs: 90_000,
  });
  let lab: LabStatus;
  const pods = new Map<string, { netns: string; v4: string; v6: string }>();

  const pod = (name: string): { netns: string; v4: string; v6: string } => {
    const p = pods.get(name);
    if (p === undefined) throw new Error(`no pod ${name}`);
    return p;
  };
  const node = (name: string): LabStatus["nodes"][number] => {
    const n = lab.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node ${name}`);
    return n;
  };

  /**
   * Pod -> pod on the same node (a -> b) and across the ToR (a -> c, c -> a),
   * IPv4 and IPv6: the listener sees the sending pod's own address.
   */
  const expectPodToPodKeepsSource = async (): Promise<void> => {
    for (const [from, to] of [
      ["a", "b"],
      ["a", "c"],
      ["c", "a"],
    ] as const) {
      for (const family of ["v4", "v6"] as const) {
        const seen = await peerAddressSeen(pod(from).netns, pod(to)[family], PORT);
        expect({ from, to, family, seen }).toEqual({ from, to, family, seen: pod(from)[family] });
      }
    }
  };

  /** Sets natOutgoing on both of node-N's lab pools (v4 and v6). */
  const setNat = async (nodeName: string, on: boolean): Promise<void> => {
    for (const fam of ["v4", "v6"]) {
      const r = await kubectl(
        "patch",
        "ippools",
        `lab-${nodeName}-${fam}`,
        "--type",
        "merge",
        "-p",
        JSON.stringify({ spec: { natOutgoing: on } }),
      );
      if (r.code !== 0) throw new Error(`kubectl patch: ${r.err}`);
    }
  };

  /** The source address the listener sees, retried until it equals `want` (the agent applies asynchronously). */
  const seenBecomes = async (from: string, to: string, want: string): Promise<string> => {
    const deadline = Date.now() + 15_000;
    let seen = "";
    for (;;) {
      try {
        seen = await peerAddressSeen(from, to, PORT);
      } catch (e) {
        seen = String(e);
      }
      if (seen === want || Date.now() > deadline) return seen;
      await sleep(250);
    }
  };

  beforeAll(async () => {
    const up = await run(
      process.execPath,
      // The kubelet stand-in: the peer-address listeners run in its pod namespaces (named
      // from the pod uid, lab-names.ts), and the NAT under test is the agent's, whatever runs the pods.
      [CLI, "lab", "up", "--nodes", "2", "--dir", dir, "--kubelet", "standin"],
      undefined,
      180_000,
    );
    if (up.code !== 0) throw new Error(`lab up failed: ${up.err}`);
    const st = await trellisctl("lab", "status", "--dir", dir, "-o", "json");
    lab = JSON.parse(st.out) as LabStatus;
    const ap = await kubectlApply(dir, PODS);
    if (ap.code !== 0) throw new Error(`kubectl apply: ${ap.err}`);
    const deadline = Date.now() + 90_000;
    for (;;) {
      const r = await kubectl("get", "pods", "-n", "nat", "-o", "json");
      const items = r.code === 0 ? (JSON.parse(r.out) as { items: PodJson[] }).items : [];
      const running = items.filter(
        (p) => p.status.phase === "Running" && (p.status.podIPs ?? []).length === 2,
      );
      if (running.length === 3) {
        for (const p of running) {
          const ips = (p.status.podIPs ?? []).map((x) => x.ip);
          pods.set(p.metadata.name, {
            netns: podNetnsName(prefix, p.metadata.uid),
            v4: ips.find((ip) => !ip.includes(":")) ?? "",
            v6: ips.find((ip) => ip.includes(":")) ?? "",
          });
        }
        break;
      }
      if (Date.now() > deadline) throw new Error(`pods not running: ${r.out.slice(0, 2000)}`);
      await sleep(500);
    }
    echoes.push(await startPeerEcho(lab.tor.netns, PORT));
    echoes.push(await startPeerEcho(pod("a").netns, PORT));
    echoes.push(await startPeerEcho(pod("b").netns, PORT));
    echoes.push(await startPeerEcho(pod("c").netns, PORT));
  }, 300_000);

  it("the lab's pools have natOutgoing: true", async () => {
    const r = await kubectl("get", "ippools", "-o", "json");
    const items = (JSON.parse(r.out) as { items: { spec: { natOutgoing?: boolean } }[] }).items;
    expect(items.length).toBe(4);
    expect(items.every((p) => p.spec.natOutgoing === true)).toBe(true);
  });

  it("natOutgoing true: pod -> pod keeps the pod's address (same node, across nodes; IPv4 and IPv6)", async () => {
    await expectPodToPodKeepsSource();
  }, 60_000);

  it("natOutgoing true: pod -> ToR arrives from the node's address (IPv4 and IPv6, both nodes)", async () => {
    expect(await seenBecomes(pod("a").netns, lab.tor.address, node("node-1").address)).toBe(
      node("node-1").address,
    );
    expect(await seenBecomes(pod("c").netns, lab.tor.address, node("node-2").address)).toBe(
      node("node-2").address,
    );
    const tor6 = node("node-1").torAddress6;
    expect(await seenBecomes(pod("a").netns, tor6, node("node-1").address6)).toBe(node("node-1").address6);
    // node-2's pod reaches the ToR's node-1 link address across the ToR: still outside, still NAT.
    expect(await seenBecomes(pod("c").netns, tor6, node("node-2").address6)).toBe(node("node-2").address6);
  }, 60_000);

  it("flipped to natOutgoing: false (no agent restart): pod -> ToR arrives from the pod's own address", async () => {
    await setNat("node-1", false);
    const a = pod("a");
    expect(await seenBecomes(a.netns, lab.tor.address, a.v4)).toBe(a.v4);
    expect(await seenBecomes(a.netns, node("node-1").torAddress6, a.v6)).toBe(a.v6);
    // node-2's pools still translate.
    expect(await peerAddressSeen(pod("c").netns, lab.tor.address, PORT)).toBe(node("node-2").address);
  }, 60_000);

  it("natOutgoing false: pod -> pod still keeps the pod's address", async () => {
    await expectPodToPodKeepsSource();
  }, 60_000);

  it("flipped back to natOutgoing: true: the node's address again", async () => {
    await setNat("node-1", true);
    expect(await seenBecomes(pod("a").netns, lab.tor.address, node("node-1").address)).toBe(
      node("node-1").address,
    );
    expect(await seenBecomes(pod("a").netns, node("node-1").torAddress6, node("node-1").address6)).toBe(
      node("node-1").address6,
    );
  }, 60_000);

  it("is its own table: with inet trellis gone (as policy.enabled: false leaves it), pods are still translated", async () => {
    const ns = nodeNetnsName(prefix, "node-1");
    const tables = await run("ip", ["netns", "exec", ns, "nft", "list", "tables"]);
    expect(tables.out).toContain("table inet trellis-nat");
    // What policy-off.ts does to a node: delete the policy table (the agent's
    // policy driver rebuilds it on its next apply; natOutgoing must not care).
    const del = await run("ip", ["netns", "exec", ns, "nft", "delete", "table", "inet", "trellis"]);
    expect(del.code).toBe(0);
    expect(await peerAddressSeen(pod("a").netns, lab.tor.address, PORT)).toBe(node("node-1").address);
    expect(await peerAddressSeen(pod("a").netns, node("node-1").torAddress6, PORT)).toBe(
      node("node-1").address6,
    );
  }, 60_000);
});
