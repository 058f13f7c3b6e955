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
import { chartAgentValues, LAB_CHART_PATHS } from "../chart-agent.js";

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
