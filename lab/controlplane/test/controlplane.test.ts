// lab/controlplane pure pieces: the versions file, the cache paths, the command lines, the certificate
// subjects, the agent's identity (the chart's RBAC arguments, its ServiceAccount, the token kubeconfig).
import { describe, expect, it } from "@jest/globals";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { AGENT_NAMESPACE, chartRbacArgs, renderedServiceAccount } from "../agent-identity.js";
import {
  apiserverArgv,
  controllerManagerArgv,
  CONTROLLERS,
  etcdArgv,
  passthroughArgv,
  relayArgv,
} from "../args.js";
import { renderTlsKubeconfig } from "../tls-kubeconfig.js";
import { controlPlaneLayout } from "../layout.js";
import { subject } from "../pki.js";
import { binaryPaths, nodeBinaryPaths, parseVersionsEnv, readVersions } from "../versions.js";
import { isBuilt, requireBuilt } from "../node-binaries.js";
import { LabError } from "../../lab-errors.js";

const ports = { etcdClient: 2379, etcdPeer: 2380, apiserver: 6443, relay: 8080 };
const bin = binaryPaths(
  { kubernetes: "v1.37.2", etcd: "v3.7.4", helm: "v4.3.2", containerd: "v2.4.2" },
  "/c",
);
const C = controlPlaneLayout("/lab");

describe("versions.env", () => {
  it("the committed file pins the three versions as vX.Y.Z", () => {
    const v = readVersions();
    expect(v.kubernetes).toMatch(/^v1\.\d+\.\d+$/);
    expect(v.etcd).toMatch(/^v3\.\d+\.\d+$/);
    expect(v.helm).toMatch(/^v4\.\d+\.\d+$/);
    expect(v.containerd).toMatch(/^v2\.\d+\.\d+$/);
  });

  it("comments and blank lines are skipped; a missing or malformed version is refused", () => {
    const ok =
      "# c\n\nKUBERNETES_VERSION=v1.37.2\nETCD_VERSION=v3.7.4\nHELM_VERSION=v4.3.2\nCONTAINERD_VERSION=v2.4.2\n";
    expect(parseVersionsEnv(ok)).toEqual({
      kubernetes: "v1.37.2",
      etcd: "v3.7.4",
      helm: "v4.3.2",
      containerd: "v2.4.2",
    });
    expect(() => parseVersionsEnv("KUBERNETES_VERSION=1.37\n")).toThrow("KUBERNETES_VERSION must be vX.Y.Z");
    expect(() => parseVersionsEnv("export X\n")).toThrow("not KEY=VALUE");
  });

  it("binaries are cached per component and version, with upstream names", () => {
    expect(bin).toEqual({
      etcd: "/c/etcd-v3.7.4/etcd",
      kubeApiserver: "/c/kubernetes-v1.37.2/kube-apiserver",
      kubeControllerManager: "/c/kubernetes-v1.37.2/kube-controller-manager",
      helm: "/c/helm-v4.3.2/helm",
      stamps: ["/c/kubernetes-v1.37.2/.complete", "/c/etcd-v3.7.4/.complete", "/c/helm-v4.3.2/.complete"],
    });
  });

  it("the real nodes' binaries have their own cache entries, apart from the control plane's", () => {
    const v = { kubernetes: "v1.37.2", etcd: "v3.7.4", helm: "v4.3.2", containerd: "v2.4.2" };
    expect(nodeBinaryPaths(v, "/c")).toEqual({
      kubelet: "/c/kubernetes-node-v1.37.2/kubelet",
      kubeProxy: "/c/kubernetes-node-v1.37.2/kube-proxy",
      kubeScheduler: "/c/kubernetes-node-v1.37.2/kube-scheduler",
      containerd: "/c/containerd-v2.4.2/containerd",
      containerdShimRuncV2: "/c/containerd-v2.4.2/containerd-shim-runc-v2",
      ctr: "/c/containerd-v2.4.2/ctr",
      stamps: ["/c/kubernetes-node-v1.37.2/.complete", "/c/containerd-v2.4.2/.complete"],
    });
  });
});

