// Interop with GoBGP 3 (Debian's gobgpd) in network namespaces.
import { GobgpPeer } from "./gobgp.js";
import { interopSuite } from "./suite.js";

interopSuite("GoBGP", "go", (lab, link, opts) => new GobgpPeer(lab, link, opts), {
  canRequestRefresh: false,
  ipv4OverIpv6: "ipv4-next-hop",
});
