import { describe, it, expect } from "@jest/globals";
import { FakeNft } from "../../nft/fake-nft.js";
import { NftDriver } from "../../nft/driver.js";
import { compile } from "../../../policy/compiler/compile.js";
import { loadCluster } from "../../../policy/model/load.js";
import { removePolicyTable } from "../policy-off.js";

describe("policy.enabled: false", () => {
  it("removes a table inet trellis left by an earlier run", async () => {
    const fake = new FakeNft();
    await new NftDriver(fake).apply(compile(loadCluster([]), "n1").table);
    expect(await fake.listTable()).not.toBeNull();
    expect(await removePolicyTable(fake)).toBe(true);
    expect(await fake.listTable()).toBeNull();
  });

  it("does nothing when there is no table", async () => {
    const fake = new FakeNft();
    expect(await removePolicyTable(fake)).toBe(false);
    expect(fake.transactions).toHaveLength(0);
  });
});
