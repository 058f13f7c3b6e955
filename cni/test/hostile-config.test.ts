import { describe, expect, it } from "@jest/globals";
import { handleCni, MAX_CONFIG_DEPTH } from "../handler.js";
import { MemoryBackend } from "./memory-backend.js";

// Hostile stdin that JSON.parse accepts but later stages used to choke on:
// a value nested thousands of levels deep made JSON.stringify (error
// messages) overflow the stack and came back as code 999 "internal error".
const env = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c0ffee",
  CNI_NETNS: "/var/run/netns/tZhostile",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/usr/lib/cni",
};
const conf = (extra: Record<string, unknown>): Record<string, unknown> => ({
  cniVersion: "1.1.0",
  name: "k8s-pod-network",
  type: "trellis",
  mtu: 1500,
  ipam: { type: "trellis-ipam" },
  ...extra,
});
const nested = (depth: number): string => "[".repeat(depth) + "]".repeat(depth);
/** The config as text, with the value at `field` replaced by an array nested `depth` deep. */
const deepText = (field: "x" | "runtimeConfig" | "prevResult", depth: number): Buffer =>
  Buffer.from(JSON.stringify(conf({ [field]: "@@" })).replace('"@@"', nested(depth)));

describe("CNI handler with deeply nested stdin", () => {
  it.each([
    ["an unknown field", "x", "ADD"],
    ["runtimeConfig", "runtimeConfig", "ADD"],
    ["prevResult", "prevResult", "CHECK"],
  ] as const)(
    "a value 20,000 levels deep in %s is a decoding failure (6), not an internal error",
    async (_n, field, cmd) => {
      const out = await handleCni({ ...env, CNI_COMMAND: cmd }, deepText(field, 20_000), new MemoryBackend());
      expect(out.exitCode).toBe(1);
      const reply = JSON.parse(out.stdout) as { code: number; msg: string };
      expect(reply.code).toBe(6);
      expect(reply.msg).toContain(`nested deeper than ${MAX_CONFIG_DEPTH} levels`);
    },
  );

  it("an unknown top-level field nested within the limit is accepted (unknown top-level keys are)", async () => {
    const out = await handleCni(env, deepText("x", MAX_CONFIG_DEPTH - 2), new MemoryBackend());
    expect(out.exitCode).toBe(0);
  });

  it("an unknown trellis-ipam field nested within the limit is still code 2 naming the field", async () => {
    const text = JSON.stringify(conf({ ipam: { type: "trellis-ipam", x: "@@" } })).replace(
      '"@@"',
      nested(MAX_CONFIG_DEPTH - 3),
    );
    const out = await handleCni(env, Buffer.from(text), new MemoryBackend());
    const reply = JSON.parse(out.stdout) as { code: number; msg: string };
    expect(reply.code).toBe(2);
    expect(reply.msg).toContain('unsupported field "ipam.x"');
  });
});
