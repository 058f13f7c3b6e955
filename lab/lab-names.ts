/**
 * Names of everything a lab creates in the kernel, derived from the lab dir
 * alone so that `lab down` can find them again after a half-finished `up`
 * (nothing but the dir is needed) and two labs never collide.
 */
import { createHash } from "node:crypto";

/** Linux IFNAMSIZ is 16 including the NUL: interface names are at most 15 bytes. */
export const IFNAME_MAX = 15;

/**
 * `tl` + 4 hex digits of sha1(realpath of the lab dir) + `-`: short enough
 * that every namespace and interface name built on it stays readable.
 */
export function labPrefix(realDir: string): string {
  return `tl${sha1Hex(realDir).slice(0, 4)}-`;
}

export function torNetnsName(prefix: string): string {
  return `${prefix}tor`;
}

export function nodeNetnsName(prefix: string, nodeName: string): string {
  return `${prefix}${nodeName}`;
}

/**
 * Pod namespaces are named from the pod uid (not its name) so a pod deleted
 * and re-created under the same name never meets its predecessor's netns.
 */
export function podNetnsName(prefix: string, podUid: string): string {
  return `${prefix}p-${sha1Hex(podUid).slice(0, 10)}`;
}

/** The ToR's end of the link to node `index` (1-based); the node's end is `eth0`. */
export function torIfname(index: number): string {
  return `to-node-${index}`;
}

export const NODE_UPLINK_IFNAME = "eth0";

export function sha1Hex(s: string): string {
  return createHash("sha1").update(s).digest("hex");
}
