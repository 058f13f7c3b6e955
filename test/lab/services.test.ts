// End to end, as root: Services through the upstream kube-scheduler and
// kube-proxy (nftables mode) that `lab up` runs beside the real control
// plane and in every node (lab/controlplane/scheduler.ts, lab/kube-proxy.ts),
// with Trellis as the CNI and its policy. A 3-node lab on the kubelet
// stand-in (`--kubelet standin`: its pods answer on every declared port with
// their name; test/lab/services-real-nodes.test.ts runs the same on real nodes).
//
// - kube-scheduler binds a Deployment's pods (no nodeName in the template;
//   required anti-affinity and node affinity put one on node-1 and one on
//   node-2) and a DaemonSet's (one per node); the kubelet stand-ins start them.
// - A ClusterIP Service in front of the two backends answers a pod on node-3
//   from both backends; its NodePort answers from the ToR and from node-1's namespace.
// - NetworkPolicy applies to Service traffic as Kubernetes requires: the
//   policy sees the backend pod after DNAT, and the real client as source.
//   A policy isolating the backends blocks the client through the ClusterIP;
//   one admitting the client's labels lets it through to both backends while
//   a pod without those labels on the same node stays blocked, also to the
//   backend on the client's own node (pod → ClusterIP → same-node pod).
import { beforeAll, expect, it } from "@jest/globals";
import { podNetnsName } from "../../lab/lab-names.js";
import { probeFromNetns } from "../../lab/probe.js";
import { kubectlApply, labUp, must } from "./lab-commands.js";
import { podV4, runningPods, type LabPod } from "./lab-pods.js";
import { maybe, useSuiteLab } from "./suite-lab.js";
import { until } from "../support/until.js";
import {
  ALLOW_CLIENTS,
  clientsYaml,
  distinct,
  ISOLATE,
  NODE_PORT,
  NODE_UPLINK,
  NS,
  scheduledBy,
  TRIES,
  webYaml,
} from "./services-shared.js";

/** The stand-in answers on every containerPort with the pod's `ns/name`. */
const WORKLOADS = `${webYaml("[{name: c, image: busybox, ports: [{containerPort: 8080}]}]")}---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: every-node, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: every-node}}
  template:
    metadata: {labels: {app: every-node}}
    spec:
      containers: [{name: c, image: busybox, ports: [{containerPort: 9000}]}]
${clientsYaml("[{name: c, image: busybox}]")}`;

