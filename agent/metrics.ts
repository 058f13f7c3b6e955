/**
 * The agent's own Prometheus families (text format 0.0.4), appended to the
 * CNI server's (agent/cni-server/metrics.ts) on /metrics.
 */
export interface AgentGauges {
  ipamAffineBlocks: number;
  ipamAddressesInUse: number;
  ready: boolean;
  /** Retry attempts per informer (each a list or watch request that failed). */
  informerRestarts: ReadonlyMap<string, number>;
  /** Informers refusing a store whose resourceVersion went backwards. */
  informersRolledBack: ReadonlySet<string>;
  ipamWrites: ReadonlyMap<string, number>;
  leakReleases: number;
  gcReleases: number;
  poolsRejected: number;
}

export function renderAgentMetrics(g: AgentGauges): string {
  const l: string[] = [];
  const family = (name: string, type: string, help: string): void => {
    l.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  family("trellis_ipam_blocks", "gauge", "IPAM blocks affine to this node.");
  l.push(`trellis_ipam_blocks ${g.ipamAffineBlocks}`);
  family("trellis_ipam_addresses_in_use", "gauge", "Addresses allocated to pods on this node.");
  l.push(`trellis_ipam_addresses_in_use ${g.ipamAddressesInUse}`);
  family("trellis_ipam_api_writes_total", "counter", "IPAM writes to the API server, by object kind.");
  for (const [k, v] of [...g.ipamWrites].sort()) l.push(`trellis_ipam_api_writes_total{kind="${k}"} ${v}`);
  family("trellis_ipam_leak_releases_total", "counter", "Addresses released by the leak check (pod gone).");
  l.push(`trellis_ipam_leak_releases_total ${g.leakReleases}`);
  family("trellis_ipam_gc_releases_total", "counter", "Addresses released by CNI GC.");
  l.push(`trellis_ipam_gc_releases_total ${g.gcReleases}`);
  family(
    "trellis_ipam_pools_rejected",
    "gauge",
    "IPPools ignored because they do not validate (see the log).",
  );
  l.push(`trellis_ipam_pools_rejected ${g.poolsRejected}`);
  family(
    "trellis_informer_restarts_total",
    "counter",
    "Informer (list+watch) retry attempts after an error, by resource (backoff: agent/k8s/informer-backoff.ts).",
  );
  for (const [k, v] of [...g.informerRestarts].sort())
    l.push(`trellis_informer_restarts_total{resource="${k}"} ${v}`);
  family(
    "trellis_informer_store_rolled_back",
    "gauge",
    "1 while the informer refuses a store whose resourceVersion went below what it had seen.",
  );
  for (const k of [...g.informerRestarts.keys()].sort())
    l.push(`trellis_informer_store_rolled_back{resource="${k}"} ${g.informersRolledBack.has(k) ? 1 : 0}`);
  family("trellis_agent_ready", "gauge", "1 once the first full sync is done and the CNI server is up.");
  l.push(`trellis_agent_ready ${g.ready ? 1 : 0}`);
  return l.join("\n") + "\n";
}
