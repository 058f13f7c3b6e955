// `trellisctl bgp routes|peers --node NAME --dir LAB`: the node's agent is
// asked over its control socket in the lab dir (bgp.sock beside its CNI
// socket, agent/bgp/control-socket.ts). Here the socket is served by a real
// speaker in this process; test/bgp-fabric/faults.test.ts asks a lab's agents.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { parseConfig } from "../../bgp/config.js";
import type { ControlServer } from "../../bgp/control/server.js";
import type { PeerStatus, RouteStatus } from "../../bgp/control/protocol.js";
import { SpeakerHost } from "../../bgp/speaker-host.js";
import { serveBgpControl } from "../../agent/bgp/control-socket.js";
import { labLayout } from "../../lab/lab-layout.js";
import { routesTable } from "../commands/bgp.js";
import { EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK } from "../exit-codes.js";
import { runCaptured as run } from "./run-captured.js";

describe("trellisctl bgp routes|peers --node NAME --dir LAB", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-cli-bgp-"));
  let host: SpeakerHost;
  let server: ControlServer;

  beforeAll(async () => {
    const N = labLayout(dir).node("node-1");
    mkdirSync(N.dir, { recursive: true });
    mkdirSync(labLayout(dir).node("node-2").dir, { recursive: true });
    host = await SpeakerHost.create(
      parseConfig(
        JSON.stringify({
          asn: 64512,
          routerId: "192.0.2.1",
          listen: { address: "127.0.0.1", port: 0 },
          originate: [{ prefix: "10.244.1.0/24" }, { prefix: "fd00:10:244:1::/64" }],
          peers: [{ address: "127.0.0.9", asn: 65000, passive: true }],
        }),
      ),
      { log: pino({ level: "silent" }) },
    );
    await host.start();
    server = await serveBgpControl(join(N.dir, "bgp.sock"), () => host);
  });
  afterAll(async () => {
    await server.close();
    await host.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("routes --node: that node's Loc-RIB, its own blocks as local best paths", async () => {
    const r = await run("bgp", "routes", "--node", "node-1", "--dir", dir, "-o", "json");
    expect(r.err).toBe("");
    expect(r.code).toBe(EXIT_OK);
    const routes = JSON.parse(r.out) as RouteStatus[];
    expect(routes.map((x) => x.prefix).sort()).toEqual(["10.244.1.0/24", "fd00:10:244:1::/64"]);
    for (const x of routes) expect(x.paths.filter((p) => p.best)).toHaveLength(1);
    const t = await run("bgp", "routes", "--node", "node-1", "--dir", dir);
    expect(t.out).toMatch(/^PREFIX\s+BEST/);
    expect(t.out).toContain("10.244.1.0/24");
  });

  it("peers --node --dir: the sessions from the same socket", async () => {
    const r = await run("bgp", "peers", "--node", "node-1", "--dir", dir, "-o", "json");
    expect(r.code).toBe(EXIT_OK);
    expect((JSON.parse(r.out) as PeerStatus[]).map((p) => [p.address, p.asn])).toEqual([
      ["127.0.0.9", 65000],
    ]);
  });

  it("a node the lab does not have is not found (exit 3), naming it and the lab", async () => {
    const r = await run("bgp", "routes", "--node", "node-7", "--dir", dir);
    expect(r.code).toBe(EXIT_NOT_FOUND);
    expect(r.err).toContain(`node node-7: not a node of the lab in ${dir}`);
  });

  it("a node whose agent does not answer fails (exit 1) with the socket named, no stack trace", async () => {
    const r = await run("bgp", "routes", "--node", "node-2", "--dir", dir);
    expect(r.code).toBe(EXIT_FAILURE);
    expect(r.err).toContain(join(labLayout(dir).node("node-2").dir, "bgp.sock"));
    expect(r.err).not.toMatch(/\n\s+at /);
  });
});

describe("bgp routes table", () => {
  it("prints each destination's best path first, under its prefix, the other paths below it", () => {
    const path = (source: string, best: boolean): RouteStatus["paths"][number] => ({
      source,
      best,
      multipath: false,
      stale: false,
      nextHop: source,
      asPath: best ? "" : "65000 64512",
      communities: [],
      largeCommunities: [],
    });
    const lines = routesTable([
      {
        prefix: "10.244.2.0/26",
        reason: "as-path-length",
        nexthops: ["198.18.0.3"],
        paths: [path("198.18.0.4", false), path("198.18.0.3", true)],
      },
    ]).split("\n");
    expect(lines[1]).toMatch(/^10\.244\.2\.0\/26\s+\*\s+198\.18\.0\.3 .*as-path-length$/);
    expect(lines[2]).toMatch(/^\s+198\.18\.0\.4\s+198\.18\.0\.4\s+65000 64512/);
  });
});
