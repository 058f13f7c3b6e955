// BGPPeer reachableBy host routes: the pure plan, and PeerRoutes against a
// real kernel in a throwaway network namespace (root, like CI): installed
// with proto 201, found again by a new instance, removed when no BGPPeer asks
// for them, and the agent's other proto 201 routes (pod routes, blackholes)
// and other owners' routes never touched. The kernel is reached by rtnetlink
// (no `ip` process); the test reads it back with `ip`.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { pino } from "pino";
import { PeerRoutes, peerRouteRequest, planPeerRoutes } from "../peer-routes.js";

/** The route to the test peer 192.0.2.10 via a gateway of 198.18.0.x. */
const via = (x: number): { prefix: string; via: string } => ({
  prefix: "192.0.2.10/32",
  via: `198.18.0.${x}`,
});
const op = (verb: "delete" | "replace", x: number): { op: string; prefix: string; via: string } => ({
  op: verb,
  ...via(x),
});

describe("planPeerRoutes", () => {
  it.each([
    ["nothing installed: each wanted route is added", [], [via(0)], [op("replace", 0)]],
    ["installed and wanted: nothing to do", [via(0)], [via(0)], []],
    ["no longer wanted: deleted", [via(0)], [], [op("delete", 0)]],
    [
      "another gateway: the old one deleted, the new one added",
      [via(0)],
      [via(4)],
      [op("delete", 0), op("replace", 4)],
    ],
  ])("%s", (_n, installed, want, ops) => {
    expect(planPeerRoutes(installed, want)).toEqual(ops);
  });

  it("a route that names no address is refused with a message, not sent", () => {
    expect(peerRouteRequest({ op: "replace", prefix: "192.0.2.10/32", via: "gw.example" })).toMatch(
      /^reachableBy route 192\.0\.2\.10\/32 via gw\.example: /,
    );
  });
});

const NS = `tRpr${process.pid % 100000}`;
const PATH = `/var/run/netns/${NS}`;
const ip = (...args: string[]): string => execFileSync("ip", ["-n", NS, ...args], { encoding: "utf8" });
const log = pino({ level: "silent" });

describe("PeerRoutes in a network namespace", () => {
  beforeAll(() => {
    execFileSync("ip", ["netns", "add", NS]);
    ip("link", "add", "pra", "type", "veth", "peer", "name", "prb");
    ip("link", "set", "pra", "up");
    ip("link", "set", "prb", "up");
    ip("addr", "add", "198.18.0.1/24", "dev", "pra");
    ip("addr", "add", "fd00:18::1/64", "dev", "pra", "nodad");
    // the agent's own other routes, and someone else's gatewayed route
    ip("route", "add", "10.244.1.5/32", "dev", "prb", "proto", "201", "scope", "link");
    ip("route", "add", "blackhole", "10.244.1.0/26", "proto", "201");
    ip("route", "add", "192.0.2.99/32", "via", "198.18.0.9", "proto", "static");
  });
  afterAll(() => {
    execFileSync("ip", ["netns", "del", NS]);
  });
  const show = (fam: "-4" | "-6"): string => ip(fam, "route", "show", "proto", "201");

  it("installs the wanted routes with proto 201, both families", async () => {
    await new PeerRoutes(log, PATH).apply([
      { prefix: "192.0.2.10/32", via: "198.18.0.2", peer: "far" },
      { prefix: "2001:db8::10/128", via: "fd00:18::2", peer: "far6" },
    ]);
    expect(show("-4")).toMatch(/^192\.0\.2\.10 via 198\.18\.0\.2 dev pra $/m);
    expect(show("-6")).toMatch(/^2001:db8::10 via fd00:18::2 dev pra /m);
  });

  it("a new instance (an agent restarted) finds them and removes the one no BGPPeer asks for", async () => {
    await new PeerRoutes(log, PATH).apply([{ prefix: "192.0.2.10/32", via: "198.18.0.2", peer: "far" }]);
    expect(show("-6")).not.toMatch(/2001:db8::10/);
    expect(show("-4")).toMatch(/^192\.0\.2\.10 via 198\.18\.0\.2 /m);
  });

  it("removing every peer removes every reachableBy route and nothing else", async () => {
    await new PeerRoutes(log, PATH).apply([]);
    const v4 = show("-4");
    expect(v4).not.toMatch(/192\.0\.2\.10/);
    expect(v4).toMatch(/^10\.244\.1\.5 dev prb /m);
    expect(v4).toMatch(/^blackhole 10\.244\.1\.0\/26/m);
    expect(ip("route", "show", "proto", "static")).toMatch(/^192\.0\.2\.99 via 198\.18\.0\.9 /m);
  });
});
