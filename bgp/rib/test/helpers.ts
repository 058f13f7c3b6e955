// Small builders shared by the RIB tests.
import { Rib } from "../index.js";
import type { PeerConfig, RibConfig } from "../index.js";
import type { AsPathSegment, PathAttributes, UpdateMessage } from "../../wire/types.js";

export const LOCAL_AS = 65001;
export const ROUTER_ID = "10.255.0.1";
export const V4 = { afi: 1, safi: 1 };
export const V6 = { afi: 2, safi: 1 };

export function mkRib(extra: Partial<RibConfig> = {}): Rib {
  return new Rib({ asn: LOCAL_AS, routerId: ROUTER_ID, ...extra });
}

export interface TestPeer {
  address: string;
  asn: number;
  routerId?: string;
  rrClient?: boolean;
  nextHopSelf?: boolean;
  maxPrefixes?: number;
  extra?: Partial<PeerConfig>;
}

/** Add a peer and bring its session up (our local address 192.0.2.1 / 2001:db8::1). */
export function addUp(rib: Rib, p: TestPeer): string {
  const cfg: PeerConfig = { id: p.address, address: p.address, asn: p.asn, ...p.extra };
  if (p.rrClient !== undefined) cfg.routeReflectorClient = p.rrClient;
  if (p.nextHopSelf !== undefined) cfg.nextHopSelf = p.nextHopSelf;
  if (p.maxPrefixes !== undefined) cfg.maxPrefixes = p.maxPrefixes;
  rib.addPeer(cfg);
  rib.peerUp(p.address, {
    routerId: p.routerId ?? p.address,
    localAddress: { ipv4: "192.0.2.1", ipv6: "2001:db8::1" },
    families: [V4, V6],
  });
  return p.address;
}

export const seq = (...asns: number[]): AsPathSegment[] => [{ type: 2, asns }];

export function announce(nlri: string[], attributes: PathAttributes): UpdateMessage {
  if (nlri.length > 0 && nlri[0]!.includes(":")) {
    const { nextHop, ...rest } = attributes;
    return {
      type: "UPDATE",
      withdrawn: [],
      attributes: rest,
      nlri: [],
      mpReach: { afi: 2, safi: 1, nextHop: nextHop ?? "2001:db8::ff", nlri },
    };
  }
  return { type: "UPDATE", withdrawn: [], attributes, nlri };
}

export function withdraw(prefixes: string[]): UpdateMessage {
  return { type: "UPDATE", withdrawn: prefixes, attributes: {}, nlri: [] };
}

export function attrs(nextHop: string, asns: number[], more: PathAttributes = {}): PathAttributes {
  return { origin: 0, asPath: asns.length > 0 ? seq(...asns) : [], nextHop, ...more };
}
