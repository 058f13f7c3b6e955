import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { ExecNft, type NftBackend } from "../../nft/backend.js";
import { FakeNft } from "../../nft/fake-nft.js";
import { POLICY_TABLE } from "../../../policy/compiler/nft-table.js";
import { NatManager } from "../nat-manager.js";
import { NAT_TABLE } from "../nat-table.js";
import { requireExecutable, requireRoot } from "../../../test/support/require.js";

const quiet = { info: (): void => undefined, warn: (): void => undefined };
const NETNS = `tNnat${process.pid % 10000}`;

function pool(name: string, cidr: string, nat?: boolean): Record<string, unknown> {
  return {
    metadata: { name, creationTimestamp: "2026-01-01T00:00:00Z" },
    spec: { cidr, ...(nat !== undefined ? { natOutgoing: nat } : {}) },
  };
}

function manager(backend: NftBackend, serviceCidrs: string[] = []): NatManager {
  return new NatManager({ backend, serviceCidrs, log: quiet, retryMinMs: 10, retryMaxMs: 20 });
}

describe("natOutgoing manager on FakeNft (table inet trellis-nat)", () => {
  it("first apply is a full atomic replace of inet trellis-nat, never touching inet trellis", async () => {
    const fake = new FakeNft({ table: NAT_TABLE });
    const m = manager(fake);
    m.setPools([pool("a", "10.244.1.0/24", true)]);
    await m.settled();
    expect(fake.transactions).toHaveLength(1);
    const cmds = fake.transactions[0] ?? [];
    expect(cmds.slice(0, 3)).toEqual([
      { add: { table: { family: "inet", name: "trellis-nat" } } },
      { delete: { table: { family: "inet", name: "trellis-nat" } } },
      { add: { table: { family: "inet", name: "trellis-nat" } } },
    ]);
    expect(JSON.stringify(cmds)).not.toContain('"name":"trellis"}');
    await m.stop();
  });

  it("a pool flipped to natOutgoing false, then back: diffs (the rule goes, then comes back)", async () => {
    const fake = new FakeNft({ table: NAT_TABLE });
    const m = manager(fake);
    m.setPools([pool("a", "10.244.1.0/24", true)]);
    await m.settled();
    m.setPools([pool("a", "10.244.1.0/24", false)]);
    await m.settled();
    let listed = JSON.stringify(await fake.listTable());
    expect(listed).not.toContain("masquerade");
    // A diff, not a rebuild: no table delete in the second transaction.
    expect(JSON.stringify(fake.transactions[1])).not.toContain('"delete":{"table"');
    m.setPools([pool("a", "10.244.1.0/24", true)]);
    await m.settled();
    listed = JSON.stringify(await fake.listTable());
    expect(listed).toContain("masquerade");
    expect(listed).toContain('"addr":"10.244.1.0"');
    await m.stop();
  });

  it("a burst of pool changes coalesces; the last one wins", async () => {
    const fake = new FakeNft({ table: NAT_TABLE });
    const m = manager(fake);
    for (let i = 1; i <= 20; i++) m.setPools([pool("a", `10.${i}.0.0/16`, true)]);
    await m.settled();
    expect(fake.transactions.length).toBeLessThanOrEqual(2);
    expect(JSON.stringify(await fake.listTable())).toContain('"addr":"10.20.0.0"');
    await m.stop();
  });

  it("a rejected apply is retried, and the table ends up right", async () => {
    const fake = new FakeNft({ table: NAT_TABLE });
    const m = manager(fake);
    fake.failNext = "injected";
    m.setPools([pool("a", "10.244.1.0/24", true)]);
    await m.settled();
    expect(m.lastError).toContain("injected");
    for (let i = 0; i < 50 && m.applied === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await m.settled();
    expect(m.applied).toBe(1);
    expect(m.lastError).toBeUndefined();
    expect(JSON.stringify(await fake.listTable())).toContain("masquerade");
    await m.stop();
  });

  it("the fake for inet trellis-nat refuses commands for inet trellis (one table per driver)", async () => {
    const fake = new FakeNft({ table: NAT_TABLE });
    await expect(fake.run({ nftables: [{ add: { table: { ...POLICY_TABLE } } }] })).rejects.toThrow(
      /only holds table inet trellis-nat/,
    );
  });
});

describe("natOutgoing manager on real nft (root, a namespace)", () => {
  let made = false;
  beforeAll(() => {
    requireRoot("natOutgoing manager on real nft");
    requireExecutable("/usr/sbin/nft", "nftables");
    execFileSync("ip", ["netns", "add", NETNS]);
    made = true;
  });
  afterAll(() => {
    if (made) execFileSync("ip", ["netns", "del", NETNS]);
  });

  it("writes inet trellis-nat, diffs a flip, and reads back to a no-op", async () => {
    const backend = new ExecNft({ netns: NETNS, table: NAT_TABLE });
    const m = manager(backend, ["10.96.0.0/12"]);
    m.setPools([pool("a", "10.244.1.0/24", true), pool("b", "fd00:10:244:1::/64", true)]);
    await m.settled();
    const ruleset = (): string =>
      execFileSync("ip", ["netns", "exec", NETNS, "nft", "list", "ruleset"], { encoding: "utf8" });
    let text = ruleset();
    expect(text).toContain("table inet trellis-nat");
    expect(text).toContain("type nat hook postrouting priority srcnat; policy accept;");
    expect(text).toMatch(/ip saddr @nat-outgoing ip daddr != @cluster-cidrs counter .* masquerade/);
    expect(text).toMatch(/ip6 saddr @nat-outgoing-v6 ip6 daddr != @cluster-cidrs-v6 counter .* masquerade/);
    expect(text).not.toMatch(/table inet trellis \{/);
    m.setPools([pool("a", "10.244.1.0/24", false), pool("b", "fd00:10:244:1::/64", true)]);
    await m.settled();
    text = ruleset();
    expect(text).not.toMatch(/ip saddr @nat-outgoing /);
    expect(text).toMatch(/ip6 saddr @nat-outgoing-v6/);
    expect(m.lastError).toBeUndefined();
    await m.stop();
  });
});
