import { describe, expect, it } from "@jest/globals";
import { revocationFor } from "../revocation.js";
import { entryFilters, updatedCount } from "../conntrack-revoker.js";
import { POLICY_TABLE } from "../../../policy/compiler/nft-table.js";

const T = { family: "inet", table: "trellis" };
const el = (verb: "add" | "delete", name: string, elem: unknown[], t = T) => ({
  [verb]: { element: { ...t, name, elem } },
});
const pods = new Map<string, readonly string[]>([
  ["trlaaaaaaaaaaa", ["10.1.0.2", "fd00::2"]],
  ["trlbbbbbbbbbbb", ["10.1.0.3"]],
]);
const plan = (mode: "noop" | "diff" | "full" | "incremental", cmds: Record<string, unknown>[]) =>
  revocationFor(mode, cmds, pods, POLICY_TABLE);

describe("revocation: which conntrack entries a policy change marks for re-checking", () => {
  it("a no-op revokes nothing", () => {
    expect(plan("noop", [])).toEqual({ prefixes: [], reason: "none" });
  });

  it("a replaced table revokes every local pod's addresses (the old rules cannot be diffed)", () => {
    expect(plan("full", [{ add: { table: { family: "inet", name: "trellis" } } }])).toEqual({
      prefixes: ["10.1.0.2/32", "10.1.0.3/32", "fd00::2/128"],
      reason: "replaced",
    });
  });

  it("a pod whose verdict-map entry changed (another group) has its addresses revoked", () => {
    const r = plan("incremental", [
      el("delete", "ingress-pods", ["trlaaaaaaaaaaa"]),
      el("add", "ingress-pods", [["trlaaaaaaaaaaa", { jump: { target: "in-1234" } }]]),
    ]);
    expect(r).toEqual({ prefixes: ["10.1.0.2/32", "fd00::2/128"], reason: "changed" });
  });

  it("an address joining an existing set is revoked, and only that address", () => {
    const r = plan("diff", [el("add", "peer-abc", ["10.2.0.9"]), el("add", "all-pods-v6", ["fd00::9"])]);
    expect(r.prefixes).toEqual(["10.2.0.9/32", "fd00::9/128"]);
  });

  it("a merged range replaced by a wider one revokes only the difference", () => {
    const r = plan("diff", [
      el("delete", "peer-abc", [
        { range: ["10.2.0.4", "10.2.0.5"] },
        { prefix: { addr: "10.3.0.0", len: 24 } },
      ]),
      el("add", "peer-abc", [{ range: ["10.2.0.4", "10.2.0.6"] }, { prefix: { addr: "10.3.0.0", len: 24 } }]),
    ]);
    expect(r.prefixes).toEqual(["10.2.0.6/32"]);
  });

  it("an address leaving a set is revoked (a pod relabelled out of a peer selector)", () => {
    expect(plan("diff", [el("delete", "tenant-a", ["10.2.0.7"])]).prefixes).toEqual(["10.2.0.7/32"]);
  });

  it("the elements of a set declared in the same transaction are not revoked (the new group's pods are)", () => {
    const r = plan("incremental", [
      { add: { set: { ...T, name: "peer-new", type: "ipv4_addr" } } },
      el("add", "peer-new", ["10.9.0.1", "10.9.0.2"]),
      el("add", "egress-pods", [["trlbbbbbbbbbbb", { jump: { target: "out-1" } }]]),
    ]);
    expect(r.prefixes).toEqual(["10.1.0.3/32"]);
  });

  it("named-port and anti-spoofing elements count by their address; another table's are ignored", () => {
    const r = plan("diff", [
      el("add", "port-1", [{ concat: ["10.4.0.1", "tcp", 8080] }]),
      el("delete", "pod-sources", [{ concat: ["trlccccccccccc", "10.4.0.2"] }]),
      el("add", "peer-abc", ["10.4.0.3"], { family: "inet", table: "trellis-nat" }),
    ]);
    expect(r.prefixes).toEqual(["10.4.0.1/32", "10.4.0.2/32"]);
  });

  it("an interface no local pod has any more (its pod deleted) revokes nothing by itself", () => {
    expect(plan("incremental", [el("delete", "egress-pods", ["trlzzzzzzzzzzz"])])).toEqual({
      prefixes: [],
      reason: "none",
    });
  });
});

describe("conntrack -U (the mark of the entries to re-check)", () => {
  it("a single address is matched by original source, original destination and reply source", () => {
    expect(entryFilters("10.1.0.2/32")).toEqual([
      ["-s", "10.1.0.2"],
      ["-d", "10.1.0.2"],
      ["-r", "10.1.0.2"],
    ]);
    expect(entryFilters("fd00::2/128")).toEqual([
      ["-s", "fd00::2"],
      ["-d", "fd00::2"],
      ["-r", "fd00::2"],
    ]);
  });

  it("a wider prefix by original source and destination only (conntrack takes no CIDR for --reply-src)", () => {
    expect(entryFilters("10.2.0.0/24")).toEqual([
      ["-s", "10.2.0.0/24"],
      ["-d", "10.2.0.0/24"],
    ]);
  });

  it("reads the count conntrack prints; nothing updated is exit 1 and not an error; anything else is", () => {
    expect(updatedCount(0, "conntrack v1.4.7 (conntrack-tools): 3 flow entries have been updated.\n")).toBe(
      3,
    );
    expect(updatedCount(1, "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been updated.\n")).toBe(
      0,
    );
    expect(updatedCount(2, "conntrack v1.4.7 (conntrack-tools): Invalid IP address `x'\n")).toBeUndefined();
  });
});
