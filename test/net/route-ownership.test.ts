// Route ownership on the real kernel (docs/architecture.md: "each part finds and sweeps
// only its own"). In one node namespace: the agent's dataplane (the real
// RoutedVethDataplane, run inside the namespace) installs a pod's /32 and
// /128 and the blackholes of its affine blocks (proto 201); trellis-bgp's FIB
// (KernelFib + NetlinkFibDriver with the config file's defaults, proto 202 in
// the main table) installs learned routes and sweeps after End-of-RIB.
// Neither may remove the other's routes, across a restart of either.
// Root only (CI is root); names start with tRO so they never collide.
import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../../bgp/config.js";
import { NetlinkFibDriver, KernelFib, type FibChangeIn } from "../../bgp/fib/index.js";
import { PROTO_TRELLIS_BGP, PROTO_TRELLIS_LOCAL, TABLE_MAIN } from "../../net/route-ownership.js";
import { hostVethName } from "../../net/veth-name.js";
import { addUplink, recreateNetns } from "../../net/test/netns.js";
import { requireRoot } from "../support/require.js";

const tag = process.pid % 100000;
const NODE = `tROn${tag}`;
const POD = `tROp${tag}`;
const HOST_IF = hostVethName({ namespace: "tro", pod: `p${tag}` });
const POD_ADDRS = ["10.244.1.5/32", "fd00:244:1::5/128"];
const BLOCKS = ["10.244.1.0/26", "fd00:244:1::/122"];
const DATAPLANE = fileURLToPath(new URL("../../agent/dataplane/dataplane.js", import.meta.url));
const ROUTED_VETH = fileURLToPath(new URL("../../agent/dataplane/routed-veth.js", import.meta.url));
const IP_EXEC = fileURLToPath(new URL("../../agent/dataplane/ip-exec.js", import.meta.url));

function ip(...args: string[]): string {
  return execFileSync("ip", ["-n", NODE, ...args], { encoding: "utf8" });
}

/** The routes of one protocol in the main table, as "dst type" lines, both families, sorted. */
function routes(proto: number): string[] {
  const out: string[] = [];
  for (const fam of ["-4", "-6"]) {
    const rows = JSON.parse(
      ip("-j", fam, "route", "show", "table", String(TABLE_MAIN), "proto", String(proto)) || "[]",
    ) as { dst: string; type?: string }[];
    for (const r of rows) out.push(`${r.dst} ${r.type ?? "unicast"}`);
  }
  return out.sort();
}

/**
 * The agent side, as the agent runs it: in the node namespace, through the
 * dataplane's own code. `first` adds the pod (veth, addresses, host routes);
 * every run re-syncs the host routes and the blackholes of `blocks`, with the
 * sweep of blackholes that are no longer wanted.
 */
