/**
 * The agent's own Prometheus families, read at scrape time onto the agent's
 * prom-client registry beside the CNI server's (agent/cni-server/metrics.ts).
 */
import { type Registry, type Sample, counterFrom, gaugeFrom } from "../net/metrics.js";

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
  /** Rejected pool name -> reason. */
  poolsRejected: ReadonlyMap<string, string>;
  /** BGP desired configs computed (0 with BGP off). */
  bgpConfigComputations: number;
}

export function registerAgentMetrics(registry: Registry, read: () => AgentGauges): void {
  const family = (
    name: string,
    type: "gauge" | "counter",
    help: string,
    value: (g: AgentGauges) => number | Iterable<Sample>,
    labelNames: string[] = [],
  ): void => {
    (type === "gauge" ? gaugeFrom : counterFrom)(registry, { name, help, labelNames }, () => value(read()));
  };
  const by = (label: string, m: ReadonlyMap<string, number>): Sample[] =>
    [...m].sort().map(([k, v]) => [{ [label]: k }, v] as const);
  family("trellis_ipam_blocks", "gauge", "IPAM blocks affine to this node.", (g) => g.ipamAffineBlocks);
  family(
    "trellis_ipam_addresses_in_use",
    "gauge",
    "Addresses allocated to pods on this node.",
    (g) => g.ipamAddressesInUse,
  );
  family(
    "trellis_ipam_api_writes_total",
    "counter",
    "IPAM writes to the API server, by object kind.",
    (g) => by("kind", g.ipamWrites),
    ["kind"],
  );
  family(
    "trellis_ipam_leak_releases_total",
    "counter",
    "Addresses released by the leak check (pod gone).",
    (g) => g.leakReleases,
  );
  family("trellis_ipam_gc_releases_total", "counter", "Addresses released by CNI GC.", (g) => g.gcReleases);
  family(
    "trellis_bgp_config_computations_total",
    "counter",
    "BGP configurations computed from the cluster and the node's links: on a change of what BGP reads, and every 10 s.",
    (g) => g.bgpConfigComputations,
  );
  family(
    "trellis_ipam_pools_rejected",
    "gauge",
    "IPPools ignored because they do not validate (see the log).",
    (g) => g.poolsRejected.size,
  );
  family(
    "trellis_ipam_pool_rejected",
    "gauge",
    "1 for each IPPool no address is allocated from (does not validate, or overlaps an older pool), with the reason.",
    (g) => [...g.poolsRejected].sort().map(([pool, reason]) => [{ pool, reason }, 1] as const),
    ["pool", "reason"],
  );
  family(
    "trellis_informer_restarts_total",
    "counter",
    "Informer (list+watch) retry attempts after an error, by resource (backoff: agent/k8s/informer-backoff.ts).",
    (g) => by("resource", g.informerRestarts),
    ["resource"],
  );
  family(
    "trellis_informer_store_rolled_back",
    "gauge",
    "1 while the informer refuses a store whose resourceVersion went below what it had seen.",
    (g) =>
      [...g.informerRestarts.keys()]
        .sort()
        .map((k) => [{ resource: k }, g.informersRolledBack.has(k) ? 1 : 0] as const),
    ["resource"],
  );
  family(
    "trellis_agent_ready",
    "gauge",
    "1 once the first full sync is done and the CNI server is up.",
    (g) => (g.ready ? 1 : 0),
  );
}
