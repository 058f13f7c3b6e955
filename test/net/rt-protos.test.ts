// trellis-node names its route protocols at start (net/route-ownership.ts):
// where the system has rt_protos.d it writes trellis.conf there, so `ip route`
// prints `proto trellis` / `proto trellis-bgp`; elsewhere it writes nothing.
// The directory is injected (a temp dir standing for /etc/iproute2/rt_protos.d):
// the real one is machine-wide and would change `ip route` for everyone.
import { describe, it, expect, afterAll } from "@jest/globals";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { loadConfig } from "../../agent/config.js";
import { NodeAgent } from "../../agent/node-agent.js";
import { RT_PROTOS_FILE, rtProtosText } from "../../net/route-ownership.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-rtprotos-agent-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A trellis-node as its executable builds it (config, logger), with `rtProtosDir` injected. */
function newAgent(rtProtosDir: string): NodeAgent {
  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "t", cluster: { server: "http://127.0.0.1:1" } }],
      users: [{ name: "t", user: {} }],
      contexts: [{ name: "t", context: { cluster: "t", user: "t" } }],
      "current-context": "t",
    }),
  );
  const config = join(dir, "config.json");
  writeFileSync(config, JSON.stringify({ policy: { enabled: false }, bgp: { enabled: false } }));
  const cfg = loadConfig({ nodeName: "n1", kubeconfig, cniSocket: join(dir, "cni.sock"), config }, {});
  return new NodeAgent(cfg, pino({ level: "silent" }), { skipForwarding: true, rtProtosDir });
}

describe("trellis-node names proto 201 and 202 at start", () => {
  it("writes trellis.conf where rt_protos.d exists", async () => {
    const d = join(dir, "rt_protos.d");
    mkdirSync(d);
    const agent = newAgent(d);
    expect(readFileSync(join(d, RT_PROTOS_FILE), "utf8")).toBe(rtProtosText());
    await agent.stop();
  });

  it("creates nothing where the system has no rt_protos.d", async () => {
    const d = join(dir, "absent");
    const agent = newAgent(d);
    expect(existsSync(d)).toBe(false);
    await agent.stop();
  });
});
