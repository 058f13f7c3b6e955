/**
 * The lab's certificate authority and certificates, made with openssl
 * (Debian's; scripts/bootstrap installs it): P-256 keys, ten years, a fresh
 * CA per lab. The API server's serving certificate names every address the
 * lab reaches it by; client certificates carry the identity in CN (user) and
 * O (group), as kube-apiserver's x509 authenticator reads them.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mustRun } from "../run-command.js";
import { KUBELET_CLIENT_PAIR, type ControlPlaneLayout } from "./layout.js";
import { KUBERNETES_SERVICE_IP } from "./args.js";
import { renderTlsKubeconfig } from "./tls-kubeconfig.js";

export interface ClientIdentity {
  /** file name under pki/ */
  name: string;
  user: string;
  groups: string[];
}

/** system:masters: the lab's admin, the relay the lab's processes go through. */
export const ADMIN: ClientIdentity = { name: "admin", user: "trellis-lab-admin", groups: ["system:masters"] };
export const LAB_PROXY: ClientIdentity = {
  name: "lab-proxy",
  user: "trellis-lab-proxy",
  groups: ["system:masters"],
};
/**
 * The kubelet stand-ins (lab/kubelet): system:masters. They stand in for the
 * kubelet and the container runtime, which Trellis neither ships nor
 * configures; the real kubelet's identity (system:node:NAME under the Node
 * authorizer and NodeRestriction) is the cluster's business, not what the
 * lab tests. Only trellis-node runs with least privilege (the chart's).
 */
export const LAB_KUBELET: ClientIdentity = {
  name: "lab-kubelet",
  user: "trellis-lab-kubelet",
  groups: ["system:masters"],
};
/** bound by the default ClusterRoleBinding system:kube-controller-manager */
export const CONTROLLER_MANAGER: ClientIdentity = {
  name: "kube-controller-manager",
  user: "system:kube-controller-manager",
  groups: [],
};

/** Bound by the default ClusterRoleBinding system:kube-scheduler (and system:volume-scheduler): scheduler.ts. */
export const KUBE_SCHEDULER: ClientIdentity = {
  name: "kube-scheduler",
  user: "system:kube-scheduler",
  groups: [],
};
/** Bound by the default ClusterRoleBinding system:node-proxier: ../kube-proxy.ts, in every node. */
export const KUBE_PROXY: ClientIdentity = { name: "kube-proxy", user: "system:kube-proxy", groups: [] };

/**
 * kube-apiserver's client identity toward the kubelets (exec, logs, port-forward:
 * --kubelet-client-certificate), as kubeadm makes it: system:masters, so the
 * kubelet's webhook authorizer (a SubjectAccessReview) allows nodes/proxy.
 */
export const APISERVER_KUBELET_CLIENT: ClientIdentity = {
  name: KUBELET_CLIENT_PAIR,
  user: "kube-apiserver-kubelet-client",
  groups: ["system:masters"],
};

/** The client certificates makePki issues when the real control plane starts (control-plane.ts). */
export const CONTROL_PLANE_CLIENTS: readonly ClientIdentity[] = [
  ADMIN,
  LAB_PROXY,
  LAB_KUBELET,
  CONTROLLER_MANAGER,
  KUBE_SCHEDULER,
  KUBE_PROXY,
  APISERVER_KUBELET_CLIENT,
];

/**
 * A real kubelet's identity: user system:node:NAME in group system:nodes,
 * which the Node authorizer and the NodeRestriction admission plugin key on
 * (kubernetes.io/docs/reference/access-authn-authz/node/).
 */
export function nodeIdentity(node: string): ClientIdentity {
  return { name: `node-${node}`, user: `system:node:${node}`, groups: ["system:nodes"] };
}

/** The pki/ name of a node's kubelet serving certificate. */
export const kubeletServingName = (node: string): string => `kubelet-serving-${node}`;

/**
 * SANs of a kubelet's serving certificate: its node name and addresses.
 * kube-apiserver verifies it (--kubelet-certificate-authority) against the
 * address it dials, the Node's InternalIP.
 */
