/**
 * runIp and its wrappers over net/run-process.ts: ip's exit code, its
 * trimmed stderr as the error, JSON queries parsed; never a rejection.
 * Read-only commands in the test's own namespace.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "@jest/globals";
import { ipJson, runIp, runIpBatch } from "../ip-exec.js";

/**
 * runIp in a fresh Node whose `ip` is TRELLIS_IP_BIN=`bin` (read once at
 * import), what it resolved to as JSON.
 */
function runIpWithBin(bin: string, netns?: string): Promise<unknown> {
  const mod = fileURLToPath(new URL("../ip-exec.js", import.meta.url));
  const script = `import(${JSON.stringify(mod)}).then(async (m) => process.stdout.write(JSON.stringify(await m.runIp(["link", "show", "lo"], ${netns === undefined ? "{}" : JSON.stringify({ netns })}))))`;
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ["-e", script],
      { env: { ...process.env, TRELLIS_IP_BIN: bin } },
      (e, out, err) => (e !== null ? reject(new Error(`${e.message}: ${err}`)) : resolve(JSON.parse(out))),
    ),
  );
}

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

  it("an ip that cannot be started is code 127 naming it, resolved, not thrown", async () => {
    expect(await runIpWithBin("/nonexistent/trellis-ip")).toEqual({
      code: 127,
      stdout: "",
      stderr: expect.stringMatching(/^\/nonexistent\/trellis-ip: .*ENOENT/),
    });
    // Inside a namespace (this test's own) nsenter starts and then cannot exec ip: its own 127.
    expect(await runIpWithBin("/nonexistent/trellis-ip", `/proc/${process.pid}/ns/net`)).toMatchObject({
      code: 127,
      stderr: expect.stringContaining("/nonexistent/trellis-ip"),
    });
  });
});
