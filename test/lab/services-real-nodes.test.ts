// End to end, as root: test/lab/services.test.ts on real nodes. A
// `lab up --nodes 3 --cni trellis --kubelet real` lab: the real kubelet and
// containerd start the pods (localhost/busybox:lab), Trellis's CNI addresses
// them, kube-proxy (nftables mode) in every node programs the Service, and
// the Trellis agents enforce NetworkPolicy. Same Deployment, Service, clients
// and policies as the stand-in test (test/lab/services-shared.ts).
//
// - kube-scheduler puts the Deployment's 2 backends on node-1 and node-2;
//   each runs busybox `httpd` on 8080 serving an index holding its pod name
//   (downward API, POD_NAME), so a reply names the backend that served it.
// - The ClusterIP answers client-3 (node-3, no backend) from both backends;
//   the NodePort answers from the ToR (to node-3's uplink address).
// - NetworkPolicy applies after kube-proxy's DNAT and sees the real source
//   (Kubernetes NetworkPolicy semantics): isolating the backends blocks
//   client-3 and client-1 through the ClusterIP; admitting role=client lets
//   them through to both backends while stranger-3 and stranger-1 (same
//   nodes, no label) stay blocked, also to the backend on their own node.
//
// containerd's pod network namespaces are not under /var/run/netns, so the
// pods fetch from inside (`kubectl exec`, busybox nc), every fetch of a
// check in one exec as parallel background jobs: a check costs about one
// timeout whatever its size.
import { beforeAll, expect, it } from "@jest/globals";
import { WORKLOAD_IMAGE } from "../../lab/nodes/containerd-config.js";
import { requireExecutable } from "../support/require.js";
import { until } from "../support/until.js";
import { kubectlApply, must, run } from "./lab-commands.js";
import { applyWhenAdmitted, runningPods, type LabPod } from "./lab-pods.js";
import { labUpRealNodes } from "./real-nodes-lab.js";
import { maybe, useSuiteLab } from "./suite-lab.js";
import * as svc from "./services-shared.js";

/** Seconds one fetch may wait for its reply before it counts as blocked. */
const FETCH_TIMEOUT_S = 2;

/** httpd serving an index that holds the pod's own name (written before exec'ing httpd). */
const WEB_CONTAINERS =
  `[{name: c, image: ${WORKLOAD_IMAGE}, imagePullPolicy: Never, ` +
  `env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}], ` +
  `command: [sh, -c, 'echo "$POD_NAME" > /var/www/index.html && exec httpd -f -p 8080 -h /var/www'], ` +
  `ports: [{containerPort: 8080}]}]`;
const CLIENT_CONTAINERS = `[{name: c, image: ${WORKLOAD_IMAGE}, imagePullPolicy: Never, command: [sleep, "3600"]}]`;
/** sleep as PID 1 ignores SIGTERM: do not wait the default 30 s for it at lab down. */
const WORKLOADS =
  svc.webYaml(WEB_CONTAINERS, "      terminationGracePeriodSeconds: 1\n") +
  svc.clientsYaml(CLIENT_CONTAINERS, "  terminationGracePeriodSeconds: 1\n");

