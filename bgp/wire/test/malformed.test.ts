import { describe, expect, it } from "@jest/globals";
import { BgpError, decodeMessage } from "../index.js";
import type { UpdateMessage } from "../index.js";
import { MALFORMED } from "./malformed.js";
import { buf, clean } from "./hex.js";

describe("malformed-message corpus: each case produces its exact outcome", () => {
  it.each(MALFORMED.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const opts = c.opts ?? { fourOctetAs: true };
    const run = () => decodeMessage(buf(c.hex), opts);
    const o = c.outcome;
    if ("notification" in o) {
      let err: unknown;
      try {
        run();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BgpError);
      const e = err as BgpError;
      expect([e.code, e.subcode]).toEqual([o.notification[0], o.notification[1]]);
      if (o.notification[2] !== undefined) expect(e.data.toString("hex")).toBe(clean(o.notification[2]));
      return;
    }
    const m = run() as UpdateMessage;
    expect(m.type).toBe("UPDATE");
    expect(m.treatAsWithdraw === true).toBe(o.treatAsWithdraw);
    const d = m.discarded ?? [];
    expect(d.filter((x) => x.action === "withdraw").map((x) => x.type)).toEqual(o.withdraw);
    expect(d.filter((x) => x.action === "discard").map((x) => x.type)).toEqual(o.discard);
    // A discarded or withdrawn attribute never shows up in the decoded set.
    for (const x of d) {
      if (x.type === 1)
        expect(m.attributes.origin === undefined || x.reason === "duplicate attribute").toBe(true);
      if (x.type === 6) expect(m.attributes.atomicAggregate).toBeUndefined();
      if (x.type === 7) expect(m.attributes.aggregator).toBeUndefined();
    }
  });
});

describe("outcome details", () => {
  const byName = (s: string) => {
    const c = MALFORMED.find((x) => x.name.startsWith(s));
    if (!c) throw new Error(`no case ${s}`);
    return decodeMessage(buf(c.hex), c.opts ?? { fourOctetAs: true }) as UpdateMessage;
  };
  it("the first of duplicate attributes is kept", () => {
    expect(byName("duplicate COMMUNITIES").attributes.communities).toEqual([0xfde90001]);
  });
  it("trailing host bits are cleared in the prefix", () => {
    expect(byName("host bits set").nlri).toEqual(["10.1.1.0/24"]);
  });
  it("the NLRI is still located after a length overrun (§4)", () => {
    const m = byName("attribute length beyond Total Path Attribute Length");
    expect(m.nlri).toEqual(["10.1.0.0/24"]);
  });
  it("treat-as-withdraw keeps the MP_REACH NLRI so it can be withdrawn", () => {
    expect(byName("MP_REACH_NLRI IPv6 next hop ::").mpReach?.nlri).toEqual(["2001:db8:1::/48"]);
  });
  it("an unknown optional attribute is kept raw with its flags", () => {
    expect(byName("unknown optional attribute").attributes.unknown).toEqual([
      { flags: 0xc0, type: 200, value: Buffer.from([1]) },
    ]);
  });
  it("every discard carries a reason", () => {
    for (const c of MALFORMED) {
      if ("notification" in c.outcome) continue;
      const m = decodeMessage(buf(c.hex), c.opts ?? { fourOctetAs: true }) as UpdateMessage;
      for (const d of m.discarded ?? []) expect(d.reason.length).toBeGreaterThan(0);
    }
  });
});
