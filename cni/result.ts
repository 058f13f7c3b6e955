// The result of ADD (and the prevResult of CHECK/DEL/chained ADD), held in one
// canonical shape: the 1.1.0 result, which is a superset of every older one
// (SPEC.md section 5 "Result Types"). Conversion to and from the wire format of
// each version lives in result-convert.ts.

export interface CniInterface {
  name: string;
  mac?: string | undefined;
  /** 1.1.0: MTU of the interface. */
  mtu?: number | undefined;
  /** Netns path (or "" / absent for host interfaces). */
  sandbox?: string | undefined;
  /** 1.1.0: vhost-user or similar socket path. */
  socketPath?: string | undefined;
  /** 1.1.0: PCI id of the device. */
  pciID?: string | undefined;
}

export interface CniIpConfig {
  /** CIDR notation: address/prefix, e.g. "10.1.2.3/32". */
  address: string;
  gateway?: string | undefined;
  /** Index into `interfaces`. */
  interface?: number | undefined;
}

export interface CniRoute {
  dst: string;
  gw?: string | undefined;
  /** 1.1.0 route attributes. */
  mtu?: number | undefined;
  advmss?: number | undefined;
  priority?: number | undefined;
  table?: number | undefined;
  scope?: number | undefined;
}

export interface CniDns {
  nameservers?: string[] | undefined;
  domain?: string | undefined;
  search?: string[] | undefined;
  options?: string[] | undefined;
}

export interface CniResult {
  interfaces: CniInterface[];
  ips: CniIpConfig[];
  routes: CniRoute[];
  dns: CniDns;
}

/** An empty result (no interfaces, addresses, routes or DNS). */
export function emptyResult(): CniResult {
  return { interfaces: [], ips: [], routes: [], dns: {} };
}

/**
 * Chained ADD (SPEC.md section 4): an interface plugin that receives a
 * prevResult returns it with its own additions. `own.ips[].interface` indexes
 * `own.interfaces`; they are shifted past the previous interfaces.
 */
export function appendResult(prev: CniResult, own: CniResult): CniResult {
  const shift = prev.interfaces.length;
  return {
    interfaces: [...prev.interfaces, ...own.interfaces],
    ips: [
      ...prev.ips,
      ...own.ips.map((ip) => (ip.interface === undefined ? ip : { ...ip, interface: ip.interface + shift })),
    ],
    routes: [...prev.routes, ...own.routes],
    dns: Object.keys(own.dns).length > 0 ? own.dns : prev.dns,
  };
}