maybe("Services through kube-scheduler and kube-proxy (nftables), with Trellis policy (3 nodes)", () => {
  const lab = useSuiteLab("trellis-kp-");
  const pods = new Map<string, LabPod>();
  let clusterIP = "";

  const podNetns = (name: string): string => podNetnsName(lab.prefix, pods.get(name)?.metadata.uid ?? "");
  /**
   * `n` TCP connections at once from `netns` to ip:port (each its own socat, so its own
   * source port and conntrack entry): the replies (a backend's `ns/name`), "" for each
   * that failed. At once, so a blocked check costs one timeout, not `n`.
   */
  const connect = (netns: string, ip: string, port: number, n = TRIES): Promise<string[]> =>
    Promise.all(
      Array.from({ length: n }, async () => {
        const v = await probeFromNetns(netns, ip, port, "TCP", 1500);
        return v.outcome === "connected" ? (v.reply ?? "").trim() : "";
      }),
    );
  const webPods = (): string[] =>
    [...pods.values()]
      .filter((p) => p.metadata.labels?.["app"] === "web")
      .map((p) => `${NS}/${p.metadata.name}`)
      .sort();

  /** The two backends' names and IPv4 addresses. */
  const webAddresses = (): [string, string][] => {
    const web = [...pods.values()].filter((p) => p.metadata.labels?.["app"] === "web");
    expect(web).toHaveLength(2);
    return web.map((p): [string, string] => [p.metadata.name, podV4(p)]);
  };

  beforeAll(async () => {
    await must("lab up", labUp(lab.dir, 3, "--kubelet", "standin"));
    await must("apply the workloads", kubectlApply(lab.dir, WORKLOADS));
    // 2 web, 3 every-node, 4 clients
    for (const p of await runningPods(lab.dir, 9, ["-n", NS], 90_000)) pods.set(p.metadata.name, p);
    clusterIP = (
      await must(
        "the Service's ClusterIP",
        lab.kubectl("get", "service", "-n", NS, "web", "-o", "jsonpath={.spec.clusterIP}"),
      )
    ).out;
    // kube-proxy programs the Service once the endpointslice controller has
    // written its slice, and the slice may list one backend ready before the
    // other (CI once saw every reply from one backend right after the first
    // answer): wait until both answer.
    await until(
      "the ClusterIP answering from node-3 from both backends",
      async () => {
        const replies = await connect(podNetns("client-3"), clusterIP, 80);
        return !replies.includes("") && distinct(replies).length === webPods().length;
      },
      30_000,
      250,
    );
  }, 300_000);

  it("kube-scheduler binds the Deployment's pods, one on node-1 and one on node-2, and the stand-ins run them", async () => {
    const web = [...pods.values()].filter((p) => p.metadata.labels?.["app"] === "web");
    expect(web.map((p) => p.spec.nodeName).sort()).toEqual(["node-1", "node-2"]);
    expect(web.every((p) => p.metadata.ownerReferences?.[0]?.kind === "ReplicaSet")).toBe(true);
    // Bound by the scheduler: a Scheduled event from default-scheduler per pod.
    const by = await scheduledBy(lab.dir);
    expect(web.map((p) => [p.metadata.name, by.get(p.metadata.name)])).toEqual(
      web.map((p) => [p.metadata.name, "default-scheduler"]),
    );
    // and Trellis addresses from the node's own pool (10.244.<node>.0/24)
    for (const p of web) {
      const v4 = (p.status.podIPs ?? []).map((x) => x.ip).find((ip) => !ip.includes(":"));
      expect(v4).toMatch(new RegExp(`^10\\.244\\.${p.spec.nodeName?.slice(-1)}\\.`));
    }
  });

  it("a DaemonSet gets one Running pod on every node", () => {
    const ds = [...pods.values()].filter((p) => p.metadata.labels?.["app"] === "every-node");
    expect(ds.map((p) => p.spec.nodeName).sort()).toEqual(["node-1", "node-2", "node-3"]);
    expect(ds.every((p) => p.metadata.ownerReferences?.[0]?.kind === "DaemonSet")).toBe(true);
  });

  it("the ClusterIP answers a pod on node-3 from both backends (pods on node-1 and node-2)", async () => {
    const replies = await connect(podNetns("client-3"), clusterIP, 80);
    expect(replies.filter((r) => r === "")).toEqual([]);
    expect(distinct(replies)).toEqual(webPods());
  }, 60_000);

  it("the NodePort answers from the ToR (to node-3, which has no backend) and from node-1's namespace", async () => {
    const node3 = NODE_UPLINK["node-3"];
    const node2 = NODE_UPLINK["node-2"];
    const fromTor = await connect(`${lab.prefix}tor`, node3, NODE_PORT);
    expect(fromTor.filter((r) => r === "")).toEqual([]);
    expect(distinct(fromTor)).toEqual(webPods());
    const fromNode1 = await connect(`${lab.prefix}node-1`, node2, NODE_PORT, 4);
    expect(fromNode1.filter((r) => r === "")).toEqual([]);
    expect(webPods()).toEqual(expect.arrayContaining(distinct(fromNode1)));
  }, 60_000);

  it("a NetworkPolicy isolating the backends blocks the client through the ClusterIP, on every backend", async () => {
    // Each backend answers on its own address first, so the blocked checks
    // below are the policy's doing.
    for (const [name, ip] of webAddresses())
      expect(await connect(podNetns("client-3"), ip, 8080, 1)).toEqual([`${NS}/${name}`]);
    await must("apply isolate-web", kubectlApply(lab.dir, ISOLATE));
    await until(
      "the ClusterIP closed for client-3",
      async () => (await connect(podNetns("client-3"), clusterIP, 80, 4)).every((r) => r === ""),
      20_000,
      250,
    );
    for (const c of ["client-3", "client-1"])
      expect(await connect(podNetns(c), clusterIP, 80, 8)).toEqual(Array(8).fill(""));
    // A failed connection through the ClusterIP cannot say which backend
    // kube-proxy sent it to: each backend on its own address, from both clients.
    for (const c of ["client-3", "client-1"])
      for (const [name, ip] of webAddresses())
        expect([c, name, await connect(podNetns(c), ip, 8080, 2)]).toEqual([c, name, ["", ""]]);
  }, 90_000);

  it("a NetworkPolicy admitting the client's labels lets it through to both backends; a pod without them stays blocked", async () => {
    await must("apply allow-clients", kubectlApply(lab.dir, ALLOW_CLIENTS));
    await until(
      "the ClusterIP open for client-3",
      async () => (await connect(podNetns("client-3"), clusterIP, 80, 1))[0] !== "",
      20_000,
      250,
    );
    for (const c of ["client-3", "client-1"]) {
      const replies = await connect(podNetns(c), clusterIP, 80);
      expect(replies.filter((r) => r === "")).toEqual([]);
      expect(distinct(replies)).toEqual(webPods());
    }
    // The same node, the same Service, without the label: the policy judged the real source.
    for (const s of ["stranger-3", "stranger-1"])
      expect(await connect(podNetns(s), clusterIP, 80, 8)).toEqual(Array(8).fill(""));
  }, 120_000);
});
