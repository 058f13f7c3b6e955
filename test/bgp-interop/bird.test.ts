// Interop with BIRD 2 (Debian's bird2) in network namespaces.
import { BirdPeer } from "./bird.js";
import { interopSuite } from "./suite.js";

interopSuite("BIRD 2", "bi", (lab, link, opts) => new BirdPeer(lab, link, opts), {
  canRequestRefresh: true,
  ipv4OverIpv6: "extended-next-hop",
});
