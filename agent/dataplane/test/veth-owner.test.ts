import { describe, expect, it } from "@jest/globals";
import {
  mayDeleteOnDel,
  mayDeleteOnGc,
  onAddCollision,
  ownerMarker,
  parseOwnerMarker,
} from "../veth-owner.js";
import { planLink, planOwnerMarker } from "../routed-veth.js";

const OLD = { containerID: "0ld5andb0x", ifname: "eth0" };
const NEW = { containerID: "n3w5andb0x", ifname: "eth0" };
const NEW_NET1 = { containerID: "n3w5andb0x", ifname: "net1" };

describe("host veth owner marker (ifalias)", () => {
  it("round-trips containerID and ifname, also with dots and dashes in the container ID", () => {
    const o = { containerID: "k8s_pause.web-0_ns_1.2", ifname: "eth0.1" };
    expect(ownerMarker(o)).toBe("trellis:k8s_pause.web-0_ns_1.2/eth0.1");
    expect(parseOwnerMarker(ownerMarker(o))).toEqual(o);
  });

  it("an alias that is not ours, or empty, is no marker (the veth is treated as unmarked)", () => {
    for (const a of [
      undefined,
      "",
      "uplink to rack 3",
      "trellis:",
      "trellis:abc",
      "trellis:/eth0",
      "trellis:abc/",
    ]) {
      expect(parseOwnerMarker(a)).toBeUndefined();
    }
  });

  it("gives no marker that would not fit IFALIASZ (255 bytes)", () => {
    expect(ownerMarker({ containerID: "a".repeat(250), ifname: "eth0" })).toBeUndefined();
    expect(planOwnerMarker("trlx", { containerID: "a".repeat(250), ifname: "eth0" })).toEqual([]);
  });

  it("is its own ip line after the add (the kernel ignores IFLA_IFALIAS on link add)", () => {
    expect(planOwnerMarker("trl0123456789a", NEW)).toEqual([
      "link set dev trl0123456789a alias trellis:n3w5andb0x/eth0",
    ]);
    const link = planLink({
      hostIf: "trlx",
      podIf: "eth0",
      netns: "/run/netns/p",
      mtu: 1500,
      podMac: "0a:58:00:00:00:01",
    });
    expect(link.join("\n")).not.toContain("alias");
  });
});

describe("ADD finds the host veth name taken", () => {
  it("replaces the veth of an older sandbox of the pod (different container ID, marked)", () => {
    expect(onAddCollision(NEW, OLD, [])).toEqual({ action: "replace", previous: OLD });
  });

  it("refuses a second ADD of the same attachment (SPEC.md: no ADD twice without DEL)", () => {
    expect(onAddCollision(NEW, NEW, [])).toEqual({ action: "refuse", why: "same-attachment" });
  });

  it("refuses when another interface of the same container holds the pod's name", () => {
    expect(onAddCollision(NEW_NET1, NEW, [])).toEqual({ action: "refuse", why: "same-sandbox", holder: NEW });
  });

  it("the marker wins over IPAM: a marked old veth is replaced even if IPAM lists this attachment", () => {
    expect(onAddCollision(NEW, OLD, [OLD, NEW]).action).toBe("replace");
  });

  it("unmarked (an older agent's veth): IPAM's holders for the pod decide", () => {
    expect(onAddCollision(NEW, undefined, [OLD])).toEqual({ action: "replace", previous: OLD });
    expect(onAddCollision(NEW, undefined, [NEW])).toEqual({ action: "refuse", why: "same-attachment" });
    expect(onAddCollision(NEW_NET1, undefined, [NEW]).action).toBe("refuse");
  });

  it("unmarked with several IPAM holders: the newest holder owns it (each ADD replaced the one before)", () => {
    const NEWER = { containerID: "n3w3r", ifname: "eth0" };
    expect(onAddCollision(NEWER, undefined, [OLD, NEW])).toEqual({ action: "replace", previous: NEW });
    expect(onAddCollision(NEW, undefined, [OLD, NEW])).toEqual({ action: "refuse", why: "same-attachment" });
  });

  it("unmarked and unknown to IPAM: a leftover, replaced", () => {
    expect(onAddCollision(NEW, undefined, [])).toEqual({ action: "replace", previous: undefined });
  });
});

describe("DEL may delete the host veth only when it is the owner's", () => {
  it("a late DEL of the old sandbox leaves the new sandbox's veth", () => {
    expect(mayDeleteOnDel(OLD, NEW, [])).toBe(false);
  });

  it("the owner's DEL deletes it", () => {
    expect(mayDeleteOnDel(NEW, NEW, [])).toBe(true);
  });

  it("another interface of the same container does not delete it", () => {
    expect(mayDeleteOnDel(NEW_NET1, NEW, [])).toBe(false);
  });

  it("unmarked: deleted when IPAM lists this attachment for the pod, or lists nobody (the name decides)", () => {
    expect(mayDeleteOnDel(OLD, undefined, [OLD])).toBe(true);
    expect(mayDeleteOnDel(OLD, undefined, [])).toBe(true);
  });

  it("unmarked: kept when IPAM lists only other attachments for the pod", () => {
    expect(mayDeleteOnDel(OLD, undefined, [NEW])).toBe(false);
  });

  it("unmarked with several IPAM holders: only the newest holder's DEL deletes it", () => {
    expect(mayDeleteOnDel(OLD, undefined, [OLD, NEW])).toBe(false);
    expect(mayDeleteOnDel(NEW, undefined, [OLD, NEW])).toBe(true);
  });
});

describe("GC may delete a host veth found under a stale allocation's name", () => {
  const validNew = (o: { containerID: string; ifname: string }): boolean => o.containerID === NEW.containerID;

  it("keeps a veth whose marker names a valid attachment (the pod's new sandbox)", () => {
    expect(mayDeleteOnGc(NEW, validNew, true)).toBe(false);
  });

  it("deletes a veth whose marker names an attachment the runtime no longer lists", () => {
    expect(mayDeleteOnGc(OLD, validNew, true)).toBe(true);
  });

  it("unmarked: kept while a valid attachment of the same pod holds addresses, deleted otherwise", () => {
    expect(mayDeleteOnGc(undefined, validNew, true)).toBe(false);
    expect(mayDeleteOnGc(undefined, validNew, false)).toBe(true);
  });
});
