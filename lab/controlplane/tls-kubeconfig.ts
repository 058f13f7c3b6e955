/** A kubeconfig for the real API server: its CA and a client certificate, embedded. Pure. */
import { stringify } from "yaml";

export interface TlsKubeconfigInput {
  server: string;
  context: string;
  caPem: string;
  certPem: string;
  keyPem: string;
}

export function renderTlsKubeconfig(k: TlsKubeconfigInput): string {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: k.context, cluster: { server: k.server, "certificate-authority-data": b64(k.caPem) } },
    ],
    users: [
      {
        name: k.context,
        user: { "client-certificate-data": b64(k.certPem), "client-key-data": b64(k.keyPem) },
      },
    ],
    contexts: [{ name: k.context, context: { cluster: k.context, user: k.context } }],
    "current-context": k.context,
    preferences: {},
  });
}
