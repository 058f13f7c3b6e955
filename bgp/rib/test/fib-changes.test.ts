// The FIB change list of takeChanges() (issue 12): a change's next-hop list
// is shared between the changes through the same next hop (one frozen array
// per address, one for withdrawals), not made per prefix; what it holds is
// unchanged.
import { describe, it, expect } from "@jest/globals";
import { addUp, announce, attrs, mkRib, withdraw } from "./helpers.js";

describe("FIB change list", () => {
  it("shares one frozen next-hop list per next hop, and one for withdrawals", () => {
    const rib = mkRib();
    const a = addUp(rib, { address: "192.0.2.10", asn: 65010 });
    const b = addUp(rib, { address: "192.0.2.20", asn: 65020 });
    const pa = ["10.1.0.0/24", "10.1.1.0/24", "10.1.2.0/24"];
    const pb = ["10.2.0.0/24", "10.2.1.0/24"];
    rib.update(a, announce(pa, attrs(a, [65010])), 1);
    rib.update(b, announce(pb, attrs(b, [65020])), 1);
    const { fib } = rib.takeChanges();
    expect(fib).toEqual([
      ...pa.map((prefix) => ({ prefix, nexthops: [a] })),
      ...pb.map((prefix) => ({ prefix, nexthops: [b] })),
    ]);
    expect(new Set(fib.map((c) => c.nexthops)).size).toBe(2);
    expect(fib.every((c) => Object.isFrozen(c.nexthops))).toBe(true);
    rib.update(a, withdraw(pa), 2);
    const gone = rib.takeChanges().fib;
    expect(gone).toEqual(pa.map((prefix) => ({ prefix, nexthops: [] })));
    expect(new Set(gone.map((c) => c.nexthops)).size).toBe(1);
    expect(Object.isFrozen(gone[0]!.nexthops)).toBe(true);
  });
});
