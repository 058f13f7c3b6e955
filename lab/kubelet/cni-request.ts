/**
 * What a CNI runtime hands each plugin of a conflist: environment and stdin.
 * Pure; follows the CNI spec (SPEC.md §"Section 3: Execution of Network
 * Configurations" and §"Section 2: Execution Protocol") and what libcni does
 * (buildOneConfig / injectRuntimeConfig in libcni/api.go).
 */

export type CniCommand = "ADD" | "DEL" | "CHECK";

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export interface CniRuntimeArgs {
  containerId: string;
  netnsPath: string;
  ifName: string;
  pod: PodRef;
  /** CNI_PATH entries, searched in order for the plugin binary */
  cniPath: readonly string[];
  /** values for capabilities a plugin may declare (`portMappings`, …) */
  capabilityArgs: Readonly<Record<string, unknown>>;
}

export interface Conflist {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: PluginConf[];
}

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

/**
 * CNI_ARGS as the kubelet/containerd send them: `IgnoreUnknown=1` first so that
 * plugins that do not know the K8S_* keys accept them (CNI spec, CNI_ARGS).
 */
export function cniArgs(pod: PodRef, containerId: string): [string, string][] {
  return [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAMESPACE", pod.namespace],
    ["K8S_POD_NAME", pod.name],
    ["K8S_POD_INFRA_CONTAINER_ID", containerId],
    ["K8S_POD_UID", pod.uid],
  ];
}

export function cniEnv(command: CniCommand, a: CniRuntimeArgs): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: a.containerId,
    CNI_NETNS: a.netnsPath,
    CNI_IFNAME: a.ifName,
    CNI_ARGS: cniArgs(a.pod, a.containerId)
      .map(([k, v]) => `${k}=${v}`)
      .join(";"),
    CNI_PATH: a.cniPath.join(":"),
  };
}

/**
 * The stdin of one plugin: its own config plus the list's `name` and
 * `cniVersion`, `runtimeConfig` holding only the capabilities it declares and
 * the runtime has values for, and `prevResult` when chaining (every plugin
 * after the first on ADD; on DEL, the cached result of the last ADD).
 */
export function pluginStdin(
  list: Conflist,
  plugin: PluginConf,
  capabilityArgs: Readonly<Record<string, unknown>>,
  prevResult: unknown,
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const rc: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on === true && capabilityArgs[cap] !== undefined) rc[cap] = capabilityArgs[cap];
  }
  if (Object.keys(rc).length > 0) conf["runtimeConfig"] = rc;
  if (prevResult !== undefined) conf["prevResult"] = prevResult;
  return conf;
}

/** ADD runs the plugins in order, DEL in reverse (CNI spec, "Network configuration lists"). */
export function pluginOrder(command: CniCommand, list: Conflist): PluginConf[] {
  return command === "DEL" ? [...list.plugins].reverse() : [...list.plugins];
}

/** Container ports as the portMappings capability (only those with a hostPort, as the kubelet does). */
export interface ContainerPortLike {
  containerPort: number;
  hostPort?: number;
  protocol?: string;
  hostIP?: string;
}

export function portMappings(ports: readonly ContainerPortLike[]): Record<string, unknown>[] {
  return ports
    .filter((p) => p.hostPort !== undefined && p.hostPort > 0)
    .map((p) => ({
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: (p.protocol ?? "TCP").toLowerCase(),
      ...(p.hostIP !== undefined && p.hostIP !== "" ? { hostIP: p.hostIP } : {}),
    }));
}

/** The libcni cache key: `<network>-<containerID>-<ifName>` under `results/`. */
export function cacheFileName(network: string, containerId: string, ifName: string): string {
  return `${network}-${containerId}-${ifName}`;
}

/** The pod IPs out of a CNI result (0.3.0+ shape: `ips[].address` in CIDR form), v4 first. */
export function resultIps(result: unknown): string[] {
  if (typeof result !== "object" || result === null) return [];
  const ips = (result as { ips?: unknown }).ips;
  if (!Array.isArray(ips)) return [];
  const out: string[] = [];
  for (const e of ips) {
    const addr = typeof e === "object" && e !== null ? (e as { address?: unknown }).address : undefined;
    if (typeof addr === "string") out.push(addr.split("/")[0] ?? addr);
  }
  return out.sort((a, b) => Number(a.includes(":")) - Number(b.includes(":")));
}
