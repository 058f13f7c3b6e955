/**
 * The upstream e2e NetworkPolicy cases with real connections through the
 * compiled nftables, in two node namespaces with nine pod namespaces (root).
 */
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { NetnsCluster } from "./netns-cluster.js";
import { networkPolicyCases } from "./cases.js";
import { runCase } from "./run-cases.js";

const root = process.getuid?.() === 0;
const cluster = new NetnsCluster("tPnp", 72);
const ipModel = {
  net: 72,
  ip: (k: string) => cluster.pods.find((p) => `${p.ns}/${p.pod}` === k)?.ip as string,
};

(root ? describe : describe.skip)("NetworkPolicy conformance in network namespaces", () => {
  beforeAll(async () => {
    await cluster.up();
  }, 120_000);
  afterAll(() => cluster.down());

  for (const k of networkPolicyCases(ipModel)) {
    it(
      k.name,
      async () => {
        expect(await runCase(cluster, k)).toEqual([]);
      },
      60_000,
    );
  }
});
