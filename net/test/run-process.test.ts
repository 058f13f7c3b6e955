import { describe, it, expect, beforeAll, afterAll } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { inNetns, netnsPath } from "../netns-path.js";
import { runProcess } from "../run-process.js";
import { recreateNetns } from "./netns.js";

describe("netnsPath: a namespace by name or by path (ip-netns(8))", () => {
  const cases: [string, string | undefined, string | null][] = [
    ["a name is a file under /var/run/netns", "node-1", "/var/run/netns/node-1"],
    ["a path is taken as it is", "/proc/42/ns/net", "/proc/42/ns/net"],
    ["no name is our own namespace", undefined, null],
    ["an empty name is our own namespace", "", null],
  ];
  it.each(cases)("%s", (_rule, ns, want) => {
    expect(netnsPath(ns)).toBe(want);
  });

  it("inNetns wraps a command in nsenter only when a namespace is named", () => {
    expect(inNetns("n1", ["nft", "-j", "-i"])).toEqual([
      "nsenter",
      "--net=/var/run/netns/n1",
      "--",
      "nft",
      "-j",
      "-i",
    ]);
    expect(inNetns(undefined, ["nft", "-j", "-i"])).toEqual(["nft", "-j", "-i"]);
  });
});

describe("runProcess: one run to completion, output captured", () => {
  it("gives the exit code, stdout and stderr, whatever the code", async () => {
    const r = await runProcess(["sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r).toEqual({ code: 3, signal: null, stdout: "out\n", stderr: "err\n", timedOut: false });
  });

  it("writes `input` to stdin and closes it", async () => {
    expect((await runProcess(["cat"], { input: "a\nb\n" })).stdout).toBe("a\nb\n");
    // No input: stdin is closed at once, so a reader of stdin ends.
    expect(await runProcess(["cat"])).toEqual({
      code: 0,
      signal: null,
      stdout: "",
      stderr: "",
      timedOut: false,
    });
  });

  it("kills it after timeoutMs (code -1), well before it would end", async () => {
    const t0 = Date.now();
    const r = await runProcess(["sleep", "30"], { timeoutMs: 100 });
    expect([r.code, r.signal, r.timedOut]).toEqual([-1, "SIGKILL", true]);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("writes bytes as given, and keeps at most maxStdoutChars/maxStderrChars of each", async () => {
    expect(
      (await runProcess(["od", "-An", "-tx1"], { input: Uint8Array.of(0xff, 0x00) })).stdout.trim(),
    ).toBe("ff 00");
    const r = await runProcess(["sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a; echo error >&2"], {
      maxStdoutChars: 10,
      maxStderrChars: 3,
    });
    expect([r.stdout, r.stderr, r.code]).toEqual(["aaaaaaaaaa", "err", 0]);
  });

  it("runs with the environment given", async () => {
    expect(
      (await runProcess(["sh", "-c", "echo $TRELLIS_RUN_TEST"], { env: { TRELLIS_RUN_TEST: "x1" } })).stdout,
    ).toBe("x1\n");
  });

  it("rejects with Node's error when the program cannot be started", async () => {
    await expect(runProcess(["/nonexistent/trellis-no-such-tool"])).rejects.toMatchObject({ code: "ENOENT" });
  });

  describe("in a named network namespace", () => {
    const ns = `trl-runproc-${process.pid}`;
    // A link name no other namespace has, so only the one named here can show it.
    const dev = `trp${process.pid}`;
    const peer = `trq${process.pid}`;
    beforeAll(() => {
      recreateNetns(ns);
      execFileSync("ip", ["-n", ns, "link", "add", dev, "type", "veth", "peer", "name", peer]);
    });
    afterAll(() => {
      execFileSync("ip", ["netns", "del", ns]);
    });

    it("runs there (through nsenter): it sees that namespace's links, not ours", async () => {
      const there = await runProcess(["ip", "-o", "link", "show", dev], { netns: ns });
      expect(there.code).toBe(0);
      expect(there.stdout).toContain(`${dev}@${peer}`);
      const here = await runProcess(["ip", "-o", "link", "show", dev]);
      expect(here.code).not.toBe(0);
    });

    it("refuses an empty command there too (nsenter with no program would start a shell)", async () => {
      await expect(runProcess([], { netns: ns })).rejects.toThrow("runProcess: empty argv");
      await expect(runProcess([])).rejects.toThrow("runProcess: empty argv");
    });

    it("a program missing there ends with nsenter's 127, named on stderr", async () => {
      const r = await runProcess(["/nonexistent/trellis-no-such-tool"], { netns: ns });
      expect(r.code).toBe(127);
      expect(r.stderr).toContain("/nonexistent/trellis-no-such-tool");
    });

    it("a program that exits without reading a large input still ends (no EPIPE to us)", async () => {
      const r = await runProcess(["true"], { netns: ns, input: "x".repeat(1 << 20) });
      expect(r.code).toBe(0);
    });
  });
});
