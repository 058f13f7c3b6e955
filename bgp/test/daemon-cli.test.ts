import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// The trellis-bgp executable with hostile or minimal configuration files:
// exit codes and messages as bgp/bin/trellis-bgp.ts documents them.
const bin = fileURLToPath(new URL("../bin/trellis-bgp.js", import.meta.url));
let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "trellis-bgp-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  err: string;
  aliveAfterStart: boolean;
}

/** Start the daemon; once it logs "started", wait `settleMs`, note whether it still runs, then SIGTERM it. */
function run(config: string, settleMs = 600): Promise<Run> {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, config);
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, "--config", file], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    let exited = false;
    let alive = false;
    const killer = setTimeout(() => p.kill("SIGKILL"), 15_000);
    p.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (err.includes("trellis-bgp started") && !alive)
        setTimeout(() => {
          alive = !exited;
          p.kill("SIGTERM");
        }, settleMs);
    });
    p.on("exit", (code) => {
      exited = true;
      clearTimeout(killer);
      resolve({ code, err, aliveAfterStart: alive });
    });
  });
}

describe("trellis-bgp daemon with hostile or minimal config", () => {
  it("a control.socket path that is a regular file: exit 2 naming the field, the file kept", async () => {
    const victim = join(dir, "precious.txt");
    writeFileSync(victim, "keep me\n");
    const r = await run(`asn: 65001\nrouterId: 192.0.2.1\ncontrol: { socket: ${victim} }\n`);
    expect(r.code).toBe(2);
    expect(r.err).toContain("control.socket: ");
    expect(r.err).toContain("is not a socket");
    expect(readFileSync(victim, "utf8")).toBe("keep me\n");
  }, 20_000);

  it("no peers, no listener, no control socket: the daemon waits for a signal, SIGTERM exits 0", async () => {
    const r = await run("asn: 65001\nrouterId: 192.0.2.1\n");
    expect(r.aliveAfterStart).toBe(true);
    expect(r.code).toBe(0);
  }, 20_000);

  it("a metricsAddress already in use: exit 2 naming the field and the reason", async () => {
    const { createServer } = await import("node:net");
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await run(`asn: 65001\nrouterId: 192.0.2.1\nmetricsAddress: "127.0.0.1:${port}"\n`);
      expect(r.code).toBe(2);
      expect(r.err).toContain(`metricsAddress: "127.0.0.1:${port}": cannot listen: EADDRINUSE`);
    } finally {
      busy.close();
    }
  }, 20_000);

  it("a metricsAddress that is not HOST:PORT: exit 2 before anything starts", async () => {
    const r = await run('asn: 65001\nrouterId: 192.0.2.1\nmetricsAddress: "::1:9179"\n');
    expect(r.code).toBe(2);
    expect(r.err).toContain("metricsAddress: ");
    expect(r.err).toContain("in brackets");
  }, 20_000);
});
