import { describe, it, expect, afterEach } from "@jest/globals";
import {
  IP_BATCH_PROTOCOL,
  LineSession,
  NFT_INTERACTIVE_PROTOCOL,
  type FenceProtocol,
  type OutputLine,
} from "../line-session.js";

describe("fence protocols read one output line", () => {
  const cases: [string, (l: string) => OutputLine, string, OutputLine][] = [
    [
      "ip: a failure names its input line",
      IP_BATCH_PROTOCOL.read,
      "Command failed -:7",
      { kind: "failed", line: 7 },
    ],
    [
      "ip: anything else is message text",
      IP_BATCH_PROTOCOL.read,
      "RTNETLINK answers: File exists",
      { kind: "text" },
    ],
    [
      "nft: the marker echo is the fence",
      NFT_INTERACTIVE_PROTOCOL.read,
      "trellis-ack-12",
      { kind: "fence", seq: 12, ownMessages: 1 },
    ],
    ["nft: a caret line is noise", NFT_INTERACTIVE_PROTOCOL.read, "    ^^^^^", { kind: "ignore" }],
    ["nft: a blank line is noise", NFT_INTERACTIVE_PROTOCOL.read, "", { kind: "ignore" }],
    [
      "nft: an error is message text",
      NFT_INTERACTIVE_PROTOCOL.read,
      "internal:0:0-0: Error: No such file",
      { kind: "text" },
    ],
  ];
  it.each(cases)("%s", (_rule, read, line, want) => {
    expect(read(line)).toEqual(want);
  });
  it("the ip fence is a device name longer than IFNAMSIZ (it can never exist)", () => {
    const dev = IP_BATCH_PROTOCOL.fence({ seq: 1, line: 1 }).split(" ").pop() ?? "";
    expect(dev.length).toBeGreaterThan(15);
  });
});

// The real iproute2, read-only commands in our own namespace: no root needed.
describe("LineSession on `ip -force -batch -`", () => {
  let s: LineSession | undefined;
  const ip = (o: Partial<ConstructorParameters<typeof LineSession>[0]> = {}): LineSession =>
    (s = new LineSession({ argv: ["ip", "-force", "-batch", "-"], protocol: IP_BATCH_PROTOCOL, ...o }));
  afterEach(async () => {
    await s?.close();
  });

  it("a clean batch resolves with no failures", async () => {
    expect(await ip().run(["link show dev lo", "addr show dev lo"])).toEqual({ failures: [], messages: [] });
  });

  it("each failure is attributed to its line within the batch", async () => {
    const r = await ip().run([
      "link show dev lo",
      "link show dev tRLSnone0",
      "link show dev lo",
      "link show dev tRLSnone1",
    ]);
    expect(r.failures.map((f) => f.index)).toEqual([1, 3]);
    expect(r.failures[0]?.message).toMatch(/tRLSnone0/);
  });

  it("batches pipelined on one process resolve in order, each with its own failures", async () => {
    const sess = ip();
    const [a, b, c] = await Promise.all([
      sess.run(["link show dev tRLSnone2"]),
      sess.run(["link show dev lo"]),
      sess.run(["link show dev lo", "link show dev tRLSnone3"]),
    ]);
    expect(a.failures.map((f) => f.index)).toEqual([0]);
    expect(b.failures).toEqual([]);
    expect(c.failures.map((f) => f.index)).toEqual([1]);
  });

  it("restarts after the process dies", async () => {
    const sess = ip();
    await sess.run(["link show dev lo"]);
    const first = sess.pid as number;
    process.kill(first, "SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
    expect(await sess.run(["link show dev lo"])).toEqual({ failures: [], messages: [] });
    expect(sess.pid).not.toBe(first);
  });

  it("refuses a batch beyond maxQueued, at once", async () => {
    const sess = ip({ maxQueued: 1 });
    const first = sess.run(["link show dev lo"]);
    await expect(sess.run(["link show dev lo"])).rejects.toMatchObject({ code: "TRELLIS_ELINESESSION_FULL" });
    await first;
  });

  it("recycles its process after maxBatches, between batches", async () => {
    const sess = ip({ maxBatches: 2 });
    await sess.run(["link show dev lo"]);
    const first = sess.pid;
    await sess.run(["link show dev lo"]);
    expect(sess.pid).toBe(first);
    await sess.run(["link show dev lo"]);
    expect(sess.pid).not.toBe(first);
  });

  it("refuses a line with a newline in it", async () => {
    await expect(ip().run(["link show\ndev lo"])).rejects.toMatchObject({
      code: "TRELLIS_ELINESESSION_NEWLINE",
    });
  });

  it("after close, refuses new batches", async () => {
    const sess = ip();
    await sess.run(["link show dev lo"]);
    await sess.close();
    expect(sess.pid).toBeUndefined();
    await expect(sess.run(["link show dev lo"])).rejects.toMatchObject({
      code: "TRELLIS_ELINESESSION_CLOSED",
    });
  });
});

describe("LineSession reading stdout (a shell job protocol)", () => {
  // `cat` echoes every line: text lines come back as messages, the fence as the fence.
  const ECHO: FenceProtocol = {
    fence: ({ seq }) => `fence-${seq}`,
    read: (line) =>
      /^fence-\d+$/.test(line)
        ? { kind: "fence", seq: Number(line.slice(6)), ownMessages: 0 }
        : { kind: "text" },
  };
  it("gathers each batch's output up to its fence", async () => {
    const s = new LineSession({ argv: ["cat"], protocol: ECHO, output: "stdout" });
    const [a, b] = await Promise.all([s.run(["one", "two"]), s.run(["three"])]);
    expect(a).toEqual({ failures: [], messages: ["one", "two"] });
    expect(b).toEqual({ failures: [], messages: ["three"] });
    await s.close();
  });
});

describe("LineSession timeouts and deaths", () => {
  it("a batch without its fence in timeoutMs kills the process and rejects", async () => {
    // `cat` answers nothing on stderr: the fence never comes.
    const s = new LineSession({ argv: ["cat"], protocol: IP_BATCH_PROTOCOL, timeoutMs: 100 });
    await expect(s.run(["x"])).rejects.toMatchObject({ code: "TRELLIS_ELINESESSION_TIMEOUT" });
    expect(s.pid).toBeUndefined();
    await s.close();
  });

  it("a process that exits under a batch rejects it (its outcome is unknown)", async () => {
    const s = new LineSession({ argv: ["true"], protocol: IP_BATCH_PROTOCOL });
    await expect(s.run(["x"])).rejects.toMatchObject({ code: "TRELLIS_ELINESESSION_EXITED" });
    await s.close();
  });

  it("a command that cannot start rejects, and says which", async () => {
    const s = new LineSession({ argv: ["/nonexistent/trellis-tool"], protocol: IP_BATCH_PROTOCOL });
    await expect(s.run(["x"])).rejects.toThrow(/trellis-tool/);
    await s.close();
  });
});
