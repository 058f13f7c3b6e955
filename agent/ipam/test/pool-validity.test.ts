import { describe, expect, it } from "@jest/globals";
import type { IPPool } from "../../../crds/ipam.js";
import { poolVerdicts, poolViewsWithValidity } from "../pool-validity.js";

function pool(name: string, cidr: string, created: string, extra: Partial<IPPool["spec"]> = {}): IPPool {
  return { metadata: { name, creationTimestamp: created }, spec: { cidr, ...extra } };
}

const T0 = "2026-01-01T00:00:00Z";
const T1 = "2026-01-01T00:00:01Z";
const T2 = "2026-01-01T00:00:02Z";

/** name -> reason or "valid", for a compact table. */
function verdicts(pools: IPPool[]): Record<string, string> {
  return Object.fromEntries(poolVerdicts(pools).map((v) => [v.name, v.invalid ?? "valid"]));
}

describe("pool validity: a pool overlapping an older pool is invalid", () => {
  it.each<[string, IPPool[], Record<string, string>]>([
    [
      "v4: same CIDR, other block size (the lab bug: wide24 beside default-ipv4)",
      [
        pool("default-ipv4", "10.244.1.0/24", T0, { blockSize: 26 }),
        pool("wide24", "10.244.1.0/24", T1, { blockSize: 24 }),
      ],
      { "default-ipv4": "valid", wide24: "overlaps the older pool default-ipv4 (10.244.1.0/24)" },
    ],
    [
      "v4: a newer pool containing the older one",
      [pool("a", "10.244.1.0/24", T0), pool("b", "10.244.0.0/16", T1)],
      { a: "valid", b: "overlaps the older pool a (10.244.1.0/24)" },
    ],
    [
      "v4: a newer pool inside the older one (partial overlap from the newer one's side)",
      [pool("a", "10.244.0.0/16", T0), pool("b", "10.244.7.128/25", T1)],
      { a: "valid", b: "overlaps the older pool a (10.244.0.0/16)" },
    ],
    [
      "v4: adjacent pools do not overlap",
      [pool("a", "10.244.0.0/24", T0), pool("b", "10.244.1.0/24", T1)],
      { a: "valid", b: "valid" },
    ],
    [
      "v6: a /48 over an older /64",
      [
        pool("v6", "fd00:10:244:1::/64", T0, { blockSize: 122 }),
        pool("wide6", "fd00:10:244::/48", T1, { blockSize: 122 }),
      ],
      { v6: "valid", wide6: "overlaps the older pool v6 (fd00:10:244:1::/64)" },
    ],
    [
      "v6: adjacent /64s do not overlap",
      [pool("a", "fd00:1::/64", T0), pool("b", "fd00:1:0:1::/64", T1)],
      { a: "valid", b: "valid" },
    ],
    [
      "families never overlap (0.0.0.0/0 beside ::/0)",
      [pool("v4", "10.0.0.0/8", T0), pool("v6", "::/0", T1, { blockSize: 122 })],
      { v4: "valid", v6: "valid" },
    ],
    [
      "a disabled older pool still counts",
      [pool("old", "10.9.0.0/24", T0, { disabled: true }), pool("new", "10.9.0.0/25", T1)],
      { old: "valid", new: "overlaps the older pool old (10.9.0.0/24)" },
    ],
    [
      "an invalid older pool still counts (validity depends only on older pools)",
      [pool("a", "10.1.0.0/16", T0), pool("b", "10.1.2.0/24", T1), pool("c", "10.1.2.128/25", T2)],
      {
        a: "valid",
        b: "overlaps the older pool a (10.1.0.0/16)",
        c: "overlaps the older pool a (10.1.0.0/16)",
      },
    ],
    [
      "same creation time: the name decides (b-pool is older than c-pool)",
      [pool("c-pool", "10.5.0.0/24", T0), pool("b-pool", "10.5.0.0/24", T0)],
      { "b-pool": "valid", "c-pool": "overlaps the older pool b-pool (10.5.0.0/24)" },
    ],
    [
      "time wins over name",
      [pool("a", "10.5.0.0/24", T1), pool("z", "10.5.0.0/24", T0)],
      { z: "valid", a: "overlaps the older pool z (10.5.0.0/24)" },
    ],
    [
      "a pool without a creation time sorts as the newest",
      [{ metadata: { name: "a" }, spec: { cidr: "10.6.0.0/24" } }, pool("z", "10.6.0.0/24", T2)],
      { z: "valid", a: "overlaps the older pool z (10.6.0.0/24)" },
    ],
    [
      "a pool that does not validate on its own keeps its own reason",
      [pool("a", "10.7.0.0/24", T0), pool("bad", "10.7.0.0/24", T1, { blockSize: 19 })],
      { a: "valid", bad: "spec.blockSize: block size /19 is outside 20..32 for an IPv4 pool" },
    ],
  ])("%s", (_name, pools, want) => {
    expect(verdicts(pools)).toEqual(want);
  });

  it("is the same whatever order the list comes in", () => {
    const pools = [
      pool("a", "10.0.0.0/16", T1),
      pool("b", "10.0.1.0/24", T0),
      pool("c", "10.0.0.0/8", T2),
      pool("d", "10.0.1.0/24", T0),
    ];
    const want = verdicts(pools);
    expect(verdicts([...pools].reverse())).toEqual(want);
    expect(verdicts([pools[2], pools[0], pools[3], pools[1]] as IPPool[])).toEqual(want);
    expect(want).toEqual({
      b: "valid",
      d: "overlaps the older pool b (10.0.1.0/24)",
      a: "overlaps the older pool b (10.0.1.0/24)",
      c: "overlaps the older pool b (10.0.1.0/24)",
    });
  });

  it("deleting the older pool makes the newer one valid again, and never invalidates another", () => {
    const old = pool("default-ipv4", "10.244.1.0/24", T0, { blockSize: 26 });
    const wide = pool("wide24", "10.244.1.0/24", T1, { blockSize: 24 });
    const other = pool("other", "10.245.0.0/24", T1);
    expect(verdicts([old, wide, other])["wide24"]).toMatch(/overlaps the older pool default-ipv4/);
    expect(verdicts([wide, other])).toEqual({ wide24: "valid", other: "valid" });
    // Monotone: removing any one pool of a random-ish set never turns a valid pool invalid.
    const set = [old, wide, other, pool("x", "10.244.0.0/23", T2), pool("y", "10.245.0.128/25", T0)];
    const full = verdicts(set);
    for (let i = 0; i < set.length; i++) {
      const less = verdicts(set.filter((_, j) => j !== i));
      for (const [name, v] of Object.entries(less)) if (full[name] === "valid") expect(v).toBe("valid");
    }
  });

  it("views keep invalid pools, marked with their reason, for the planner's refusals", () => {
    const { views, invalid } = poolViewsWithValidity([
      pool("default-ipv4", "10.244.1.0/24", T0, { blockSize: 26 }),
      pool("wide24", "10.244.1.0/24", T1, { blockSize: 24 }),
      pool("broken", "10.1.1.1/24", T0),
    ]);
    expect(views.map((v) => [v.name, v.invalid])).toEqual([
      ["default-ipv4", undefined],
      ["wide24", "overlaps the older pool default-ipv4 (10.244.1.0/24)"],
    ]);
    expect([...invalid.keys()].sort()).toEqual(["broken", "wide24"]);
  });
});
