// countLocalRoutes against a real kernel in a throwaway network namespace
// (root, like CI): it counts the agent's pod routes (proto 201, main table,
// both families, no gateway) and leaves out the block blackholes, the
// gatewayed reachableBy routes, other tables and other owners' routes.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { countLocalRoutes } from "../local-routes.js";
import { addUplink, recreateNetns } from "../../../net/test/netns.js";

const NS = `tRlr${process.pid % 100000}`;
const ip = (...args: string[]): string => execFileSync("ip", ["-n", NS, ...args], { encoding: "utf8" });

describe("countLocalRoutes in a network namespace", () => {
  beforeAll(() => {
    recreateNetns(NS);
    addUplink({ netns: NS, dev: "lra", peer: "lrb", v4: "198.18.0.1/24", v6: "fd00:18::1/64" });
  });
  afterAll(() => {
    execFileSync("ip", ["netns", "del", NS]);
  });

  it("counts pod routes of both families and nothing else", async () => {
    expect(await countLocalRoutes(`/var/run/netns/${NS}`)).toBe(0);
    // pod routes: counted
    ip("route", "add", "10.244.1.5/32", "dev", "lrb", "proto", "201", "scope", "link");
    ip("route", "add", "10.244.1.6/32", "dev", "lrb", "proto", "201", "scope", "link");
    ip("-6", "route", "add", "fd00:244:1::5/128", "dev", "lrb", "proto", "201");
    // not counted: a block blackhole, a reachableBy route, another table, another owner
    ip("route", "add", "blackhole", "10.244.1.0/26", "proto", "201");
    ip("route", "add", "192.0.2.10/32", "via", "198.18.0.2", "proto", "201");
    ip("route", "add", "10.244.1.7/32", "dev", "lrb", "proto", "201", "table", "100");
    ip("route", "add", "10.244.1.8/32", "dev", "lrb", "proto", "static");
    expect(await countLocalRoutes(`/var/run/netns/${NS}`)).toBe(3);
  });

  it("a namespace that cannot be entered gives no count rather than an error", async () => {
    expect(await countLocalRoutes("/nonexistent/netns")).toBeUndefined();
  });
});
