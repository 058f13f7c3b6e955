/**
 * The agent's own Prometheus families (text format 0.0.4), appended to the
 * CNI server's (agent/cni-server/metrics.ts) on /metrics.
 */
export interface AgentGauges {
  ipamAffineBlocks: number;
  ipamAddressesInUse: number;
  ready: boolean;
  informerRestarts: ReadonlyMap<string, number>;
  ipamWrites: ReadonlyMap<string, number>;
  leakReleases: number;
  gcReleases: number;
  /** Rejected pool name -> reason. */
  poolsRejected: ReadonlyMap<string, string>;
}

/** Text format 0.0.4 label value: backslash, double quote and newline escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
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
  l.push(`trellis_ipam_pools_rejected ${g.poolsRejected.size}`);
  family(
    "trellis_ipam_pool_rejected",
    "gauge",
    "1 for each IPPool no address is allocated from (does not validate, or overlaps an older pool), with the reason.",
  );
  for (const [pool, reason] of [...g.poolsRejected].sort())
    l.push(`trellis_ipam_pool_rejected{pool="${labelValue(pool)}",reason="${labelValue(reason)}"} 1`);
  family(
    "trellis_informer_restarts_total",
    "counter",
    "Informer (list+watch) restarts after an error, by resource.",
  );
  for (const [k, v] of [...g.informerRestarts].sort())
    l.push(`trellis_informer_restarts_total{resource="${k}"} ${v}`);
  family("trellis_agent_ready", "gauge", "1 once the first full sync is done and the CNI server is up.");
  l.push(`trellis_agent_ready ${g.ready ? 1 : 0}`);
  return l.join("\n") + "\n";
}
