// The control client against a hand-written unix socket server: replies split
// over many chunks parse, and a reply that never ends is cut off at the bound
// instead of growing without limit.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlClientError, controlRequest } from "../control/client.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tBctl-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function serve(path: string, answer: (write: (s: string) => boolean) => void): Promise<Server> {
  const srv = createServer((sock) => {
    sock.on("error", () => undefined);
    sock.once("data", () => answer((s) => sock.write(s)));
  });
  await new Promise<void>((resolve) => srv.listen(path, resolve));
  return srv;
}

describe("controlRequest", () => {
  it("joins a reply that arrives in many chunks", async () => {
    const path = join(dir, "chunks.sock");
    const routes = Array.from({ length: 2000 }, (_, i) => ({ prefix: `10.${i >> 8}.${i & 255}.0/24` }));
    const line = JSON.stringify({ id: 1, ok: true, result: routes }) + "\n";
    const srv = await serve(path, (write) => {
      for (let i = 0; i < line.length; i += 997) write(line.slice(i, i + 997));
    });
    try {
      expect(await controlRequest(path, "routes")).toEqual(routes);
    } finally {
      srv.close();
    }
  });

  it("gives up with TRELLIS_ECTL_TOOBIG when the reply exceeds the bound without a newline", async () => {
    const path = join(dir, "endless.sock");
    const block = "x".repeat(64 * 1024);
    const srv = await serve(path, (write) => {
      for (let i = 0; i < 64; i++) write(block); // 4 MiB, no newline
    });
    try {
      const err = await controlRequest(path, "routes", 5000, 1024 * 1024).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ControlClientError);
      expect((err as ControlClientError).code).toBe("TRELLIS_ECTL_TOOBIG");
    } finally {
      srv.close();
    }
  });
});