function agentSync(first: boolean, blocks: readonly string[]): void {
  const script = `
    import { RoutedVethDataplane } from ${JSON.stringify(DATAPLANE)};
    import { planHostRoutes, podMac } from ${JSON.stringify(ROUTED_VETH)};
    import { runIpBatch } from ${JSON.stringify(IP_EXEC)};
    const dp = new RoutedVethDataplane();
    try {
      if (${first}) await dp.add({ hostIf: ${JSON.stringify(HOST_IF)}, podIf: "eth0",
        netns: "/var/run/netns/${POD}", mtu: 1500, podMac: podMac("tro"), addresses: ${JSON.stringify(POD_ADDRS)} });
      const r = await runIpBatch(planHostRoutes(${JSON.stringify(HOST_IF)}, ${JSON.stringify(POD_ADDRS)}));
      if (r.code !== 0) throw new Error(r.stderr);
      await dp.syncBlackholes(${JSON.stringify(blocks)}, true);
    } finally { dp.close(); }
  `;
  execFileSync("ip", ["netns", "exec", NODE, process.execPath, "--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

const LOCAL_ROUTES = [
  "10.244.1.0/26 blackhole",
  "10.244.1.5 unicast",
  "fd00:244:1::/122 blackhole",
  "fd00:244:1::5 unicast",
];

const learned = (...prefixes: [string, string[]][]): FibChangeIn[] =>
  prefixes.map(([prefix, nexthops]) => ({ prefix, nexthops }));
const LEARNED = learned(
  ["10.244.2.0/26", ["10.99.0.2"]],
  ["10.244.3.0/26", ["10.99.0.2", "10.99.0.3"]],
  ["fd00:244:2::/122", ["2001:db8:99::2"]],
);
const LEARNED_ROUTES = ["10.244.2.0/26 unicast", "10.244.3.0/26 unicast", "fd00:244:2::/122 unicast"];

/** trellis-bgp's FIB exactly as the daemon builds it from a config file's defaults. */
function speakerFib(): KernelFib {
  const cfg = parseConfig("asn: 65001\nrouterId: 192.0.2.1\nfib: { enabled: true }\n");
  return new KernelFib(new NetlinkFibDriver({ table: cfg.fib.table, proto: cfg.fib.protocol, netns: NODE }), {
    ecmp: cfg.fib.ecmp,
  });
}

describe("route ownership: agent (proto 201) and trellis-bgp (proto 202) in one namespace", () => {
  const fibs: KernelFib[] = [];
  beforeAll(() => {
    requireRoot("the route ownership test (network namespaces)");
    for (const ns of [NODE, POD]) recreateNetns(ns);
    addUplink({ netns: NODE, dev: "tROup", peer: "tROpeer", v4: "10.99.0.1/24", v6: "2001:db8:99::1/64" });
  });
  afterAll(async () => {
    for (const f of fibs) await f.close().catch(() => undefined);
    for (const ns of [NODE, POD]) execFileSync("ip", ["netns", "del", ns]);
  });

  it("trellis-bgp's default protocol and table are PROTO_TRELLIS_BGP in main, not the agent's", () => {
    const cfg = parseConfig("asn: 65001\nrouterId: 192.0.2.1\nfib: { enabled: true }\n");
    expect(cfg.fib).toMatchObject({ protocol: PROTO_TRELLIS_BGP, table: TABLE_MAIN });
    expect(cfg.fib.protocol).not.toBe(PROTO_TRELLIS_LOCAL);
  });

  it("the agent installs its pod routes and block blackholes as proto 201", () => {
    agentSync(true, BLOCKS);
    expect(routes(PROTO_TRELLIS_LOCAL)).toEqual(LOCAL_ROUTES);
  });

  it("the speaker's End-of-RIB sweep removes its own leftovers and nothing of the agent's", async () => {
    // A leftover of an earlier speaker run that nobody re-learns.
    ip("route", "add", "10.244.9.0/26", "via", "10.99.0.9", "proto", String(PROTO_TRELLIS_BGP));
    const fib = speakerFib();
    fibs.push(fib);
    expect(await fib.start()).toBe(1);
    fib.update(LEARNED);
    await fib.idle();
    await fib.markSynced();
    expect(routes(PROTO_TRELLIS_BGP)).toEqual(LEARNED_ROUTES);
    expect(routes(PROTO_TRELLIS_LOCAL)).toEqual(LOCAL_ROUTES);
  });

  it("a restarted speaker that re-learns nothing sweeps only its own routes", async () => {
    await fibs[0]!.close();
    const again = speakerFib();
    fibs.push(again);
    expect(await again.start()).toBe(LEARNED_ROUTES.length);
    // Before End-of-RIB nothing is swept (forwarding preserved, RFC 4724).
    expect(routes(PROTO_TRELLIS_BGP)).toEqual(LEARNED_ROUTES);
    again.update(LEARNED.slice(0, 1));
    await again.idle();
    await again.markSynced();
    expect(routes(PROTO_TRELLIS_BGP)).toEqual(LEARNED_ROUTES.slice(0, 1));
    expect(routes(PROTO_TRELLIS_LOCAL)).toEqual(LOCAL_ROUTES);
    // Everything withdrawn: the speaker's routes are gone, the agent's stay.
    again.update(learned(["10.244.2.0/26", []]));
    await again.idle();
    expect(routes(PROTO_TRELLIS_BGP)).toEqual([]);
    expect(routes(PROTO_TRELLIS_LOCAL)).toEqual(LOCAL_ROUTES);
    again.update(LEARNED);
    await again.idle();
  });

  it("the agent's re-sync (a restarted agent) and its blackhole sweep leave the speaker's routes alone", () => {
    expect(routes(PROTO_TRELLIS_BGP)).toEqual(LEARNED_ROUTES);
    agentSync(false, BLOCKS);
    expect(routes(PROTO_TRELLIS_LOCAL)).toEqual(LOCAL_ROUTES);
    expect(routes(PROTO_TRELLIS_BGP)).toEqual(LEARNED_ROUTES);
    // The node loses its v6 block: the agent sweeps that blackhole, and only that.
    agentSync(false, BLOCKS.slice(0, 1));
    expect(routes(PROTO_TRELLIS_LOCAL)).toEqual(
      LOCAL_ROUTES.filter((r) => r !== "fd00:244:1::/122 blackhole"),
    );
    expect(routes(PROTO_TRELLIS_BGP)).toEqual(LEARNED_ROUTES);
  });

  it("after both restarted, one more speaker sweep still leaves the agent's routes", async () => {
    await fibs[1]!.close();
    const third = speakerFib();
    fibs.push(third);
    await third.start();
    third.update(LEARNED);
    await third.idle();
    await third.markSynced();
    expect(routes(PROTO_TRELLIS_BGP)).toEqual(LEARNED_ROUTES);
    expect(routes(PROTO_TRELLIS_LOCAL)).toEqual(
      LOCAL_ROUTES.filter((r) => r !== "fd00:244:1::/122 blackhole"),
    );
  });
});
