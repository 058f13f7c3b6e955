/**
 * Command lines of the real control plane (etcd, kube-apiserver,
 * kube-controller-manager) and of the lab's authenticating relay. Pure: the
 * ports and paths come in, argv goes out, so a unit test pins the flags.
 */
import type { ControlPlaneBinaries } from "./versions.js";
import { KUBELET_CLIENT_PAIR, type ControlPlaneLayout } from "./layout.js";

export interface ControlPlanePorts {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  /** the plain-http relay for the lab's own tools (root netns loopback) */
  relay: number;
}

/** The Service range (kube-apiserver --service-cluster-ip-range); clear of the lab's pod and link ranges. */
export const SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16";
/** The first address of that range: the `kubernetes` Service, named in the serving certificate. */
export const KUBERNETES_SERVICE_IP = "10.96.0.1";
export const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

/**
 * The controllers the lab runs: namespace deletion, garbage collection,
 * ServiceAccounts and their tokens (pods cannot be admitted in a namespace
 * without its `default` ServiceAccount), EndpointSlices, the root CA
 * ConfigMap, the aggregated ClusterRoles (admin/edit/view), and the
 * workload controllers (Deployment, ReplicaSet, DaemonSet), whose pods
 * kube-scheduler (scheduler.ts) binds to the nodes. No node-lifecycle
 * controller: the kubelet stand-ins post their status once and renew no
 * node Lease, so it would mark every node Unknown (lab-up removes the
 * not-ready taint it would have removed; lab/controlplane/README.md).
 */
export const CONTROLLERS = [
  "namespace-controller",
  "garbage-collector-controller",
  "serviceaccount-controller",
  "serviceaccount-token-controller",
  "endpointslice-controller",
  "root-ca-certificate-publisher-controller",
  "clusterrole-aggregation-controller",
  "deployment-controller",
  "replicaset-controller",
  "daemonset-controller",
] as const;

export function etcdArgv(b: ControlPlaneBinaries, C: ControlPlaneLayout, p: ControlPlanePorts): string[] {
  const client = `http://127.0.0.1:${p.etcdClient}`;
  const peer = `http://127.0.0.1:${p.etcdPeer}`;
  return [
    b.etcd,
    "--name=lab",
    `--data-dir=${C.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=lab=${peer}`,
    "--initial-cluster-state=new",
    // A lab on a shared, noisy disk: losing the last writes on a machine crash is fine.
    "--unsafe-no-fsync",
    "--log-level=warn",
  ];
}

/**
 * kube-apiserver. `egressConfig`: under real nodes, the EgressSelectorConfiguration
 * that sends its traffic to the kubelets through the lab's proxy (kubelet-egress.ts).
 */
export function apiserverArgv(
  b: ControlPlaneBinaries,
  C: ControlPlaneLayout,
  p: ControlPlanePorts,
  egressConfig?: string,
): string[] {
  const serving = C.pair("apiserver");
  const kubeletClient = C.pair(KUBELET_CLIENT_PAIR);
  return [
    b.kubeApiserver,
    `--etcd-servers=http://127.0.0.1:${p.etcdClient}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    // The `kubernetes` Service's endpoints would name a loopback address, which
    // the API refuses: the lab does not reconcile them (nothing in it uses them).
    "--endpoint-reconciler-type=none",
    `--secure-port=${p.apiserver}`,
    `--tls-cert-file=${serving.cert}`,
    `--tls-private-key-file=${serving.key}`,
    `--client-ca-file=${C.caCert}`,
    // Node: a kubelet (system:node:NAME) reads only what its pods need; then RBAC
    // (kubernetes.io/docs/reference/access-authn-authz/node/).
    "--authorization-mode=Node,RBAC",
    // Admission: the defaults of this release (NamespaceLifecycle, ServiceAccount, …),
    // plus NodeRestriction: a kubelet changes only its own Node and its pods' status.
    "--enable-admission-plugins=NodeRestriction",
    // Toward the kubelets (exec, logs): a client certificate they authenticate,
    // and their serving certificates verified against the lab CA.
    `--kubelet-client-certificate=${kubeletClient.cert}`,
    `--kubelet-client-key=${kubeletClient.key}`,
    `--kubelet-certificate-authority=${C.caCert}`,
    // The node's address first, as kubeadm sets it: the default tries the hostname
    // first, which nothing here resolves (and the egress proxy maps addresses to nodes).
    "--kubelet-preferred-address-types=InternalIP,Hostname",
    "--allow-privileged=true",
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
    `--service-account-key-file=${C.serviceAccountPub}`,
    `--service-account-signing-key-file=${C.serviceAccountKey}`,
    `--cert-dir=${C.pkiDir}`,
    "--profiling=false",
    ...(egressConfig !== undefined ? [`--egress-selector-config-file=${egressConfig}`] : []),
  ];
}

export function controllerManagerArgv(b: ControlPlaneBinaries, C: ControlPlaneLayout): string[] {
  return [
    b.kubeControllerManager,
    `--kubeconfig=${C.controllerManagerKubeconfig}`,
    `--authentication-kubeconfig=${C.controllerManagerKubeconfig}`,
    `--authorization-kubeconfig=${C.controllerManagerKubeconfig}`,
    `--controllers=${CONTROLLERS.join(",")}`,
    `--service-account-private-key-file=${C.serviceAccountKey}`,
    `--root-ca-file=${C.caCert}`,
    // Each controller with its own ServiceAccount and bootstrap ClusterRole (system:controller:…), as kubeadm runs it.
    "--use-service-account-credentials=true",
    "--leader-elect=false",
    // Its own health endpoint is not served: nothing in the lab reads it, and a port is one more collision.
    "--secure-port=0",
  ];
}

/**
 * DIR/apiserver.sock under the real control plane: bytes passed through to
 * kube-apiserver's TLS port, no identity added. Each node's 127.0.0.1:6443
 * relay leads here, so inside a node the API server is TLS on 6443 as on a
 * real node, and every client there authenticates itself (trellis-node with
 * its ServiceAccount token, the kubelet stand-in with its certificate).
 */
export function passthroughArgv(listen: string, p: ControlPlanePorts): string[] {
  // nodelay: socat forwards what it reads as it comes; with Nagle on, the tail of a
  // large request (an IPAM block PUT) waited for kube-apiserver's delayed ACK, 40 ms a time.
  return ["socat", listen, `TCP:127.0.0.1:${p.apiserver},nodelay`];
}

/**
 * The relay that lets the lab's own tools (the CLI, `lab up` itself) keep
 * speaking plain HTTP: socat terminates nothing, it
 * opens a TLS connection to the real API server per client, authenticated
 * with the lab-proxy client certificate (system:masters). `listen` is a socat
 * address (TCP-LISTEN:port,bind=127.0.0.1,…).
 */
export function relayArgv(listen: string, C: ControlPlaneLayout, p: ControlPlanePorts): string[] {
  const client = C.pair("lab-proxy");
  return [
    "socat",
    listen,
    `OPENSSL:127.0.0.1:${p.apiserver},cafile=${C.caCert},cert=${client.cert},key=${client.key},verify=1,commonname=kubernetes`,
  ];
}
