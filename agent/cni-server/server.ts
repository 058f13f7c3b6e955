// The agent's CNI socket server: one request frame per connection from the
// exec'd shim (cni/shim/PROTOCOL.md), handled by the spec layer (cni/handler.ts)
// over the agent's backend, answered with one reply frame. Bounded: at most
// `maxConcurrent` requests run at once, `maxQueued` wait, the rest are told to
// try again later (code 11); a frame must arrive within `frameTimeoutMs`.
// Garbage never crashes it: every malformed frame gets a spec error reply.
import { mkdirSync, lstatSync, unlinkSync, chmodSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import { performance } from "node:perf_hooks";
import type { Logger } from "pino";
import type { CniBackend } from "../../cni/backend.js";
import { CniCode, CniError } from "../../cni/error.js";
import { handleCni, type HandlerOutcome } from "../../cni/handler.js";
import { CURRENT_VERSION } from "../../cni/versions.js";
import { decodeRequest, encodeReply, MAX_REQUEST, type ShimRequest } from "./frame.js";
import { CniMetrics } from "./metrics.js";

/** Distinct unknown config keys remembered for "log once" (a bound on memory). */
const MAX_LOGGED_UNKNOWN_KEYS = 256;

export interface CniServerOptions {
  socketPath: string;
  backend: CniBackend;
  metrics?: CniMetrics;
  /** Requests handled at once (default 16). */
  maxConcurrent?: number;
  /** Requests waiting for a slot before new ones get code 11 (default 512). */
  maxQueued?: number;
  /** Time allowed to receive a whole request frame (default 10 s). */
  frameTimeoutMs?: number;
  log?: Logger;
  /** Replace the spec handler (benchmarks measure the transport alone). */
  handle?: (env: Record<string, string>, stdin: Buffer) => Promise<HandlerOutcome>;
}

function errorReply(code: number, msg: string): Buffer {
  return encodeReply(1, JSON.stringify(new CniError(code, msg).toJSON(CURRENT_VERSION)));
}

/** The configured socket path cannot be used: a configuration error (exit 2), not a runtime one. */
export class SocketPathError extends Error {
  override readonly name = "SocketPathError";
}

export class CniServer {
  readonly metrics: CniMetrics;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  /** Set once listen() bound the path: close() removes only a socket it made. */
  private ownsSocket = false;
  private readonly queue: Array<() => void> = [];
  private running = 0;
  private readonly maxConcurrent: number;
  private readonly maxQueued: number;
  private readonly frameTimeoutMs: number;
  private readonly handle: (env: Record<string, string>, stdin: Buffer) => Promise<HandlerOutcome>;
  /** Unknown top-level config keys already logged (each once per process). */
  private readonly loggedUnknownKeys = new Set<string>();

  constructor(private readonly opts: CniServerOptions) {
    this.metrics = opts.metrics ?? new CniMetrics();
    this.maxConcurrent = opts.maxConcurrent ?? 16;
    this.maxQueued = opts.maxQueued ?? 512;
    this.frameTimeoutMs = opts.frameTimeoutMs ?? 10_000;
    this.handle =
      opts.handle ??
      ((env, stdin) =>
        handleCni(env, stdin, opts.backend, {
          onError: (err, command) =>
            opts.log?.warn({ command, code: err.code, details: err.details }, err.message),
          onUnknownKeys: (keys) => this.logUnknownKeys(keys),
        }));
    // allowHalfOpen: a client that shuts down its write side after the request
    // (socat, scripts) still gets its reply; we end the socket ourselves.
    this.server = createServer({ allowHalfOpen: true }, (s) => this.accept(s));
    // Connections past every slot and queue place plus a margin are refused by
    // the kernel-facing side at once (the shim answers 11), so a flood of idle
    // connections cannot pin memory until their frame timeouts.
    this.server.maxConnections = this.maxConcurrent + this.maxQueued + 64;
    this.server.on("error", (e) => opts.log?.error({ err: e.message }, "cni server error"));
  }

  /**
   * Unknown top-level keys in an accepted network config are normal (runtimes
   * and meta-plugins add their own): log each key once, at debug, not per ADD.
   */
  private logUnknownKeys(keys: string[]): void {
    const fresh = keys.filter((k) => !this.loggedUnknownKeys.has(k));
    if (fresh.length === 0 || this.loggedUnknownKeys.size >= MAX_LOGGED_UNKNOWN_KEYS) return;
    for (const k of fresh) this.loggedUnknownKeys.add(k);
    this.opts.log?.debug({ keys: fresh }, "network config: ignoring unknown top-level keys");
  }

  /** True while accepting connections (the agent's /readyz asks). */
  get listening(): boolean {
    return this.server.listening;
  }

  get socketPath(): string {
    return this.opts.socketPath;
  }

  /** Listen on the socket path (its directory is created; a stale socket replaced). */
  async listen(): Promise<void> {
    const path = this.opts.socketPath;
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new SocketPathError(`cniSocket ${path}: cannot create its directory (${code})`);
    }
    // A stale socket from an earlier run is ours to replace; anything else at
    // that path is somebody's file, and a bad flag must never delete it.
    let existing: ReturnType<typeof lstatSync> | undefined;
    try {
      existing = lstatSync(path);
    } catch {
      existing = undefined; // absent: fine
    }
    if (existing !== undefined) {
      if (!existing.isSocket()) throw new SocketPathError(`cniSocket ${path}: exists and is not a socket`);
      unlinkSync(path);
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(path, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.ownsSocket = true;
    chmodSync(path, 0o660);
    this.opts.log?.info({ socket: path }, "cni server listening");
  }

  /** Stop accepting, drop open connections, remove the socket file. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Only the socket this server bound: after a failed listen the path may be
    // another process's socket or a user's file.
    if (!this.ownsSocket) return;
    this.ownsSocket = false;
    try {
      if (lstatSync(this.opts.socketPath).isSocket()) unlinkSync(this.opts.socketPath);
    } catch {
      // already gone
    }
  }

  private accept(sock: Socket): void {
    const accepted = performance.now();
    this.sockets.add(sock);
    const chunks: Buffer[] = [];
    let size = 0;
    // Bytes needed before decoding is worth trying again: a 16 MiB stdin
    // arrives in many chunks, and re-joining them on each would be quadratic.
    let need = 0;
    let done = false;
    const finish = (reply: Buffer | undefined): void => {
      done = true;
      clearTimeout(timer);
      sock.removeAllListeners("data");
      if (reply !== undefined && !sock.destroyed) sock.end(reply);
      else sock.destroy();
    };
    const timer = setTimeout(() => {
      if (done) return;
      this.metrics.reject("timeout");
      finish(errorReply(CniCode.DecodingFailure, "failed to decode request: frame not complete in time"));
    }, this.frameTimeoutMs);
    sock.on("error", () => {
      // peer gone: the reply, if any, is dropped; nothing else to do
    });
    sock.on("end", () => {
      // The client finished sending: without a whole frame it has given up.
      if (!done) {
        this.metrics.reject("truncated");
        finish(undefined);
      }
    });
    sock.on("close", () => {
      clearTimeout(timer);
      this.sockets.delete(sock);
    });
    sock.on("data", (chunk: Buffer) => {
      if (done) return;
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_REQUEST) {
        this.metrics.reject("malformed");
        finish(errorReply(CniCode.DecodingFailure, "failed to decode request: frame too large"));
        return;
      }
      if (size < need) return;
      const buf = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
      chunks.length = 0;
      chunks.push(buf);
      const r = decodeRequest(buf);
      if (r.kind === "incomplete") {
        need = r.need;
        return;
      }
      if (r.kind === "error") {
        this.metrics.reject("malformed");
        finish(errorReply(CniCode.DecodingFailure, `failed to decode request: ${r.message}`));
        return;
      }
      done = true;
      clearTimeout(timer);
      sock.removeAllListeners("data");
      this.schedule(sock, r.request, accepted, performance.now());
    });
  }

  private schedule(sock: Socket, req: ShimRequest, accepted: number, decoded: number): void {
    const run = (): void => {
      this.running++;
      this.metrics.inFlight = this.running;
      void this.serve(sock, req, accepted, decoded).finally(() => {
        this.running--;
        this.metrics.inFlight = this.running;
        const next = this.queue.shift();
        this.metrics.queued = this.queue.length;
        next?.();
      });
    };
    if (this.running < this.maxConcurrent) return run();
    if (this.queue.length >= this.maxQueued) {
      this.metrics.reject("busy");
      if (!sock.destroyed) {
        sock.end(errorReply(CniCode.TryAgainLater, "trellis agent busy: too many CNI requests queued"));
      }
      return;
    }
    this.queue.push(run);
    this.metrics.queued = this.queue.length;
  }

  private async serve(sock: Socket, req: ShimRequest, accepted: number, decoded: number): Promise<void> {
    const t0 = performance.now();
    let out: HandlerOutcome;
    try {
      out = await this.handle(req.env, req.stdin);
    } catch (e) {
      // handleCni never throws; a replaced handler might.
      const err = new CniError(CniCode.Internal, `internal error: ${(e as Error).message}`);
      out = { exitCode: 1, stdout: JSON.stringify(err.toJSON(CURRENT_VERSION)), errorCode: err.code };
    }
    const command = out.command ?? "INVALID";
    this.metrics.observe(
      command,
      out.exitCode === 0 ? 0 : (out.errorCode ?? 999),
      (performance.now() - t0) / 1000,
    );
    const t1 = performance.now();
    const reply = encodeReply(out.exitCode, out.stdout);
    if (!sock.destroyed) sock.end(reply);
    // Where a request's time goes inside the agent (the CNI benchmark's breakdown): the frame's
    // arrival from accept, the wait for a slot, the handler, the reply's encoding and write;
    // accept and the handler's answer also as wall-clock ms, to lay beside the
    // runtime's own timeline (the shim may exit before the write returns here).
    this.opts.log?.debug(
      {
        command,
        receiveMs: decoded - accepted,
        queuedMs: t0 - decoded,
        handleMs: t1 - t0,
        replyMs: performance.now() - t1,
        acceptedAt: performance.timeOrigin + accepted,
        answeredAt: performance.timeOrigin + t1,
      },
      "CNI request",
    );
  }
}
