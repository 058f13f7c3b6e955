/**
 * Where a network namespace is, by name or by path. `ip netns add NAME`
 * bind-mounts the namespace at /var/run/netns/NAME (ip-netns(8)); a value
 * with a slash is a path already (a CNI_NETNS, a lab's mount), taken as it
 * is. No name means the caller's own namespace.
 */

/** The directory `ip netns` keeps its named namespaces in. */
export const NETNS_DIR = "/var/run/netns";

/** The file of `ns` (a name under NETNS_DIR or a path), or null for none (undefined, ""): our own namespace. */
export function netnsPath(ns: string | undefined): string | null {
  if (ns === undefined || ns === "") return null;
  return ns.includes("/") ? ns : `${NETNS_DIR}/${ns}`;
}

/** `argv` run inside `ns` through nsenter(1) (`--net=FILE`), or `argv` itself when `ns` names none. */
export function inNetns(ns: string | undefined, argv: readonly string[]): string[] {
  const path = netnsPath(ns);
  return path === null ? [...argv] : ["nsenter", `--net=${path}`, "--", ...argv];
}
