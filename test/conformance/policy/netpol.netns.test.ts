/**
 * The upstream e2e NetworkPolicy cases with real connections through the
 * compiled nftables, in two node namespaces with nine pod namespaces (root).
 */
import { networkPolicyCases } from "./cases.js";
import { describeCases } from "./run-cases.js";

describeCases("NetworkPolicy conformance in network namespaces", "tPnp", 72, networkPolicyCases);
