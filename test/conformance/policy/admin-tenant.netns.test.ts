/**
 * AdminNetworkPolicy / BaselineAdminNetworkPolicy / ClusterNetworkPolicy and
 * Tenant cases with real connections through the compiled nftables (root).
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { NetnsCluster } from "./netns-cluster.js";
import { adminCases, tenantCases } from "./cases.js";
import { runCase } from "./run-cases.js";

const root = process.getuid?.() === 0;
const cluster = new NetnsCluster("tPad", 73);
const ipModel = {
  net: 73,
  ip: (k: string) => cluster.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip as string,
};

(root ? describe : describe.skip)("admin policy and tenant conformance in network namespaces", () => {
  beforeAll(async () => {
    await cluster.up();
  }, 120_000);
  afterAll(() => cluster.down());

  for (const k of [...adminCases(ipModel), ...tenantCases()]) {
    it(
      k.name,
      async () => {
        expect(await runCase(cluster, k)).toEqual([]);
      },
      60_000,
    );
  }
});
