/**
 * The lab's named network namespaces through iproute2 (`ip netns`, `ip -n`).
 * Where a namespace is and how a program is entered into one is
 * net/netns-path.ts's (`netnsPath`, `inNetns`: a name under /var/run/netns
 * or a path); this module adds only what creates, lists and removes them.
 */
import { NETNS_DIR, inNetns } from "../net/netns-path.js";
import { mustRun, runCommand } from "./run-command.js";

/**
 * The bind mount `ip netns add NAME` makes for a lab namespace: a name only
 * (a lab names every namespace it makes; a path here would be a bug that
 * `ip netns add` would refuse anyway).
 */
export function namedNetnsPath(name: string): string {
  if (name === "" || name.includes("/")) throw new Error(`"${name}" is not a network namespace name`);
  return `${NETNS_DIR}/${name}`;
}

export async function listNetns(): Promise<string[]> {
  const out = await mustRun("ip", ["netns", "list"]);
  // "name (id: 3)" or just "name"
  return out
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n !== "");
}

export async function addNetns(name: string): Promise<void> {
  await mustRun("ip", ["netns", "add", name]);
  await mustRun("ip", ["-n", name, "link", "set", "lo", "up"]);
}

/** Deletes a namespace; absent is fine (idempotent teardown). */
export async function delNetns(name: string): Promise<void> {
  const r = await runCommand("ip", ["netns", "del", name]);
  if (r.code !== 0 && !/No such file|not found/i.test(r.stderr)) {
    throw new Error(`ip netns del ${name}: ${r.stderr.trim()}`);
  }
}

/** pids of every process whose network namespace is `name` (empty when it does not exist). */
export async function netnsPids(name: string): Promise<number[]> {
  const r = await runCommand("ip", ["netns", "pids", name]);
  if (r.code !== 0) return [];
  return r.stdout
    .split("\n")
    .map((s) => Number.parseInt(s, 10))
    .filter((n) => Number.isInteger(n) && n > 0);
}

/** `ip -n NS <args>` */
export function ipIn(ns: string, ...args: string[]): Promise<string> {
  return mustRun("ip", ["-n", ns, ...args]);
}

/** Sets a sysctl inside a namespace (net.* sysctls are per network namespace). */
export function sysctlIn(ns: string, key: string, value: string): Promise<string> {
  return mustRun(...commandInNetns(ns, ["sysctl", "-q", "-w", `${key}=${value}`]));
}

/**
 * `argv` run in the network namespace `ns` (a name or a path; net inNetns),
 * as one argv for a daemon's spawn. nsenter, not `ip netns exec`: the latter
 * also unshares the mount namespace and remounts /sys, and a process started
 * that way (our kubelet) would then create pod namespaces that the rest of
 * the machine cannot see (docs/machine.md). An empty `ns` is refused: net's
 * inNetns would run argv in our own namespace (BIRD, kube-proxy or a kubelet
 * on the host), never what a lab caller means.
 */
export function argvInNetns(ns: string, argv: readonly string[]): string[] {
  if (ns === "") throw new Error(`no network namespace given to run "${argv.join(" ")}" in`);
  return inNetns(ns, argv);
}

/** argvInNetns as (program, arguments), for runCommand and spawn. */
export function commandInNetns(ns: string, argv: readonly string[]): [string, string[]] {
  const [cmd = "nsenter", ...args] = argvInNetns(ns, argv);
  return [cmd, args];
}
