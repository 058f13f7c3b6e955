// The OPEN the capture recorder sends (record.ts); captured.test.ts replays the
// negotiation with it to decode captured UPDATEs with the session's options.
import type { OpenMessage } from "../../types.js";

export const OUR_OPEN: OpenMessage = {
  type: "OPEN",
  version: 4,
  myAs: 65001,
  holdTime: 30,
  bgpId: "192.0.2.1",
  capabilities: [
    { kind: "multiprotocol", afi: 1, safi: 1 },
    { kind: "multiprotocol", afi: 2, safi: 1 },
    { kind: "route-refresh" },
    { kind: "enhanced-route-refresh" },
    { kind: "four-octet-as", asn: 65001 },
    { kind: "extended-next-hop", entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
  ],
};

/** The same OPEN from an OLD speaker: no 4-octet AS capability (RFC 6793 §4). */
export const OUR_OPEN_AS2: OpenMessage = {
  ...OUR_OPEN,
  capabilities: OUR_OPEN.capabilities.filter((c) => c.kind !== "four-octet-as"),
};
