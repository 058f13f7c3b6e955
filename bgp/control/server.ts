/**
 * Serves the control protocol (protocol.ts) on a unix socket. Requests are
 * validated with zod; a handler error becomes an error response, never a
 * crash of the daemon.
 */
import { createServer, type Server, type Socket } from "node:net";
import { lstatSync, mkdirSync, rmSync, type Stats } from "node:fs";
import { dirname } from "node:path";
import { MAX_REQUEST_LINE, requestSchema, type ControlResponse, type Method } from "./protocol.js";

export type ControlHandler = (method: Method) => unknown;

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

export class ControlServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly path: string,
    private readonly handler: ControlHandler,
  ) {
    this.server = createServer((sock) => this.accept(sock));
  }

  static async listen(path: string, handler: ControlHandler): Promise<ControlServer> {
    const s = new ControlServer(path, handler);
    mkdirSync(dirname(path), { recursive: true });
    // A socket file left by a crashed run would make listen fail with EADDRINUSE.
    // Only a socket is removed: a mistyped path must never delete a user's file.
    const old = lstatOrUndefined(path);
    if (old && !old.isSocket()) throw new Error(`${path} exists and is not a socket; refusing to replace it`);
    if (old) rmSync(path, { force: true });
    await new Promise<void>((resolve, reject) => {
      s.server.once("error", reject);
      s.server.listen(path, () => {
        s.server.off("error", reject);
        resolve();
      });
    });
    return s;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private accept(sock: Socket): void {
    this.sockets.add(sock);
    sock.on("close", () => this.sockets.delete(sock));
    sock.on("error", () => sock.destroy());
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.trim() !== "") sock.write(JSON.stringify(this.answer(line)) + "\n");
      }
      if (buf.length > MAX_REQUEST_LINE) {
        sock.end(JSON.stringify(fail(undefined, "TRELLIS_ECTL_TOOLONG", "request line too long")) + "\n");
      }
    });
  }

  private answer(line: string): ControlResponse {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      return fail(undefined, "TRELLIS_ECTL_JSON", "request is not valid JSON");
    }
    const r = requestSchema.safeParse(json);
    const id = idOf(json);
    if (!r.success) {
      const i = r.error.issues[0];
      return fail(
        id,
        "TRELLIS_ECTL_REQUEST",
        `${i?.path.join(".") || "request"}: ${i?.message ?? "invalid"}`,
      );
    }
    try {
      const result = this.handler(r.data.method);
      return id === undefined ? { ok: true, result } : { id, ok: true, result };
    } catch (e) {
      return fail(id, "TRELLIS_ECTL_INTERNAL", e instanceof Error ? e.message : String(e));
    }
  }
}

function idOf(json: unknown): number | string | undefined {
  if (json && typeof json === "object" && "id" in json) {
    const id = (json as { id: unknown }).id;
    if (typeof id === "number" || typeof id === "string") return id;
  }
  return undefined;
}

function fail(id: number | string | undefined, code: string, message: string): ControlResponse {
  return id === undefined
    ? { ok: false, error: { code, message } }
    : { id, ok: false, error: { code, message } };
}
