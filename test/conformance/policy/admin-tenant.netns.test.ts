/**
 * AdminNetworkPolicy / BaselineAdminNetworkPolicy / ClusterNetworkPolicy and
 * Tenant cases with real connections through the compiled nftables (root).
 */
import { adminCases, tenantCases } from "./cases.js";
import { describeCases } from "./run-cases.js";

describeCases("admin policy and tenant conformance in network namespaces", "tPad", 73, (m) => [
  ...adminCases(m),
  ...tenantCases(),
]);
