/**
 * The host-side veth name docs/architecture.md pins: "trl" + the first 11 hex digits of
 * sha1("<namespace>.<podName>"), or of sha1("<containerID>.<ifname>") for an
 * attachment without Kubernetes args. 14 characters, under IFNAMSIZ (16), so
 * the CNI handler, the dataplane and the policy compiler agree on it without
 * talking to each other.
 */
import { createHash } from "node:crypto";

export const HOST_VETH_PREFIX = "trl";

/** Who a pod interface belongs to: its Kubernetes pod, or else its container attachment. */
export type VethOwner = { namespace: string; pod: string } | { containerID: string; ifname: string };

export function hostVethName(owner: VethOwner): string {
  const key = "pod" in owner ? `${owner.namespace}.${owner.pod}` : `${owner.containerID}.${owner.ifname}`;
  return HOST_VETH_PREFIX + createHash("sha1").update(key).digest("hex").slice(0, 11);
}

/** The name for a Kubernetes pod (the policy compiler's case). */
export function podVethName(namespace: string, pod: string): string {
  return hostVethName({ namespace, pod });
}