export function kubeletServingSans(node: string, addresses: readonly string[]): string[] {
  return [`DNS:${node}`, ...addresses.map((a) => `IP:${a}`)];
}

/** A kubelet's serving certificate, signed by the lab CA (after makePki). */
export async function makeKubeletServingCert(
  C: ControlPlaneLayout,
  node: string,
  addresses: readonly string[],
): Promise<void> {
  await signed(C, kubeletServingName(node), `/CN=${node}`, [
    `subjectAltName=${kubeletServingSans(node, addresses).join(",")}`,
    "extendedKeyUsage=serverAuth",
    "keyUsage=critical,digitalSignature,keyEncipherment",
  ]);
}

/** One more client certificate from the lab CA (after makePki): a node joining later. */
export async function makeClientCert(C: ControlPlaneLayout, c: ClientIdentity): Promise<void> {
  await signed(C, c.name, subject(c), ["extendedKeyUsage=clientAuth", "keyUsage=critical,digitalSignature"]);
}

export const APISERVER_SANS = [
  "IP:127.0.0.1",
  `IP:${KUBERNETES_SERVICE_IP}`,
  "DNS:localhost",
  "DNS:kubernetes",
  "DNS:kubernetes.default",
  "DNS:kubernetes.default.svc",
  "DNS:kubernetes.default.svc.cluster.local",
];

const DAYS = "3650";
const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** `/O=g1/O=g2/CN=user`, escaping the separators openssl's -subj gives meaning to. */
export function subject(id: { user: string; groups: readonly string[] }): string {
  const esc = (s: string): string => s.replace(/[\\/=+,]/g, (c) => `\\${c}`);
  return [...id.groups.map((g) => `/O=${esc(g)}`), `/CN=${esc(id.user)}`].join("");
}

export async function makePki(C: ControlPlaneLayout, clients: readonly ClientIdentity[]): Promise<void> {
  mkdirSync(C.pkiDir, { recursive: true, mode: 0o700 });
  await mustRun("openssl", [
    "req",
    "-x509",
    ...KEY,
    "-keyout",
    C.caKey,
    "-out",
    C.caCert,
    "-days",
    DAYS,
    "-subj",
    "/CN=trellis-lab-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
  ]);
  await signed(C, "apiserver", "/CN=kube-apiserver", [
    `subjectAltName=${APISERVER_SANS.join(",")}`,
    "extendedKeyUsage=serverAuth",
    "keyUsage=critical,digitalSignature,keyEncipherment",
  ]);
  for (const c of clients) await makeClientCert(C, c);
  // ServiceAccount token signing (ES256).
  await mustRun("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-out",
    C.serviceAccountKey,
  ]);
  await mustRun("openssl", ["pkey", "-in", C.serviceAccountKey, "-pubout", "-out", C.serviceAccountPub]);
}

/** A kubeconfig for `server` with the lab CA and the client pair `pair` of pki/ (after makePki), embedded. */
export function pairKubeconfig(C: ControlPlaneLayout, server: string, pair: string, context: string): string {
  const { cert, key } = C.pair(pair);
  return renderTlsKubeconfig({
    server,
    context,
    caPem: readFileSync(C.caCert, "utf8"),
    certPem: readFileSync(cert, "utf8"),
    keyPem: readFileSync(key, "utf8"),
  });
}

async function signed(C: ControlPlaneLayout, name: string, subj: string, ext: string[]): Promise<void> {
  const { cert, key } = C.pair(name);
  const csr = join(C.pkiDir, `${name}.csr`);
  const extFile = join(C.pkiDir, `${name}.ext`);
  writeFileSync(extFile, ext.join("\n") + "\n");
  await mustRun("openssl", ["req", "-new", ...KEY, "-keyout", key, "-out", csr, "-subj", subj]);
  await mustRun("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    C.caCert,
    "-CAkey",
    C.caKey,
    "-CAcreateserial",
    "-days",
    DAYS,
    "-extfile",
    extFile,
    "-out",
    cert,
  ]);
}
