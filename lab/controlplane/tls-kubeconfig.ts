/**
 * A kubeconfig for the real API server: its CA and the client's credentials
 * (a client certificate, or a bearer token the API server issued), embedded. Pure.
 */
import { stringify } from "yaml";

export type TlsKubeconfigInput = {
  server: string;
  context: string;
  caPem: string;
} & ({ certPem: string; keyPem: string } | { token: string });

export function renderTlsKubeconfig(k: TlsKubeconfigInput): string {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  const user =
    "token" in k
      ? { token: k.token }
      : { "client-certificate-data": b64(k.certPem), "client-key-data": b64(k.keyPem) };
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: k.context, cluster: { server: k.server, "certificate-authority-data": b64(k.caPem) } },
    ],
    users: [{ name: k.context, user }],
    contexts: [{ name: k.context, context: { cluster: k.context, user: k.context } }],
    "current-context": k.context,
    preferences: {},
  });
}