maybe("Services through kube-scheduler and kube-proxy, with Trellis policy, on real nodes (3 nodes)", () => {
  const lab = useSuiteLab("trellis-svc-real-", { downTimeoutMs: 180_000 });
  const pods = new Map<string, LabPod>();
  let clusterIP = "";

  /** `n` fetches of the ClusterIP from inside pod `from` (one kubectl exec). */
  const fetchFrom = async (from: string, n = svc.TRIES): Promise<string[]> => {
    const r = await must(
      `kubectl exec ${from}`,
      lab.kubectl(
        "exec",
        "-n",
        svc.NS,
        from,
        "--",
        "sh",
        "-c",
        svc.fetchScript(clusterIP, 80, n, FETCH_TIMEOUT_S),
      ),
    );
    return svc.replies(r.out);
  };
  const webPods = (): string[] =>
    [...pods.values()]
      .filter((p) => p.metadata.labels?.["app"] === "web")
      .map((p) => p.metadata.name)
      .sort();

  beforeAll(async () => {
    requireExecutable("/usr/bin/curl", "curl");
    const t0 = Date.now();
    const took = await labUpRealNodes(lab.dir, 3);
    await applyWhenAdmitted(lab.dir, WORKLOADS);
    for (const p of await runningPods(lab.dir, 2 + svc.CLIENTS.length, ["-n", svc.NS], 300_000))
      pods.set(p.metadata.name, p);
    clusterIP = (
      await must(
        "the Service's ClusterIP",
        lab.kubectl("get", "service", "-n", svc.NS, "web", "-o", "jsonpath={.spec.clusterIP}"),
      )
    ).out;
    // kube-proxy programs the Service once the endpointslice controller has written its slice.
    await until(
      "the ClusterIP answering client-3",
      async () => ((await fetchFrom("client-3", 1))[0] ?? "") !== "",
      60_000,
      500,
    );
    console.log(
      `lab up --nodes 3 --kubelet real: ${took.toFixed(1)} s; with the pods Running and the Service answering: ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  }, 10 * 60_000);

  it("kube-scheduler puts the backends on node-1 and node-2 and the clients on their nodes", async () => {
    const web = [...pods.values()].filter((p) => p.metadata.labels?.["app"] === "web");
    expect(web.map((p) => p.spec.nodeName).sort()).toEqual(["node-1", "node-2"]);
    for (const c of svc.CLIENTS) expect([c.name, pods.get(c.name)?.spec.nodeName]).toEqual([c.name, c.node]);
    // Bound by kube-scheduler, not placed by the test: a Scheduled event from default-scheduler for each.
    const by = await svc.scheduledBy(lab.dir);
    expect([...pods.keys()].sort().map((n) => [n, by.get(n)])).toEqual(
      [...pods.keys()].sort().map((n) => [n, "default-scheduler"]),
    );
  }, 60_000);

  it("the ClusterIP answers a pod on node-3 from both backends (pods on node-1 and node-2)", async () => {
    const rs = await fetchFrom("client-3");
    expect(rs).toHaveLength(svc.TRIES);
    expect(rs.filter((r) => r === "")).toEqual([]);
    expect(svc.distinct(rs)).toEqual(webPods());
  }, 60_000);

  it("the NodePort answers from the ToR (to node-3, which has no backend) from both backends", async () => {
    const url = `http://${svc.NODE_UPLINK["node-3"]}:${svc.NODE_PORT}/`;
    // All at once, each curl its own connection (source port, conntrack entry, kube-proxy pick).
    const rs = await Promise.all(
      Array.from({ length: svc.TRIES }, async () => {
        const r = await run(
          "ip",
          ["netns", "exec", `${lab.prefix}tor`, "curl", "-s", "-m", String(FETCH_TIMEOUT_S), url],
          undefined,
          10_000,
        );
        return r.code === 0 ? r.out.trim() : "";
      }),
    );
    expect(rs.filter((r) => r === "")).toEqual([]);
    expect(svc.distinct(rs)).toEqual(webPods());
  }, 60_000);

  it("a NetworkPolicy isolating the backends blocks client-3 and client-1 through the ClusterIP", async () => {
    await must("apply isolate-web", kubectlApply(lab.dir, svc.ISOLATE));
    await until(
      "the ClusterIP closed for client-3",
      async () => (await fetchFrom("client-3", 4)).every((r) => r === ""),
      30_000,
      250,
    );
    for (const c of ["client-3", "client-1"])
      expect([c, await fetchFrom(c, 8)]).toEqual([c, Array(8).fill("")]);
  }, 120_000);

  it("a NetworkPolicy admitting role=client lets client-3 and client-1 reach both backends; stranger-3 and stranger-1 stay blocked", async () => {
    await must("apply allow-clients", kubectlApply(lab.dir, svc.ALLOW_CLIENTS));
    await until(
      "the ClusterIP open for client-3",
      async () => ((await fetchFrom("client-3", 1))[0] ?? "") !== "",
      30_000,
      250,
    );
    for (const c of ["client-3", "client-1"]) {
      const rs = await fetchFrom(c);
      expect([c, rs.filter((r) => r === "")]).toEqual([c, []]);
      expect([c, svc.distinct(rs)]).toEqual([c, webPods()]);
    }
    // The same nodes, the same Service, without the label: the policy judged the real source.
    for (const s of ["stranger-3", "stranger-1"])
      expect([s, await fetchFrom(s, 8)]).toEqual([s, Array(8).fill("")]);
  }, 120_000);
});
