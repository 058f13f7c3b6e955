// lab/controlplane pure pieces: the versions file, the cache paths, the command lines, the certificate subjects.
import { describe, expect, it } from "@jest/globals";
import { apiserverArgv, controllerManagerArgv, CONTROLLERS, etcdArgv, relayArgv } from "../args.js";
import { controlPlaneLayout } from "../layout.js";
import { subject } from "../pki.js";
import { binaryPaths, parseVersionsEnv, readVersions } from "../versions.js";

const ports = { etcdClient: 2379, etcdPeer: 2380, apiserver: 6443, relay: 8080 };
const bin = binaryPaths({ kubernetes: "v1.37.2", etcd: "v3.7.4", helm: "v4.3.2" }, "/c");
const C = controlPlaneLayout("/lab");

describe("versions.env", () => {
  it("the committed file pins the three versions as vX.Y.Z", () => {
    const v = readVersions();
    expect(v.kubernetes).toMatch(/^v1\.\d+\.\d+$/);
    expect(v.etcd).toMatch(/^v3\.\d+\.\d+$/);
    expect(v.helm).toMatch(/^v4\.\d+\.\d+$/);
  });

  it("comments and blank lines are skipped; a missing or malformed version is refused", () => {
    const ok = "# c\n\nKUBERNETES_VERSION=v1.37.2\nETCD_VERSION=v3.7.4\nHELM_VERSION=v4.3.2\n";
    expect(parseVersionsEnv(ok)).toEqual({ kubernetes: "v1.37.2", etcd: "v3.7.4", helm: "v4.3.2" });
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
        "--authorization-mode=RBAC",
        "--service-cluster-ip-range=10.96.0.0/16",
        "--service-account-key-file=/lab/controlplane/pki/sa.pub",
        "--service-account-signing-key-file=/lab/controlplane/pki/sa.key",
      ]),
    );
    // the release's default admission plugins stay on
    expect(
      a.some((x) => x.startsWith("--disable-admission-plugins") || x.startsWith("--admission-control")),
    ).toBe(false);
  });

  it("kube-controller-manager: namespace deletion, GC, ServiceAccount tokens, EndpointSlices", () => {
    const a = controllerManagerArgv(bin, C);
    expect(a).toContain(`--controllers=${CONTROLLERS.join(",")}`);
    for (const c of [
      "namespace-controller",
      "garbage-collector-controller",
      "serviceaccount-token-controller",
      "endpointslice-controller",
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

describe("certificate subjects", () => {
  it("groups are O, the user is CN, and openssl's separators are escaped", () => {
    expect(subject({ user: "admin", groups: ["system:masters"] })).toBe("/O=system:masters/CN=admin");
    expect(subject({ user: "a/b=c", groups: [] })).toBe("/CN=a\\/b\\=c");
  });
});
