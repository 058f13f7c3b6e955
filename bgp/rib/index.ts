// bgp/rib: Adj-RIB-In, Loc-RIB with the RFC 4271 §9.1.2 decision process,
// Adj-RIB-Out. The speaker drives it:
//
//   const rib = new Rib({ asn, routerId, multipath: { maxPaths: 8 } });
//   rib.addPeer({ id: "192.0.2.2", address: "192.0.2.2", asn: 65002 });
//   rib.peerUp("192.0.2.2", { routerId, localAddress: { ipv4 }, families }, now);
//   const r = rib.update("192.0.2.2", decodedUpdate, now);   // r.maxPrefixExceeded -> Cease 6/1
//   const { fib, out } = rib.takeChanges();                  // after each batch of socket reads
//   for (const p of out) for (const g of p.announce) packUpdates(g.attributes, g.prefixes, ...)
//
// Session events map to: peerDown(id, {graceful}) (RFC 4724 receiving speaker
// keeps stale paths), endOfRib(id, family) / staleTimerExpired(id) (sweep),
// routeRefresh(id) (resend Adj-RIB-Out), setPeerConfig(id, cfg) (policy change:
// re-import from the kept pre-policy paths and re-export).
export type {
  PeerId,
  RibConfig,
  PeerConfig,
  PeerSession,
  Origination,
  BestReason,
  PathView,
  RouteView,
  FibChange,
  OutGroup,
  PeerOut,
  RibChanges,
  MaxPrefixExceeded,
  UpdateResult,
  PeerStats,
} from "./types.js";
export { BEST_REASONS } from "./types.js";
export { Rib, RibError } from "./rib.js";
