/**
 * The host-side veth name docs/architecture.md pins: `trl` + the first 11 hex digits of
 * sha1(`<namespace>.<podName>`) — 14 characters, under IFNAMSIZ (16).
 */
import { createHash } from "node:crypto";

export const VETH_PREFIX = "trl";

export function hostVethName(namespace: string, podName: string): string {
  return VETH_PREFIX + createHash("sha1").update(`${namespace}.${podName}`).digest("hex").slice(0, 11);
}
