/**
 * The kubeconfig for a lab API server URL. The server speaks plain HTTP;
 * @kubernetes/client-node ≥1.0 refuses an `http:` server unless the cluster
 * entry sets `insecure-skip-tls-verify: true` ("HTTP protocol is not allowed
 * when skipTLSVerify is not set or false"), so it is always set here.
 * kubectl accepts the same file.
 */
export function labKubeconfig(url: string, name = "trellis-lab"): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- cluster:",
    `    server: ${JSON.stringify(url)}`,
    "    insecure-skip-tls-verify: true",
    `  name: ${name}`,
    "contexts:",
    "- context:",
    `    cluster: ${name}`,
    `    user: ${name}`,
    `  name: ${name}`,
    `current-context: ${name}`,
    "preferences: {}",
    "users:",
    `- name: ${name}`,
    "  user: {}",
    "",
  ].join("\n");
}
