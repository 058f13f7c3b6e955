/**
 * The host-side veth name docs/architecture.md pins: "trl" + the first 11 hex digits of
 * sha1("<namespace>.<podName>"), or of sha1("<containerID>.<ifname>") for an
 * attachment without Kubernetes args. 14 characters, under IFNAMSIZ (16).
 */
import { createHash } from "node:crypto";

export const HOST_VETH_PREFIX = "trl";

export function hostVethName(
  k8s: { namespace: string; pod: string } | undefined,
  containerID: string,
  ifname: string,
): string {
  const key = k8s !== undefined ? `${k8s.namespace}.${k8s.pod}` : `${containerID}.${ifname}`;
  return HOST_VETH_PREFIX + createHash("sha1").update(key).digest("hex").slice(0, 11);
}
