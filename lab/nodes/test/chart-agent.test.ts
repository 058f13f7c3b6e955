// chartAgentValues rendered by the real chart (helm template): per-node host
// paths under DIR/nodes that match the lab's node layout, and the chart's
// defaults (a real cluster) untouched by the new values.
import { describe, expect, it } from "@jest/globals";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { binaryPaths, controlPlanePaths, readVersions } from "../../controlplane/versions.js";
import { labLayout } from "../../lab-layout.js";
import { mustRun } from "../../run-command.js";
import {
  CHART_AGENT_CONTAINER,
  CHART_AGENT_SELECTOR,
  chartAgentValues,
  chartAgentVerdict,
  LAB_CHART_PATHS,
  type ChartAgentPod,
} from "../chart-agent.js";

interface Mount {
  name: string;
  mountPath: string;
  subPathExpr?: string;
}
interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  volumeMounts: Mount[];
}
interface DaemonSet {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      spec: {
        initContainers: Container[];
        containers: Container[];
        volumes: { name: string; hostPath?: { path: string } }[];
      };
    };
  };
}

async function renderDaemonSet(values?: Record<string, unknown>): Promise<DaemonSet> {
  const args = ["template", "t", controlPlanePaths.chartDir, "--show-only", "templates/daemonset.yaml"];
  const dir = mkdtempSync(join(tmpdir(), "trellis-chart-agent-"));
  try {
    if (values !== undefined) {
      const f = join(dir, "values.json");
      writeFileSync(f, JSON.stringify(values));
      args.push("--values", f);
    }
    const out = await mustRun(binaryPaths(readVersions()).helm, args, { timeoutMs: 60_000 });
    return parseAllDocuments(out)[0]?.toJS() as DaemonSet;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("--agent chart values", () => {
  const L = labLayout("/lab");
  const values = chartAgentValues({ nodesDir: L.nodesDir, tag: "lab", passwordSecrets: [] });

  it("put node-i's conflist, shim and socket where its containerd and the lab layout look", async () => {
    const ds = await renderDaemonSet(values);
    const init = ds.spec.template.spec.initContainers[0];
    const conflist = init?.env?.find((e) => e.name === "CNI_CONFLIST")?.value ?? "";
    const N = L.node("node-1");
    // What the kubelet makes of $(TRELLIS_NODE_NAME) on node-1.
    const onNode1 = JSON.parse(conflist.replace("$(TRELLIS_NODE_NAME)", "node-1")) as {
      cniVersion: string;
      plugins: { agentSocket?: string }[];
    };
    expect(onNode1.plugins[0]?.agentSocket).toBe(join(N.dir, "run", "cni.sock"));
    expect(onNode1.cniVersion).toBe("1.0.0");
    expect(init?.env?.[0]?.name).toBe("TRELLIS_NODE_NAME");
    const sub = (m: Mount | undefined): string =>
      (m?.subPathExpr ?? "").replace("$(TRELLIS_NODE_NAME)", "node-1");
    expect(join(L.nodesDir, sub(init?.volumeMounts.find((m) => m.mountPath === "/host/cni/net.d")))).toBe(
      N.cniConfDir,
    );
    expect(join(L.nodesDir, sub(init?.volumeMounts.find((m) => m.mountPath === "/host/cni/bin")))).toBe(
      N.cniBinDir,
    );
    const agent = ds.spec.template.spec.containers[0];
    expect(sub(agent?.volumeMounts.find((m) => m.mountPath === LAB_CHART_PATHS.agentSocketDir))).toBe(
      "node-1/run",
    );
    expect(agent?.volumeMounts.find((m) => m.name === "netns")?.mountPath).toBe(L.nodesDir);
    expect(agent?.env?.filter((e) => e.name.startsWith("KUBERNETES_SERVICE"))).toEqual([
      { name: "KUBERNETES_SERVICE_HOST", value: "127.0.0.1" },
      { name: "KUBERNETES_SERVICE_PORT", value: "6443" },
    ]);
    expect(ds.spec.template.spec.volumes.find((v) => v.name === "node-root")?.hostPath?.path).toBe(
      L.nodesDir,
    );
  }, 60_000);

  it("leave the chart's defaults for a real cluster: the node's own host paths, in-cluster API", async () => {
    const ds = await renderDaemonSet();
    const vols = new Map(ds.spec.template.spec.volumes.map((v) => [v.name, v.hostPath?.path]));
    expect(vols.get("cni-conf")).toBe("/etc/cni/net.d");
    expect(vols.get("cni-bin")).toBe("/opt/cni/bin");
    expect(vols.get("agent-socket-dir")).toBe("/var/run/trellis");
    expect(vols.get("netns")).toBe("/var/run/netns");
    expect(vols.has("node-root")).toBe(false);
    const agent = ds.spec.template.spec.containers[0];
    expect(agent?.env?.map((e) => e.name)).toEqual(["TRELLIS_NODE_NAME"]);
    expect(agent?.volumeMounts.some((m) => m.subPathExpr !== undefined)).toBe(false);
    const conflist = ds.spec.template.spec.initContainers[0]?.env?.find(
      (e) => e.name === "CNI_CONFLIST",
    )?.value;
    const plugins = (JSON.parse(conflist ?? "{}") as { plugins: { agentSocket?: string }[] }).plugins;
    expect(plugins[0]?.agentSocket).toBe("/var/run/trellis/cni.sock");
  }, 60_000);
});

describe("chartAgentVerdict: lab status of a DaemonSet-run agent (no pid file)", () => {
  it("selects the chart's DaemonSet pods and its agent container by the chart's own names", async () => {
    const ds = await renderDaemonSet();
    const { "app.kubernetes.io/instance": _release, ...labels } = ds.spec.selector.matchLabels;
    expect(
      Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join(","),
    ).toBe(CHART_AGENT_SELECTOR.split(",").sort().join(","));
    expect(ds.spec.template.spec.containers.map((c) => c.name)).toContain(CHART_AGENT_CONTAINER);
  });

  const LOGS = "/lab/nodes/node-1/pod-logs";
  const ok = { ready: true, detail: "ok" };
  const refused = { ready: false, detail: "127.0.0.1:9099: connection refused" };
  const pod = (
    node: string,
    state: NonNullable<NonNullable<ChartAgentPod["status"]>["containerStatuses"]>[number]["state"],
    extra: { name?: string; deleting?: boolean; restarts?: number } = {},
  ): ChartAgentPod => ({
    metadata: {
      name: extra.name ?? "trellis-node-abcde",
      namespace: "kube-system",
      uid: "u-1",
      ...(extra.deleting === true ? { deletionTimestamp: "2026-12-07T06:00:00Z" } : {}),
    },
    spec: { nodeName: node },
    status: {
      phase: "Running",
      containerStatuses: [
        {
          name: "trellis-node",
          restartCount: extra.restarts ?? 0,
          ...(state !== undefined ? { state } : {}),
        },
      ],
    },
  });

  it("a running agent container answering /readyz 200 is alive and ready, with its kubelet log", () => {
    expect(
      chartAgentVerdict(
        "node-1",
        [pod("node-2", {}), pod("node-1", { running: {} }, { restarts: 2 })],
        ok,
        LOGS,
      ),
    ).toEqual({
      alive: true,
      ready: true,
      readyz: "ok",
      pod: "kube-system/trellis-node-abcde",
      logFile: `${LOGS}/kube-system_trellis-node-abcde_u-1/trellis-node/2.log`,
    });
  });

  it("running but /readyz not 200 is alive and not ready, with the agent's reason", () => {
    const v = chartAgentVerdict(
      "node-1",
      [pod("node-1", { running: {} })],
      { ready: false, detail: "/readyz 503: not ready: first sync pending" },
      LOGS,
    );
    expect([v.alive, v.ready, v.readyz]).toEqual([true, false, "/readyz 503: not ready: first sync pending"]);
  });

  it("a container the kubelet holds waiting (CrashLoopBackOff) is not running, and says why", () => {
    const v = chartAgentVerdict(
      "node-1",
      [pod("node-1", { waiting: { reason: "CrashLoopBackOff" } })],
      refused,
      LOGS,
    );
    expect(v).toEqual({
      alive: false,
      ready: false,
      readyz: "kube-system/trellis-node-abcde: trellis-node waiting: CrashLoopBackOff",
      pod: "kube-system/trellis-node-abcde",
    });
  });

  it("no DaemonSet pod on the node is no agent", () => {
    expect(chartAgentVerdict("node-3", [pod("node-1", { running: {} })], refused, LOGS)).toEqual({
      alive: false,
      ready: false,
      readyz: "no pod of the trellis-node DaemonSet on node-3",
    });
  });

  it("during a roll the pod not being deleted is the node's agent", () => {
    const v = chartAgentVerdict(
      "node-1",
      [
        pod("node-1", { running: {} }, { name: "old", deleting: true }),
        pod("node-1", { waiting: { reason: "ContainerCreating" } }, { name: "new" }),
      ],
      refused,
      LOGS,
    );
    expect(v.pod).toBe("kube-system/new");
    expect(v.alive).toBe(false);
  });

  it("without the API server, a 200 from /readyz alone shows a live agent; no answer is not alive", () => {
    expect(chartAgentVerdict("node-1", undefined, ok, LOGS)).toEqual({
      alive: true,
      ready: true,
      readyz: "ok",
    });
    expect(chartAgentVerdict("node-1", undefined, refused, LOGS)).toEqual({
      alive: false,
      ready: false,
      readyz: "127.0.0.1:9099: connection refused (and the API server did not answer)",
    });
  });
});
