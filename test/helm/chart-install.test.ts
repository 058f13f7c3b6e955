// helm install and helm uninstall of helm/trellis on a real control plane
// (etcd + kube-apiserver + kube-controller-manager, scripts/build-k8s; built
// lazily, printing the time, when scripts/bootstrap has not), started
// without any CRD so that the chart's crds/ are what creates them. No
// node and no kubelet exist, so the DaemonSet controller makes no pod: the DaemonSet just exists.
// Uninstall removes every object of the release's manifest and keeps the
// CRDs of crds/, as Helm documents (helm.sh/docs/chart_best_practices/custom_resource_definitions:
// CRDs in crds/ are installed once and never upgraded nor deleted).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { labLayout, type LabLayout } from "../../lab/lab-layout.js";
import { runCommand, type CommandResult } from "../../lab/run-command.js";
import { ensureBinaries, startRealControlPlane, stopRealControlPlane } from "../../lab/controlplane/control-plane.js";
import type { ControlPlaneBinaries } from "../../lab/controlplane/versions.js";
import { chartDir, expectedChartCrds } from "./chart-files.js";

const NS = "kube-system";
const RELEASE = "trellis";
let bin: ControlPlaneBinaries;
let dir: string;
let L: LabLayout;

const run = (cmd: string, args: string[], input?: string): Promise<CommandResult> =>
  runCommand(cmd, args, { timeoutMs: 120_000, ...(input !== undefined ? { input } : {}) });
const helm = (...args: string[]): Promise<CommandResult> =>
  run(bin.helm, ["--kubeconfig", L.kubeconfig, ...args]);
const kubectl = (...args: string[]): Promise<CommandResult> => run("kubectl", ["--kubeconfig", L.kubeconfig, ...args]);

interface Ref {
  kind: string;
  name: string;
  namespace?: string;
}
const show = (r: Ref): string => `${r.kind}/${r.name}${r.namespace !== undefined ? ` -n ${r.namespace}` : ""}`;
/** kubectl get of one object: "present", "absent" (NotFound) or the error. */
async function presence(r: Ref): Promise<string> {
  const res = await kubectl("get", r.kind, r.name, ...(r.namespace !== undefined ? ["-n", r.namespace] : []));
  if (res.code === 0) return "present";
  return /NotFound|not found/.test(res.stderr) ? "absent" : `error: ${res.stderr.trim()}`;
}
/** The chart's CRDs (crds/ holds one per file, named after it). */
const chartCrds = (): Ref[] =>
  [...expectedChartCrds().keys()].map((f) => ({ kind: "customresourcedefinition", name: f.replace(/\.yaml$/, "") }));

let manifest: Ref[] = [];

beforeAll(async () => {
  const t0 = Date.now();
  bin = await ensureBinaries((l) => console.log(`chart install: ${l}`));
  dir = mkdtempSync(join(tmpdir(), "trellis-chart-install-"));
  L = labLayout(dir);
  await startRealControlPlane(L, () => undefined, { crds: false });
  console.log(`chart install: real control plane up in ${Math.round((Date.now() - t0) / 1000)} s`);
}, 60 * 60_000);

afterAll(async () => {
  if (L !== undefined) await stopRealControlPlane(L);
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("helm install / helm uninstall of helm/trellis (real kube-apiserver)", () => {
  it("before: none of the chart's CRDs exists", async () => {
    const crds = chartCrds();
    expect(crds.length).toBeGreaterThan(0);
    for (const c of crds) expect([show(c), await presence(c)]).toEqual([show(c), "absent"]);
  });

  it("helm install creates the CRDs, the RBAC, the ConfigMap, the DaemonSet and the IPPool", async () => {
    const r = await helm("install", RELEASE, chartDir, "-n", NS);
    expect(`${r.code} ${r.stderr}`).toMatch(/^0 /);
    expect(r.stdout).toMatch(/STATUS: deployed/);
    const m = await helm("get", "manifest", RELEASE, "-n", NS);
    expect(m.code).toBe(0);
    manifest = parseAllDocuments(m.stdout)
      .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null)
      .filter((o) => o?.kind !== undefined && o.metadata?.name !== undefined)
      .map((o) => ({
        kind: o?.kind ?? "",
        name: o?.metadata?.name ?? "",
        // namespaced templates say their namespace ({{ .Release.Namespace }}); cluster-scoped ones none
        ...(o?.metadata?.namespace !== undefined ? { namespace: o.metadata.namespace } : {}),
      }));
    expect(manifest.map(show).sort()).toEqual(
      [
        `ClusterRole/trellis-node`,
        `ClusterRoleBinding/trellis-node`,
        `ConfigMap/trellis-node-config -n ${NS}`,
        `DaemonSet/trellis-node -n ${NS}`,
        `IPPool/default-ipv4`,
        `ServiceAccount/trellis-node -n ${NS}`,
      ].sort(),
    );
    for (const o of [...chartCrds(), ...manifest]) expect([show(o), await presence(o)]).toEqual([show(o), "present"]);
    // The DaemonSet exists as the chart wrote it; with no node, nothing runs it here.
    const ds = await kubectl("get", "daemonset", "trellis-node", "-n", NS, "-o", "json");
    const spec = (JSON.parse(ds.stdout) as { spec: { template: { spec: { serviceAccountName: string } } } }).spec;
    expect(spec.template.spec.serviceAccountName).toBe("trellis-node");
  }, 180_000);

  it("helm uninstall removes every object it installed and keeps the CRDs of crds/ (Helm's CRD policy)", async () => {
    expect(manifest.length).toBeGreaterThan(0);
    const r = await helm("uninstall", RELEASE, "-n", NS, "--wait");
    expect(`${r.code} ${r.stderr}`).toMatch(/^0 /);
    expect(r.stdout).toMatch(/release "trellis" uninstalled/);
    for (const o of manifest) expect([show(o), await presence(o)]).toEqual([show(o), "absent"]);
    // Kept on purpose: deleting a CRD deletes every object of its kind (blocks, pools) cluster-wide.
    for (const c of chartCrds()) expect([show(c), await presence(c)]).toEqual([show(c), "present"]);
    expect((await helm("list", "-n", NS, "-q")).stdout.trim()).toBe("");
  }, 180_000);
});
