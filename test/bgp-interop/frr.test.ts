// Interop with FRR bgpd 8.4 (Debian's frr) in network namespaces.
import { FrrPeer } from "./frr.js";
import { interopSuite } from "./suite.js";

interopSuite("FRR", "fr", (lab, link, opts) => new FrrPeer(lab, link, opts), {
  canRequestRefresh: true,
  ipv4OverIpv6: "extended-next-hop",
});
