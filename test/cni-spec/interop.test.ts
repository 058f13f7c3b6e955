// Interop with the Go reference library: our ADD result, in every version the
// Debian plugins speak, is handed as prevResult to the real `portmap` plugin.
// With no portMappings it parses the prevResult with libcni's types and prints
// it back (plugins/meta/portmap: PrintResult(prevResult)), so this checks that
// Go accepts our wire format and that we read Go's back to the same result.
import { beforeAll, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { handleCni } from "../../cni/handler.js";
import { parseResult } from "../../cni/result-convert.js";
import { MemoryBackend } from "../../cni/test/memory-backend.js";
import { requireExecutable } from "../support/require.js";

const PORTMAP = "/usr/lib/cni/portmap";

const env = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "interop1",
  CNI_NETNS: "/var/run/netns/tCinterop",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/usr/lib/cni",
};

describe("reference portmap reads our results", () => {
  beforeAll(() => requireExecutable(PORTMAP, "containernetworking-plugins"));
  it.each(["0.3.0", "0.3.1", "0.4.0", "1.0.0"])("at %s", async (v) => {
    const conf = {
      cniVersion: v,
      name: "interop",
      type: "trellis",
      ipam: { type: "trellis-ipam" },
      dns: { nameservers: ["10.96.0.10"], search: ["svc.cluster.local"] },
    };
    const ours = await handleCni(env, Buffer.from(JSON.stringify(conf)), new MemoryBackend());
    expect(ours.exitCode).toBe(0);
    const prevResult = JSON.parse(ours.stdout) as Record<string, unknown>;
    const pm = {
      cniVersion: v,
      name: "interop",
      type: "portmap",
      capabilities: { portMappings: true },
      prevResult,
    };
    const r = spawnSync(PORTMAP, [], { env, input: JSON.stringify(pm), encoding: "utf8", timeout: 20_000 });
    expect(r.status).toBe(0);
    const echoed = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(echoed.cniVersion).toBe(v);
    expect(parseResult(echoed, v)).toEqual(parseResult(prevResult, v));
  });
});
