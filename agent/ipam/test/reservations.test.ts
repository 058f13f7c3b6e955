// The pure rules of reserved addresses (reservations.ts): where a journaled
// take stands against its block, one case per state, and the ordinals a
// top-up may reserve (never one a take names: rule C).
import { describe, expect, it } from "@jest/globals";
import type { Allocation } from "../../../crds/ipam.js";
import type { BlockView } from "../block-allocator.js";
import {
  type Take,
  applyTakes,
  isReservation,
  reservationHandle,
  reservationsToAdd,
  takeState,
} from "../reservations.js";

const res = (ord: number, node = "n1"): Allocation => ({
  ordinal: ord,
  handle: reservationHandle(node, "b", ord),
  attributes: { node },
});
const pod = (ord: number, handle: string): Allocation => ({ ordinal: ord, handle });
const take = (ord: number, handle = "c1.eth0"): Take => ({
  block: "b",
  ordinal: ord,
  allocation: pod(ord, handle),
});

describe("takeState: is a journaled take still owed by its block?", () => {
  it.each<[string, Allocation[] | undefined, "owed" | "landed" | "gone"]>([
    ["the block still holds this node's reservation there: owed", [res(3)], "owed"],
    ["the block holds the take's own handle there: landed", [pod(3, "c1.eth0")], "landed"],
    ["nothing there (landed, then released): gone", [res(4)], "gone"],
    ["another pod there (released and handed out again): gone", [pod(3, "c9.eth0")], "gone"],
    ["another node's reservation there: gone", [res(3, "n2")], "gone"],
    ["the block does not exist: gone", undefined, "gone"],
  ])("%s", (_n, allocations, want) => {
    expect(takeState(allocations, take(3), "n1")).toBe(want);
  });
});

describe("applyTakes: the block as written, owed takes in place of their reservations", () => {
  it("replaces this node's reservation and reports it carried; leaves the rest", () => {
    const t = take(3);
    const r = applyTakes([res(2), res(3), pod(5, "x")], new Map([[3, t]]), "n1");
    expect(r.allocations.map((a) => a.handle)).toEqual([res(2).handle, "c1.eth0", "x"]);
    expect(r.carried).toEqual([t]);
  });
  it("never overwrites what is not this node's reservation", () => {
    const r = applyTakes([pod(3, "other")], new Map([[3, take(3)]]), "n1");
    expect(r.allocations.map((a) => a.handle)).toEqual(["other"]);
    expect(r.carried).toEqual([]);
  });
});

describe("reservation handles", () => {
  it("cannot be a pod's handle (<containerID>.<ifname>: a container ID has no ':')", () => {
    expect(isReservation(reservationHandle("n1", "10-0-0-0-26", 7))).toBe(true);
    expect(isReservation("abc123.eth0")).toBe(false);
  });
});

describe("reservationsToAdd: the lowest free ordinals, never one a take names", () => {
  const block = (used: number[]): BlockView => ({
    name: "b",
    cidr: { family: 4, base: 0x0a000040n, length: 28 },
    pool: "p",
    node: "n1",
    used: new Map(used.map((o) => [o, `h${o}`])),
    pending: false,
  });
  it("tops up to the target from the lowest free ordinal", () => {
    const b = block([0, 1]);
    expect(reservationsToAdd(b, undefined, [b], 1, 4, undefined)).toEqual([2, 3, 4]);
  });
  it("skips the ordinals journaled takes name (a released take is not reserved again before the journal forgets it)", () => {
    const b = block([0]);
    expect(reservationsToAdd(b, undefined, [b], 0, 2, new Map([[1, take(1)]]))).toEqual([2, 3]);
  });
  it("nothing when the block has enough, or no free ordinal", () => {
    const b = block([0]);
    expect(reservationsToAdd(b, undefined, [b], 4, 4, undefined)).toEqual([]);
    const full = block(Array.from({ length: 16 }, (_, i) => i));
    expect(reservationsToAdd(full, undefined, [full], 0, 4, undefined)).toEqual([]);
  });
});
