/**
 * runIp and its wrappers over net/run-process.ts: ip's exit code, its
 * trimmed stderr as the error, JSON queries parsed; never a rejection.
 * Read-only commands in the test's own namespace.
 */
import { describe, expect, it } from "@jest/globals";
import { ipJson, runIp, runIpBatch } from "../ip-exec.js";

describe("runIp", () => {
  it("gives ip's exit code, output and trimmed stderr", async () => {
    const ok = await runIp(["link", "show", "lo"]);
    expect([ok.code, ok.stderr]).toEqual([0, ""]);
    expect(ok.stdout).toContain("lo:");
    const bad = await runIp(["link", "show", "trellis-nodev"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/^Device "trellis-nodev" does not exist\.$/);
  });

  it("a batch's failing line is in stderr; a namespace that is not there fails in nsenter", async () => {
    const b = await runIpBatch(["link show lo", "link show trellis-nodev"]);
    expect(b.code).not.toBe(0);
    expect(b.stderr).toContain("trellis-nodev");
    const ns = await runIp(["link", "show", "lo"], { netns: "/nonexistent/trellis-netns" });
    expect(ns.code).not.toBe(0);
    expect(ns.stderr).toContain("nsenter");
  });

  it("ipJson parses `ip -j`, or hands back the failed exit", async () => {
    expect(await ipJson<{ ifname: string }>(["link", "show", "lo"])).toEqual([
      expect.objectContaining({ ifname: "lo" }),
    ]);
    expect(await ipJson(["link", "show", "trellis-nodev"])).toMatchObject({ code: 1 });
  });
});
