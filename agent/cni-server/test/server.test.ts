// The CNI socket server over a real unix socket: requests answered through the
// spec handler, garbage answered with spec errors (never a crash), bounded
// concurrency with code 11 past the queue, frame timeout, metrics.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBackend } from "../../../cni/test/memory-backend.js";
import { decodeReply, encodeRequest } from "../frame.js";
import { pino } from "pino";
import { CniServer } from "../server.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tCsrv-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Send raw bytes, collect everything until the server closes. */
function exchange(path: string, bytes: Buffer, endWrite = false): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", reject);
    s.on("close", () => resolve(Buffer.concat(chunks)));
    s.write(bytes);
    if (endWrite) s.end();
  });
}

const conf = Buffer.from(JSON.stringify({ cniVersion: "1.1.0", name: "n", type: "trellis" }));
const addEnv = {
  CNI_COMMAND: "ADD",
  CNI_CONTAINERID: "c1",
  CNI_NETNS: "/run/netns/tCx",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/usr/lib/cni",
};

describe("CniServer", () => {
  it("serves ADD and counts it", async () => {
    const srv = new CniServer({ socketPath: join(dir, "a.sock"), backend: new MemoryBackend() });
    await srv.listen();
    try {
      const reply = decodeReply(await exchange(srv.socketPath, encodeRequest({ env: addEnv, stdin: conf })));
      expect(reply?.exitCode).toBe(0);
      expect(JSON.parse(reply?.stdout ?? "")).toMatchObject({ cniVersion: "1.1.0" });
      expect(srv.metrics.count("ADD", "success")).toBe(1);
      const text = await srv.metrics.registry.metrics();
      expect(text).toContain('trellis_cni_operations_total{command="ADD",result="success",code="0"} 1');
      expect(text).toMatch(/trellis_cni_operation_duration_seconds_count\{command="ADD"\} 1/);
    } finally {
      await srv.close();
    }
  });

  it("accepts unknown top-level config keys and logs each once, at debug", async () => {
    const debug: Array<{ obj: object; msg: string | undefined }> = [];
    const warned: string[] = [];
    const log = pino(
      { level: "debug", base: null, timestamp: false },
      {
        write: (line: string) => {
          const { level, msg, ...obj } = JSON.parse(line) as { level: number; msg?: string };
          if (level === pino.levels.values["warn"]) warned.push(msg ?? "");
          // (Each request's own timing line, "CNI request", is not what this test is about.)
          if (level === pino.levels.values["debug"] && msg !== "CNI request") debug.push({ obj, msg });
        },
      },
    );
    const srv = new CniServer({ socketPath: join(dir, "keys.sock"), backend: new MemoryBackend(), log });
    await srv.listen();
    try {
      const withKeys = (id: string, extra: Record<string, unknown>): Buffer =>
        encodeRequest({
          env: { ...addEnv, CNI_CONTAINERID: id },
          stdin: Buffer.from(JSON.stringify({ cniVersion: "1.1.0", name: "n", type: "trellis", ...extra })),
        });
      const a = { "cni.dev/pod-uid": "u1", multusNetwork: "x" };
      for (const id of ["k1", "k2"]) {
        const reply = decodeReply(await exchange(srv.socketPath, withKeys(id, a)));
        expect(reply?.exitCode).toBe(0);
      }
      const reply = decodeReply(await exchange(srv.socketPath, withKeys("k3", { ...a, other: 1 })));
      expect(reply?.exitCode).toBe(0);
      expect(debug).toEqual([
        { obj: { keys: ["cni.dev/pod-uid", "multusNetwork"] }, msg: expect.stringMatching(/unknown/) },
        { obj: { keys: ["other"] }, msg: expect.stringMatching(/unknown/) },
      ]);
      expect(warned).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  it("logs where each request's time went, at debug: receive, queue, handler, reply", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: "debug", base: null, timestamp: false },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const srv = new CniServer({ socketPath: join(dir, "timing.sock"), backend: new MemoryBackend(), log });
    await srv.listen();
    try {
      const reply = decodeReply(await exchange(srv.socketPath, encodeRequest({ env: addEnv, stdin: conf })));
      expect(reply?.exitCode).toBe(0);
      const t = lines.find((l) => l["msg"] === "CNI request");
      expect(t).toMatchObject({ command: "ADD" });
      for (const k of ["receiveMs", "queuedMs", "handleMs", "replyMs"])
        expect(t?.[k]).toBeGreaterThanOrEqual(0);
    } finally {
      await srv.close();
    }
  });

  it("refuses a socket path that is somebody's file, and leaves the file alone", async () => {
    const path = join(dir, "precious");
    writeFileSync(path, "precious\n");
    const srv = new CniServer({ socketPath: path, backend: new MemoryBackend() });
    await expect(srv.listen()).rejects.toThrow(`cniSocket ${path}: exists and is not a socket`);
    await srv.close();
    expect(existsSync(path)).toBe(true);
    expect(readFileSync(path, "utf8")).toBe("precious\n");
  });

  it("replaces a stale socket left by an earlier run and removes it on close", async () => {
    const path = join(dir, "stale.sock");
    // A crashed agent leaves its bound socket file behind (nothing listens on it).
    execFileSync("python3", [
      "-c",
      "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      path,
    ]);
    expect(lstatSync(path).isSocket()).toBe(true);
    const srv = new CniServer({ socketPath: path, backend: new MemoryBackend() });
    await srv.listen();
    expect(srv.listening).toBe(true);
    await srv.close();
    expect(existsSync(path)).toBe(false);
  });

  it("answers a client that half-closes after its request", async () => {
    const srv = new CniServer({ socketPath: join(dir, "h.sock"), backend: new MemoryBackend() });
    await srv.listen();
    try {
      const frame = encodeRequest({ env: { CNI_COMMAND: "VERSION" }, stdin: Buffer.alloc(0) });
      const reply = decodeReply(await exchange(srv.socketPath, frame, true));
      expect(reply?.exitCode).toBe(0);
      expect(JSON.parse(reply?.stdout ?? "")).toHaveProperty("supportedVersions");
    } finally {
      await srv.close();
    }
  });

  it("answers garbage with a spec error (code 6) and keeps serving", async () => {
    const srv = new CniServer({ socketPath: join(dir, "g.sock"), backend: new MemoryBackend() });
    await srv.listen();
    try {
      for (const junk of [
        Buffer.from("GET / HTTP/1.0\r\n\r\n"),
        Buffer.from([0xff, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
      ]) {
        const reply = decodeReply(await exchange(srv.socketPath, junk));
        expect(reply?.exitCode).toBe(1);
        expect(JSON.parse(reply?.stdout ?? "")).toMatchObject({ code: 6 });
      }
      // A client that sends half a frame and hangs up: nothing to answer, no crash.
      await exchange(srv.socketPath, encodeRequest({ env: addEnv, stdin: conf }).subarray(0, 20), true);
      const ok = decodeReply(
        await exchange(
          srv.socketPath,
          encodeRequest({ env: { CNI_COMMAND: "VERSION" }, stdin: Buffer.alloc(0) }),
        ),
      );
      expect(ok?.exitCode).toBe(0);
      expect(srv.metrics.rejections("malformed")).toBe(2);
      expect(srv.metrics.rejections("truncated")).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it("times out an incomplete frame with a spec error", async () => {
    const srv = new CniServer({
      socketPath: join(dir, "t.sock"),
      backend: new MemoryBackend(),
      frameTimeoutMs: 100,
    });
    await srv.listen();
    try {
      const reply = decodeReply(await exchange(srv.socketPath, Buffer.from("TRL1")));
      expect(JSON.parse(reply?.stdout ?? "")).toMatchObject({
        code: 6,
        msg: expect.stringMatching(/not complete in time/),
      });
      expect(srv.metrics.rejections("timeout")).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it("bounds concurrency and answers code 11 past the queue", async () => {
    let running = 0;
    let peak = 0;
    const release: Array<() => void> = [];
    const srv = new CniServer({
      socketPath: join(dir, "c.sock"),
      backend: new MemoryBackend(),
      maxConcurrent: 2,
      maxQueued: 3,
      handle: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => release.push(r));
        running--;
        return { exitCode: 0, stdout: "", command: "DEL" };
      },
    });
    await srv.listen();
    try {
      const frame = encodeRequest({ env: { CNI_COMMAND: "DEL" }, stdin: conf });
      const pending = Array.from({ length: 7 }, () => exchange(srv.socketPath, frame));
      // 2 run, 3 queue, 2 are refused at once with code 11.
      const settled: Buffer[] = [];
      for (const p of pending) void p.then((b) => settled.push(b));
      while (settled.length < 2) await new Promise((r) => setTimeout(r, 10));
      for (const b of settled) expect(JSON.parse(decodeReply(b)?.stdout ?? "")).toMatchObject({ code: 11 });
      expect(srv.metrics.inFlight).toBe(2);
      expect(srv.metrics.queued).toBe(3);
      while (settled.length < 7) {
        release.shift()?.();
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(peak).toBe(2);
      expect(srv.metrics.count("DEL", "success")).toBe(5);
      expect(srv.metrics.rejections("busy")).toBe(2);
    } finally {
      await srv.close();
    }
  });

  it("replaces a stale socket file and removes it on close", async () => {
    const path = join(dir, "s.sock");
    const a = new CniServer({ socketPath: path, backend: new MemoryBackend() });
    await a.listen();
    // Simulate a crash: the file stays behind while nobody listens.
    const b = new CniServer({ socketPath: path, backend: new MemoryBackend() });
    await a.close();
    await b.listen();
    const reply = decodeReply(
      await exchange(path, encodeRequest({ env: { CNI_COMMAND: "VERSION" }, stdin: Buffer.alloc(0) })),
    );
    expect(reply?.exitCode).toBe(0);
    await b.close();
  });
});
