/**
 * trellis-node's identity under the real control plane: the ServiceAccount,
 * ClusterRole and ClusterRoleBinding that the Helm chart (helm/trellis)
 * renders, applied as rendered, and a token the API server issues for that
 * ServiceAccount (TokenRequest, authentication.k8s.io/v1). So the agents in
 * the lab hold exactly what the chart grants: a permission the chart lacks
 * shows as a 403 in the agent's log, naming the verb and the resource.
 */
import { parseAllDocuments } from "yaml";
import type { LabApi } from "../api-client.js";
import { mustRun } from "../run-command.js";
import { controlPlanePaths } from "./versions.js";

/** The release namespace the lab installs the chart's RBAC into (where `helm install -n kube-system` puts it). */
export const AGENT_NAMESPACE = "kube-system";
/**
 * One year: the lab has no token refresh (the agent reads its kubeconfig once),
 * and a lab left running must keep working. It is reachable on loopback only.
 */
export const AGENT_TOKEN_SECONDS = 365 * 24 * 3600;

export interface ChartRbacOptions {
  /** agent.bgp.passwordSecrets: the Secrets the chart lets the agent get (a Role with resourceNames) */
  passwordSecrets?: readonly string[];
}

/** `helm template` arguments rendering only the chart's RBAC templates. Pure. */
export function chartRbacArgs(o: ChartRbacOptions = {}, chartDir = controlPlanePaths.chartDir): string[] {
  const templates = ["serviceaccount.yaml", "clusterrole.yaml", "clusterrolebinding.yaml"];
  const secrets = o.passwordSecrets ?? [];
  const set: string[] = [];
  if (secrets.length > 0) {
    templates.push("bgp-password-role.yaml");
    set.push("--set", `agent.bgp.passwordSecrets={${secrets.join(",")}}`);
  }
  return [
    "template",
    "trellis",
    chartDir,
    "-n",
    AGENT_NAMESPACE,
    ...set,
    ...templates.flatMap((t) => ["--show-only", `templates/${t}`]),
  ];
}

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** The one ServiceAccount in rendered chart output (its name comes from the chart's values). Pure. */
export function renderedServiceAccount(yaml: string): ServiceAccountRef {
  const sas = parseAllDocuments(yaml)
    .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null)
    .filter((o) => o?.kind === "ServiceAccount");
  const m = sas[0]?.metadata;
  if (sas.length !== 1 || m?.name === undefined)
    throw new Error(`the chart rendered ${sas.length} ServiceAccounts, expected one with a name`);
  return { namespace: m.namespace ?? AGENT_NAMESPACE, name: m.name };
}

/**
 * Renders the chart's RBAC with `helm` and applies it with kubectl through
 * `kubeconfig` (the lab's admin); returns the agent's ServiceAccount.
 */
export async function applyChartRbac(
  helm: string,
  kubeconfig: string,
  o: ChartRbacOptions = {},
): Promise<ServiceAccountRef> {
  const yaml = await mustRun(helm, chartRbacArgs(o), { timeoutMs: 60_000 });
  const sa = renderedServiceAccount(yaml);
  await mustRun("kubectl", ["--kubeconfig", kubeconfig, "apply", "-f", "-"], {
    input: yaml,
    timeoutMs: 60_000,
  });
  return sa;
}

/** A token for `sa`, issued by the API server (POST …/serviceaccounts/NAME/token) through the lab's admin relay. */
export async function requestToken(
  api: LabApi,
  sa: ServiceAccountRef,
  seconds = AGENT_TOKEN_SECONDS,
): Promise<string> {
  const path = `/api/v1/namespaces/${sa.namespace}/serviceaccounts/${sa.name}/token`;
  const body = await api.request<{ status?: { token?: string } }>("POST", path, {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenRequest",
    spec: { expirationSeconds: seconds },
  });
  const token = body.status?.token;
  if (token === undefined) throw new Error(`TokenRequest ${path}: the answer has no status.token`);
  return token;
}
