/**
 * The release of what a failed allocation may hold must land: the block
 * write that failed may have been applied (the API server went away before
 * answering), so IpamService retries that release with backoff until the
 * server takes it, and a new ADD of the same handle takes the allocation
 * over instead (found on the real API server: test/agent/real-apiserver-burst).
 */
import { describe, expect, it } from "@jest/globals";
import { pino } from "pino";
import type { IPAMBlock, IPPool } from "../../../crds/ipam.js";
import { poolView, type PoolView } from "../block-allocator.js";
import { FakeIpamApi } from "../fake-ipam-api.js";
import { formatAddress, parsePrefix } from "../../../net/address.js";
import { IpamService } from "../ipam-service.js";

/** A fake whose next block write takes effect but loses its answer, and that is then down for `down` writes. */
class LossyApi extends FakeIpamApi {
  loseNext = false;
  down = 0;
  constructor() {
    super();
    const replace = this.ipamBlocks.replace.bind(this.ipamBlocks);
    this.ipamBlocks.replace = async (b: IPAMBlock): Promise<IPAMBlock | "conflict" | "gone"> => {
      if (this.down > 0 && !this.loseNext) {
        this.down--;
        throw new Error("connect ECONNREFUSED 127.0.0.1:6443");
      }
      const r = await replace(b);
      if (this.loseNext) {
        this.loseNext = false;
        throw new Error("socket hang up");
      }
      return r;
    };
  }
}

function pool(): PoolView {
  const p: IPPool = { metadata: { name: "p" }, spec: { cidr: "10.9.0.0/24", blockSize: 28 } };
  const v = poolView(p);
  if (typeof v === "string") throw new Error(v);
  return v;
}

function setup(): { api: LossyApi; ipam: IpamService } {
  const api = new LossyApi();
  const pools = [pool()];
  const ipam = new IpamService({
    api,
    node: () => ({ name: "n1", labels: {}, strictAffinity: false }),
    pools: () => pools,
    log: pino({ level: "silent" }),
  });
  return { api, ipam };
}

const ask = (handle: string) => ({
  handle,
  requestedIps: [],
  poolNames: { 4: ["p"], 6: [] },
  namespaceLabels: {},
  attributes: { containerID: handle, ifname: "eth0" },
});

/** The address at `ordinal` in block `cidr`. */
function addressOf(cidr: string, ordinal: number): string {
  const c = parsePrefix(cidr);
  if (typeof c === "string") throw new Error(c);
  return formatAddress({ family: c.family, value: c.base + BigInt(ordinal) });
}

const holders = (api: FakeIpamApi): string[] =>
  [...api.blocks.values()].flatMap((b) => b.spec.allocations.map((a) => a.handle)).sort();

const waitFor = async (cond: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return cond();
};

describe("IPAM rollback after a write whose answer was lost", () => {
  it("keeps retrying the release while the API server is down, and it lands once it is back", async () => {
    const { api, ipam } = setup();
    await ipam.load();
    await ipam.allocate(ask("warm.eth0"));
    api.loseNext = true;
    api.down = 2; // the first release and its first retry fail
    await expect(ipam.allocate(ask("lost.eth0"))).rejects.toThrow(/IPAM write failed: socket hang up/);
    expect(holders(api)).toEqual(["lost.eth0", "warm.eth0"]); // the write did land
    expect(await waitFor(() => !holders(api).includes("lost.eth0"), 10_000)).toBe(true);
    expect(api.down).toBe(0);
    expect(holders(api)).toEqual(["warm.eth0"]);
  }, 20_000);

  it("a new ADD of the handle before the release lands keeps what it got; the rollback never takes it away", async () => {
    const { api, ipam } = setup();
    await ipam.load();
    await ipam.allocate(ask("warm.eth0"));
    api.loseNext = true;
    await expect(ipam.allocate(ask("again.eth0"))).rejects.toThrow(/socket hang up/);
    // Retried at once, while the rollback is under way: whichever runs first, the ADD's answer stands.
    const got = await ipam.allocate(ask("again.eth0"));
    expect(got).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 3000)); // past several retry delays
    const held = [...api.blocks.values()].flatMap((b) =>
      b.spec.allocations.filter((a) => a.handle === "again.eth0").map((a) => ({ b, a })),
    );
    expect(held).toHaveLength(1);
    expect(got[0]?.address).toBe(addressOf(held[0]?.b.spec.cidr ?? "", held[0]?.a.ordinal ?? -1));
  }, 20_000);
});
