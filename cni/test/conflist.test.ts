// The conflist (docs/architecture.md's pinned one) and building each plugin's stdin the
// way libcni does.
import { describe, expect, it } from "@jest/globals";
import { confListVersion, pluginStdin } from "../conflist.js";
import { CniError } from "../error.js";
import { confListSchema, defaultConfList, trellisNetConfSchema } from "../netconf.js";

describe("conflist", () => {
  it("the pinned conflist validates, and its trellis plugin stdin validates", () => {
    const list = confListSchema.parse(defaultConfList());
    expect(list.plugins.map((p) => p.type)).toEqual(["trellis", "portmap"]);
    const stdin = pluginStdin(list, 0, {
      runtimeConfig: { portMappings: [{ hostPort: 80, containerPort: 8080 }] },
    });
    expect(trellisNetConfSchema.safeParse(stdin).success).toBe(true);
    // trellis declares no capabilities in the pinned list: no runtimeConfig.
    expect(stdin).not.toHaveProperty("runtimeConfig");
    expect(stdin).toMatchObject({
      cniVersion: "1.1.0",
      name: "k8s-pod-network",
      agentSocket: "/var/run/trellis/cni.sock",
    });
  });

  it("passes runtimeConfig only for declared capabilities, with prevResult", () => {
    const prev = { cniVersion: "1.1.0", ips: [{ address: "10.0.0.2/32" }] };
    const pm = [{ hostPort: 80, containerPort: 8080, protocol: "tcp" }];
    const stdin = pluginStdin(defaultConfList(), 1, {
      runtimeConfig: { portMappings: pm, bandwidth: {} },
      prevResult: prev,
    });
    expect(stdin).toEqual({
      type: "portmap",
      capabilities: { portMappings: true },
      cniVersion: "1.1.0",
      name: "k8s-pod-network",
      runtimeConfig: { portMappings: pm },
      prevResult: prev,
    });
  });

  it.each([
    [{ cniVersion: "1.0.0" }, "1.0.0"],
    [{ cniVersions: ["0.4.0", "1.1.0", "3.0.0"] }, "1.1.0"],
    [{ cniVersion: "0.3.1", cniVersions: ["1.0.0"] }, "1.0.0"],
  ])("version of %j is %s", (v, want) => {
    expect(confListVersion({ name: "n", plugins: [{ type: "x" }], ...v })).toBe(want);
  });

  it("no supported version is code 1", () => {
    expect(() => confListVersion({ name: "n", cniVersion: "0.2.0", plugins: [{ type: "x" }] })).toThrow(
      CniError,
    );
  });

  it("rejects an unknown conflist key", () => {
    expect(confListSchema.safeParse({ ...defaultConfList(), plugin: [] }).success).toBe(false);
  });
});