describe("built binaries", () => {
  it("a build counts only with every .complete stamp; a refusal names what is missing and the script that builds it", () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-built-"));
    try {
      const done = join(dir, "a", ".complete");
      const notDone = join(dir, "b", ".complete");
      mkdirSync(join(dir, "a"));
      writeFileSync(done, "");
      expect(isBuilt({ stamps: [done] })).toBe(true);
      expect(isBuilt({ stamps: [done, notDone] })).toBe(false);
      const b = { stamps: [done] };
      expect(requireBuilt(b, [done], "x", "build it", "(or not)")).toBe(b);
      const refuse = () => requireBuilt(b, [done, notDone], "x is not built", "build it once", "(or not)");
      expect(refuse).toThrow(LabError);
      expect(refuse).toThrow(`x is not built (missing ${notDone}): build it once with `);
      expect(refuse).toThrow(/scripts\/build-k8s \(or not\)$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("command lines", () => {
  it("kube-apiserver: TLS with the lab CA, RBAC, ServiceAccount signing keys, a service range, etcd on loopback", () => {
    const a = apiserverArgv(bin, C, ports);
    expect(a[0]).toBe("/c/kubernetes-v1.37.2/kube-apiserver");
    expect(a).toEqual(
      expect.arrayContaining([
        "--etcd-servers=http://127.0.0.1:2379",
        "--bind-address=127.0.0.1",
        "--secure-port=6443",
        "--tls-cert-file=/lab/controlplane/pki/apiserver.crt",
        "--client-ca-file=/lab/controlplane/pki/ca.crt",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        "--kubelet-client-certificate=/lab/controlplane/pki/apiserver-kubelet-client.crt",
        "--kubelet-certificate-authority=/lab/controlplane/pki/ca.crt",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--service-account-key-file=/lab/controlplane/pki/sa.pub",
        "--service-account-signing-key-file=/lab/controlplane/pki/sa.key",
      ]),
    );
    // the release's default admission plugins stay on
    expect(
      a.some((x) => x.startsWith("--disable-admission-plugins") || x.startsWith("--admission-control")),
    ).toBe(false);
    // no real nodes: no egress through the kubelet proxy
    expect(a.some((x) => x.startsWith("--egress-selector-config-file"))).toBe(false);
  });

  it("kube-apiserver under real nodes: its cluster egress goes through the kubelet proxy", () => {
    expect(apiserverArgv(bin, C, ports, "/lab/controlplane/egress.yaml")).toContain(
      "--egress-selector-config-file=/lab/controlplane/egress.yaml",
    );
  });

  it("kube-controller-manager: namespace deletion, GC, ServiceAccount tokens, EndpointSlices, and the workload controllers whose pods kube-scheduler binds", () => {
    const a = controllerManagerArgv(bin, C);
    expect(a).toContain(`--controllers=${CONTROLLERS.join(",")}`);
    for (const c of [
      "namespace-controller",
      "garbage-collector-controller",
      "serviceaccount-token-controller",
      "endpointslice-controller",
      "deployment-controller",
      "replicaset-controller",
      "daemonset-controller",
    ])
      expect(CONTROLLERS).toContain(c);
    expect(a).toContain("--service-account-private-key-file=/lab/controlplane/pki/sa.key");
  });

  it("etcd listens on loopback only", () => {
    const a = etcdArgv(bin, C, ports);
    expect(a.filter((x) => /urls=/.test(x)).every((x) => x.includes("http://127.0.0.1:"))).toBe(true);
  });

  it("the relay verifies the API server against the lab CA and presents the lab-proxy certificate", () => {
    expect(relayArgv("TCP-LISTEN:8080", C, ports)[2]).toBe(
      "OPENSSL:127.0.0.1:6443,cafile=/lab/controlplane/pki/ca.crt,cert=/lab/controlplane/pki/lab-proxy.crt," +
        "key=/lab/controlplane/pki/lab-proxy.key,verify=1,commonname=kubernetes",
    );
  });
});

describe("the node relay's target", () => {
  it("DIR/apiserver.sock passes bytes through to kube-apiserver's TLS port, adding no identity", () => {
    expect(passthroughArgv("UNIX-LISTEN:/lab/apiserver.sock,fork", ports)).toEqual([
      "socat",
      "UNIX-LISTEN:/lab/apiserver.sock,fork",
      "TCP:127.0.0.1:6443,nodelay",
    ]);
  });
});

describe("trellis-node's identity: the chart's RBAC", () => {
  it("helm template renders only the ServiceAccount, ClusterRole and ClusterRoleBinding, in kube-system", () => {
    expect(chartRbacArgs({}, "/chart")).toEqual([
      "template",
      "trellis",
      "/chart",
      "-n",
      AGENT_NAMESPACE,
      "--show-only",
      "templates/serviceaccount.yaml",
      "--show-only",
      "templates/clusterrole.yaml",
      "--show-only",
      "templates/clusterrolebinding.yaml",
    ]);
  });

  it("with BGP password Secrets, also the chart's Role granting get on exactly those", () => {
    const a = chartRbacArgs({ passwordSecrets: ["bgp-password", "other"] }, "/chart");
    expect(a).toContain("templates/bgp-password-role.yaml");
    expect(a.slice(a.indexOf("--set"), a.indexOf("--set") + 2)).toEqual([
      "--set",
      "agent.bgp.passwordSecrets={bgp-password,other}",
    ]);
  });

  it("the agent's ServiceAccount is the one the chart rendered; none or two is an error", () => {
    const sa =
      "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: trellis-node, namespace: kube-system}\n";
    const cr =
      "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: trellis-node}\n";
    expect(renderedServiceAccount(`${sa}---\n${cr}`)).toEqual({
      namespace: "kube-system",
      name: "trellis-node",
    });
    expect(() => renderedServiceAccount(cr)).toThrow("the chart rendered 0 ServiceAccounts");
    expect(() => renderedServiceAccount(`${sa}---\n${sa}`)).toThrow("the chart rendered 2 ServiceAccounts");
  });

  it("the token kubeconfig carries the lab CA and the bearer token, no client certificate", () => {
    const kc = parse(
      renderTlsKubeconfig({ server: "https://127.0.0.1:6443", context: "n1", caPem: "CA", token: "eyJ.t" }),
    ) as { clusters: { cluster: Record<string, string> }[]; users: { user: Record<string, string> }[] };
    expect(kc.users[0]?.user).toEqual({ token: "eyJ.t" });
    expect(kc.clusters[0]?.cluster).toEqual({
      server: "https://127.0.0.1:6443",
      "certificate-authority-data": Buffer.from("CA").toString("base64"),
    });
  });
});

describe("certificate subjects", () => {
  it("groups are O, the user is CN, and openssl's separators are escaped", () => {
    expect(subject({ user: "admin", groups: ["system:masters"] })).toBe("/O=system:masters/CN=admin");
    expect(subject({ user: "a/b=c", groups: [] })).toBe("/CN=a\\/b\\=c");
  });
});
