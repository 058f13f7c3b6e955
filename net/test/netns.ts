/**
 * Throwaway network namespaces for the kernel tests of the floor and of
 * bgp/fib (root, as CI): a fresh namespace, and a "node" in one with an
 * addressed veth uplink to install routes through.
 */
import { execFileSync } from "node:child_process";

/** Deletes `ns` if an earlier run left it, and adds it anew. */
export function recreateNetns(ns: string): void {
  try {
    execFileSync("ip", ["netns", "del", ns], { stdio: "ignore" });
  } catch {
    /* not there */
  }
  execFileSync("ip", ["netns", "add", ns]);
}

export interface Uplink {
  netns: string;
  /** The veth that carries the addresses, and its peer (both stay in `netns`). */
  dev: string;
  peer: string;
  /** Address/length of each family on `dev` (IPv6 without duplicate address detection). */
  v4: string;
  v6: string;
}

/** Loopback up, the veth pair up, and both addresses on `dev`. */
export function addUplink(u: Uplink): void {
  const ip = (...args: string[]): void => {
    execFileSync("ip", ["-n", u.netns, ...args]);
  };
  ip("link", "set", "lo", "up");
  ip("link", "add", u.dev, "type", "veth", "peer", "name", u.peer);
  ip("link", "set", u.dev, "up");
  ip("link", "set", u.peer, "up");
  ip("addr", "add", u.v4, "dev", u.dev);
  ip("addr", "add", u.v6, "dev", u.dev, "nodad");
}
