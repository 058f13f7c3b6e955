// The static shim answers VERSION itself (cni/shim/PROTOCOL.md "VERSION"):
// the spec versions Trellis implements (0.3.0 ... 1.1.0, docs/architecture.md),
// which are cni/'s SUPPORTED_VERSIONS, with no agent, no agentSocket and the
// probe environment libcni really sends (CNI_NETNS=dummy, nothing else).
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SUPPORTED_VERSIONS } from "../../cni/versions.js";
import { CountingSocket } from "./counting-socket.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const SHIM = join(root, "cni/shim/trellis");
/** Written out, not taken from SUPPORTED_VERSIONS, so that a wrong constant fails here. */
const SPEC_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

function version(
  env: Record<string, string>,
  stdin: string,
): { code: number | null; out: unknown; err: string } {
  const r = spawnSync(SHIM, [], { env: { CNI_COMMAND: "VERSION", ...env }, input: stdin, encoding: "utf8" });
  return { code: r.status, out: r.stdout === "" ? undefined : JSON.parse(r.stdout), err: r.stderr };
}

let dir = "";
const agent = new CountingSocket();

beforeAll(async () => {
  execFileSync("make", ["-s", "-C", join(root, "cni/shim")], { stdio: "inherit" });
  dir = mkdtempSync(join(tmpdir(), "tCver-"));
  await agent.listen(join(dir, "cni.sock"));
});

afterAll(async () => {
  await agent.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("shim VERSION (answered locally)", () => {
  /** The whole answer that names `cniVersion`, under libcni's probe environment. */
  const answer = (cniVersion: string): ReturnType<typeof version> => ({
    code: 0,
    out: { cniVersion, supportedVersions: SPEC_VERSIONS },
    err: "",
  });

  // 1.0.0 is the probe's, below.
  it.each(["0.3.0", "0.3.1", "0.4.0", "1.1.0"])("each supported version is echoed: %s", (v) => {
    expect(version({ CNI_NETNS: "dummy" }, JSON.stringify({ cniVersion: v }))).toEqual(answer(v));
  });

  it.each([
    ["libcni's probe: only cniVersion 1.0.0", '{"cniVersion":"1.0.0"}', "1.0.0"],
    ["an unsupported version gets our newest", '{"cniVersion":"0.2.0"}', "1.1.0"],
    ["an unknown future version gets our newest", '{"cniVersion":"9.9.9"}', "1.1.0"],
    ["empty stdin gets our newest", "", "1.1.0"],
    [
      "a full netconf (no agentSocket) works too",
      '{"cniVersion":"1.0.0","name":"n","type":"trellis"}',
      "1.0.0",
    ],
  ])("%s", (_name, stdin, answered) => {
    expect(version({ CNI_NETNS: "dummy" }, stdin)).toEqual(answer(answered));
  });

  it("the shim's list equals cni/versions.ts SUPPORTED_VERSIONS, in order, and both are the spec versions", () => {
    const r = version({}, '{"cniVersion":"1.1.0"}');
    expect((r.out as { supportedVersions: string[] }).supportedVersions).toEqual([...SUPPORTED_VERSIONS]);
    expect([...SUPPORTED_VERSIONS]).toEqual(SPEC_VERSIONS);
  });

  it("never contacts the agent, even when agentSocket names a live socket", () => {
    const before = agent.connections;
    const r = version(
      { CNI_NETNS: "dummy" },
      JSON.stringify({ cniVersion: "1.0.0", agentSocket: agent.path }),
    );
    expect(r.code).toBe(0);
    expect(agent.connections).toBe(before);
  });

  it("does not judge CNI_CONTAINERID, CNI_IFNAME or CNI_PATH (SPEC.md: only CNI_COMMAND)", () => {
    const r = version(
      { CNI_NETNS: "dummy", CNI_CONTAINERID: "!bad id", CNI_IFNAME: "way-too-long-ifname", CNI_PATH: "" },
      '{"cniVersion":"0.4.0"}',
    );
    expect([r.code, (r.out as { cniVersion: string }).cniVersion]).toEqual([0, "0.4.0"]);
  });

  it("other commands still go to the agent (ADD with no agent is code 11)", () => {
    const r = spawnSync(SHIM, [], {
      env: { CNI_COMMAND: "ADD", CNI_NETNS: "/x", CNI_CONTAINERID: "c", CNI_IFNAME: "eth0", CNI_PATH: "/" },
      input: JSON.stringify({ cniVersion: "1.0.0", agentSocket: join(dir, "absent.sock") }),
      encoding: "utf8",
    });
    expect([r.status, (JSON.parse(r.stdout) as { code: number }).code]).toEqual([1, 11]);
  });
});
