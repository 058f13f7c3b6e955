/**
 * The API server refusing the agent (401: its credentials; 403: its RBAC),
 * told apart from an outage so the log says which permission is missing
 * instead of "lost the API server". The message is the server's own
 * Status.message, which names the user, the verb, the resource and its API
 * group ("… cannot list resource \"networkpolicies\" in API group
 * \"networking.k8s.io\" at the cluster scope"). Pure.
 */
import { httpStatus } from "./kube-request.js";

export interface ApiRefusal {
  status: 401 | 403;
  message: string;
}

/** A 401 or 403 (KubeApiError: code, body = the server's Status, or its JSON text), else undefined. */
export function apiRefusal(err: unknown): ApiRefusal | undefined {
  const status = httpStatus(err);
  if (status !== 401 && status !== 403) return undefined;
  const body = (err as { body?: unknown }).body;
  let message: string | undefined;
  try {
    const parsed = (typeof body === "string" ? JSON.parse(body) : body) as { message?: unknown } | undefined;
    if (typeof parsed?.message === "string") message = parsed.message;
  } catch {
    // not a Status: fall back to the error's own text
  }
  return { status, message: message ?? (err instanceof Error ? err.message : String(err)) };
}

/**
 * The log line for a refusal: what the operator must grant (or fix in the
 * kubeconfig). `request` names the verbs and the path (an error that is
 * not the server's Status carries only its status text, "Forbidden").
 */
export function refusalText(informer: string, r: ApiRefusal, request?: string): string {
  const why =
    r.status === 403
      ? "403 Forbidden: the agent's RBAC (the chart's ClusterRole) lacks this permission"
      : "401 Unauthorized: the API server does not accept the agent's credentials";
  const on = request !== undefined ? ` on ${request}` : "";
  return `informer ${informer} refused by the API server (${why})${on}: ${r.message}; retrying with backoff`;
}
