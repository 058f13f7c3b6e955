import { afterAll, afterEach, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { parseConfig } from "../../../bgp/config.js";
import { controlRequest } from "../../../bgp/control/client.js";
import type { ControlServer } from "../../../bgp/control/server.js";
import type { RouteStatus } from "../../../bgp/control/protocol.js";
import { SpeakerHost } from "../../../bgp/speaker-host.js";
import { controlSocketPath, serveBgpControl } from "../control-socket.js";

describe("controlSocketPath", () => {
  it("is bgp.sock beside the CNI socket unless bgp.controlSocket says otherwise", () => {
    expect(controlSocketPath("/var/run/trellis/cni.sock", undefined)).toBe("/var/run/trellis/bgp.sock");
    expect(controlSocketPath("/lab/nodes/node-1/cni.sock", undefined)).toBe("/lab/nodes/node-1/bgp.sock");
    expect(controlSocketPath("/var/run/trellis/cni.sock", "/run/x/ctl.sock")).toBe("/run/x/ctl.sock");
  });
});

describe("serveBgpControl", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-agent-ctl-"));
  let server: ControlServer | undefined;
  let host: SpeakerHost | undefined;
  afterEach(async () => {
    await server?.close();
    await host?.stop();
    server = undefined;
    host = undefined;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("answers an error response, not a crash, while no speaker runs", async () => {
    const path = join(dir, "none.sock");
    server = await serveBgpControl(path, () => undefined);
    await expect(controlRequest(path, "routes")).rejects.toThrow(/BGP speaker is not running yet/);
  });

  it("serves the running speaker's Loc-RIB (its originated prefix) and peers", async () => {
    const path = join(dir, "bgp.sock");
    const cfg = parseConfig(
      JSON.stringify({
        asn: 64512,
        routerId: "192.0.2.1",
        listen: { address: "127.0.0.1", port: 0 },
        fib: { enabled: false },
        originate: [{ prefix: "10.244.1.0/24" }],
        peers: [{ address: "127.0.0.9", asn: 64513, passive: true }],
      }),
    );
    host = await SpeakerHost.create(cfg, { log: pino({ level: "silent" }) });
    await host.start();
    const h = host;
    server = await serveBgpControl(path, () => h);
    const routes = (await controlRequest(path, "routes")) as RouteStatus[];
    expect(routes.map((r) => r.prefix)).toEqual(["10.244.1.0/24"]);
    expect(routes[0]?.paths[0]?.best).toBe(true);
    const peers = (await controlRequest(path, "peers")) as { address: string }[];
    expect(peers.map((p) => p.address)).toEqual(["127.0.0.9"]);
  });
});
