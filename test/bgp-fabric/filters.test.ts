// End to end, as root: BGPFilter in the lab (issue 9), on a 2-node fabric.
// - export: a filter on node-1's ToR BGPPeer rejecting node-1's block keeps
//   it from the ToR, while node-2 still learns it over the mesh;
// - import: a filter on the nodes' ToR BGPPeers rejecting the prefix the ToR
//   originates (lab/bird-config.ts TOR_ORIGIN_PREFIX4) keeps it out of the
//   nodes' kernels (every ToR session carries it, and a node relays what it
//   learns to the mesh, so each node's ToR session filters it);
// - un-attaching and deleting the filters restores both, with the same
//   agents and no ToR session reset.
import { beforeAll, expect, it } from "@jest/globals";
import { TOR_ORIGIN_PREFIX4 } from "../../lab/bird-config.js";
import { maybe } from "../lab/suite-lab.js";
import {
  applyYaml,
  birdc,
  labForSuite,
  mergePatch,
  poolBlocks,
  routesShow,
  restartMarks,
  waitFor,
} from "./fabric-lab.js";

const torPeer = (node: string): string => `lab-tor-${node}-v4`;
const NODES = ["node-1", "node-2"];

/** A BGPFilter with one rule rejecting exactly `cidr` in `direction`. */
const rejectFilter = (name: string, direction: "exportV4" | "importV4", cidr: string): string =>
  `apiVersion: trellis.dev/v1alpha1
kind: BGPFilter
metadata: {name: ${name}}
spec:
  ${direction}: [{cidr: "${cidr}", matchOperator: Equal, action: Reject}]
`;

maybe("BGP fabric: BGPFilter export and import (2 nodes)", () => {
  const { lab } = labForSuite(2, "flt");
  let block = "";
  let marks: Awaited<ReturnType<typeof restartMarks>>;
  /** node-2 holds node-1's block as a BGP route (proto 202). */
  const node2HasBlock = async (): Promise<boolean> =>
    (await routesShow(lab, "node-2", block, "proto", "202")).length > 0;
  /** Waits until `ip route show PREFIX [SELECTORS]` in `where` holds a route (`present`) or none. */
  const routeIs = (where: string, prefix: string, present: boolean, ...sel: string[]): Promise<true> =>
    waitFor(
      `${prefix} ${present ? "in" : "gone from"} ${where}'s kernel`,
      async () => ((await routesShow(lab, where, prefix, ...sel)).length > 0 === present ? true : undefined),
      30_000,
    );
  beforeAll(async () => {
    block = await waitFor(
      "node-1's IPv4 block",
      async () => (await poolBlocks(lab)).find((b) => b.node === "node-1" && !b.cidr.includes(":"))?.cidr,
    );
    // Everything learned before the filters: the ToR has node-1's block, node-2 has it over the
    // mesh (the ToR's copy carries the nodes' own AS and is refused as a loop, RFC 4271 9.1.2),
    // each node the ToR's prefix. The mesh session comes up on its own schedule: without this
    // wait, "node-2 still learns it" below could fail only because it had not learned it yet.
    await routeIs("tor", block, true);
    await routeIs("node-2", block, true, "proto", "202");
    for (const n of NODES) await routeIs(n, TOR_ORIGIN_PREFIX4, true, "proto", "202");
    marks = await restartMarks(lab);
  }, 120_000);

  it("an export BGPFilter on node-1's ToR BGPPeer rejecting its block keeps it from the ToR; node-2 still learns it", async () => {
    await applyYaml(lab, rejectFilter("no-node1-block", "exportV4", block));
    await mergePatch(lab, "bgppeer", torPeer("node-1"), { spec: { filters: ["no-node1-block"] } });
    await routeIs("tor", block, false);
    expect(await birdc(lab, "show", "route", block)).not.toMatch(/unicast/);
    expect(await node2HasBlock()).toBe(true);
  }, 60_000);

  it("an import BGPFilter on the ToR BGPPeers rejecting the ToR's prefix keeps it out of the nodes' kernels", async () => {
    await applyYaml(lab, rejectFilter("no-tor-prefix", "importV4", TOR_ORIGIN_PREFIX4));
    await mergePatch(lab, "bgppeer", torPeer("node-1"), {
      spec: { filters: ["no-node1-block", "no-tor-prefix"] },
    });
    await mergePatch(lab, "bgppeer", torPeer("node-2"), { spec: { filters: ["no-tor-prefix"] } });
    for (const n of NODES) await routeIs(n, TOR_ORIGIN_PREFIX4, false);
    // the ToR still announces it to both: the nodes refuse it
    for (const proto of ["node_1", "node_2"])
      expect(await birdc(lab, "show", "route", "export", proto, TOR_ORIGIN_PREFIX4)).toMatch(
        new RegExp(`^${TOR_ORIGIN_PREFIX4.replace(/[./]/g, "\\$&")}\\s+blackhole \\[tor_origin4 `, "m"),
      );
    // and the export filter still holds
    expect(await routesShow(lab, "tor", block)).toEqual([]);
  }, 60_000);

  it("un-attaching and deleting the filters restores both, with the same agents and no ToR session reset", async () => {
    for (const n of NODES) await mergePatch(lab, "bgppeer", torPeer(n), { spec: { filters: null } });
    const del = await lab.kubectl("delete", "bgpfilter", "no-node1-block", "no-tor-prefix");
    expect(del.code).toBe(0);
    await routeIs("tor", block, true, "proto", "bird");
    for (const n of NODES) await routeIs(n, TOR_ORIGIN_PREFIX4, true, "proto", "202");
    expect(await node2HasBlock()).toBe(true);
    expect(await restartMarks(lab)).toEqual(marks);
  }, 60_000);
});
