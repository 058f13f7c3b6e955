/**
 * What the node status needs from the agent's BGP speaker. The speaker's
 * wiring (agent/bgp/) implements it; until it does, the agent has no source
 * and the status has no `bgp` section (and no learned-route counts).
 * `status()` is called on the status interval (agent/status/status-publisher.ts),
 * never on an event path: it must be cheap and must not do I/O.
 */
import type { BgpSessionStatus } from "../../crds/node-status.js";

export interface BgpStatusSnapshot {
  /** The node's BGP addresses (the speaker's local addresses / router ID source). */
  address4?: string;
  address6?: string;
  /** How the address was chosen (interface, can-reach, node-address, configured, …). */
  method?: string;
  asn?: number;
  /** One per configured peer: mesh, route reflector, reflector client, external (BGPPeer). */
  sessions: readonly BgpSessionStatus[];
  /** Routes learned from BGP and installed in the kernel (proto 202), per family. */
  routesInstalled4: number;
  routesInstalled6: number;
}

export interface BgpStatusSource {
  /** undefined: the speaker is not running (yet). */
  status(): BgpStatusSnapshot | undefined;
}
