/** Where the real control plane's files live under the lab dir: DIR/controlplane/. Pure. */
import { join } from "node:path";
import { componentFiles, type ComponentFiles } from "../lab-layout.js";

export const CONTROL_PLANE_ENTRY = "controlplane";
/** pki/ name of kube-apiserver's client certificate toward the kubelets (pki.ts APISERVER_KUBELET_CLIENT) */
export const KUBELET_CLIENT_PAIR = "apiserver-kubelet-client";

export interface ControlPlaneLayout {
  dir: string;
  pkiDir: string;
  caCert: string;
  caKey: string;
  etcdData: string;
  etcdPid: string;
  etcdLog: string;
  controllerManagerPid: string;
  controllerManagerLog: string;
  controllerManagerKubeconfig: string;
  /** kube-scheduler (scheduler.ts) */
  scheduler: ComponentFiles;
  /** DIR/apiserver.sock: a plain TCP pass-through to kube-apiserver's TLS port (the node relays' target) */
  proxyUnixPid: string;
  proxyTcpPid: string;
  proxyLog: string;
  /** the ports startRealControlPlane chose, so the API server can be started again on the same one */
  portsFile: string;
  /** under real nodes: kube-apiserver's EgressSelectorConfiguration and the proxy it names (kubelet-egress.ts) */
  egressConfig: string;
  egressSocket: string;
  egressPid: string;
  egressLog: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** name -> {cert, key} under pki/ */
  pair(name: string): { cert: string; key: string };
}

export function controlPlaneLayout(labDir: string): ControlPlaneLayout {
  const dir = join(labDir, CONTROL_PLANE_ENTRY);
  const pkiDir = join(dir, "pki");
  return {
    dir,
    pkiDir,
    caCert: join(pkiDir, "ca.crt"),
    caKey: join(pkiDir, "ca.key"),
    etcdData: join(dir, "etcd"),
    etcdPid: join(dir, "etcd.pid"),
    etcdLog: join(dir, "etcd.log"),
    controllerManagerPid: join(dir, "kube-controller-manager.pid"),
    controllerManagerLog: join(dir, "kube-controller-manager.log"),
    controllerManagerKubeconfig: join(dir, "kube-controller-manager.kubeconfig"),
    scheduler: componentFiles(dir, "kube-scheduler"),
    proxyUnixPid: join(dir, "proxy-unix.pid"),
    proxyTcpPid: join(dir, "proxy-tcp.pid"),
    proxyLog: join(dir, "proxy.log"),
    portsFile: join(dir, "ports.json"),
    egressConfig: join(dir, "egress-selector.yaml"),
    egressSocket: join(dir, "kubelet-egress.sock"),
    egressPid: join(dir, "kubelet-egress.pid"),
    egressLog: join(dir, "kubelet-egress.log"),
    serviceAccountKey: join(pkiDir, "sa.key"),
    serviceAccountPub: join(pkiDir, "sa.pub"),
    pair: (name) => ({ cert: join(pkiDir, `${name}.crt`), key: join(pkiDir, `${name}.key`) }),
  };
}
