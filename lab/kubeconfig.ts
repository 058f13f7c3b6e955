/** Plain-http kubeconfigs for the lab API server (no TLS, no credentials: loopback only). */
import { stringify } from "yaml";

export function renderKubeconfig(server: string, context = "trellis-lab"): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    // client-node refuses plain http unless skipTLSVerify is set (config.ts); kubectl ignores it for http.
    clusters: [{ name: context, cluster: { server, "insecure-skip-tls-verify": true } }],
    users: [{ name: context, user: {} }],
    contexts: [{ name: context, context: { cluster: context, user: context } }],
    "current-context": context,
    preferences: {},
  });
}

/** Inside a node namespace the API server is reached through the relay on this port. */
export const NODE_RELAY_PORT = 6443;
export const NODE_API_URL = `http://127.0.0.1:${NODE_RELAY_PORT}`;
/** The same relay under the real control plane: kube-apiserver's TLS, passed through (lab/controlplane/args.ts). */
export const NODE_API_TLS_URL = `https://127.0.0.1:${NODE_RELAY_PORT}`;
