/**
 * The HTTP shell of the lab API server: plain HTTP on TCP and, when asked,
 * on a unix socket (the lab's node namespaces reach it through a socat relay
 * to that socket). Everything Kubernetes-specific lives in api.ts; this file
 * reads bodies, writes responses, streams watches, and loads/saves state.
 * With a state dir, no response and no watch event leaves before the
 * changes it reflects are on disk (persistence.ts): a client is never told
 * about a write, or a resourceVersion, that a crash could take back.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { rm } from "node:fs/promises";
import type { Socket } from "node:net";
import { pino, type Logger } from "pino";
import { KubeApi } from "./api.js";
import { ApiError } from "./status.js";
import { readCrdManifests } from "./crd-manifests.js";
import { openPersistence, type Persistence } from "./persistence.js";

export interface ApiServerOptions {
  address?: string;
  port?: number;
  unixSocket?: string;
  stateDir?: string;
  crdDirs?: string[];
  historySize?: number;
  logLevel?: string;
  /** Interval of watch BOOKMARK events for clients that allow them (default 15 s). */
  bookmarkIntervalMs?: number;
  /**
   * With stateDir: compact the write-ahead log into the snapshot this often
   * when it holds anything (default 30 s; 0 = by size and on close only).
   * Every change is durable before it is answered either way.
   */
  stateSaveIntervalMs?: number;
  /** With stateDir: also compact once the log is this big (default 16 MiB). */
  compactBytes?: number;
  /** Use this logger instead of a pino logger on stderr. */
  logger?: Logger;
}

export interface RunningApiServer {
  url: string;
  port: number;
  close(): Promise<void>;
  /** The write-ahead log (with stateDir): commits, records, compactions. */
  persistence?: Persistence;
}

/** Request bodies above this size get 413, as upstream (3 MiB). */
const MAX_BODY = 3 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ApiError(413, "RequestEntityTooLarge", "the request body is too large"));
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<RunningApiServer> {
  const log =
    opts.logger ??
    pino(
      { level: opts.logLevel ?? "info", base: { component: "apiserver", pid: process.pid } },
      pino.destination(2),
    );
  const address = opts.address ?? "127.0.0.1";
  const api = new KubeApi({
    historySize: opts.historySize ?? 10_000,
    logger: log,
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 15_000,
  });
  const persist =
    opts.stateDir === undefined
      ? undefined
      : await openPersistence(api, {
          dir: opts.stateDir,
          log,
          ...(opts.stateSaveIntervalMs !== undefined ? { compactIntervalMs: opts.stateSaveIntervalMs } : {}),
          ...(opts.compactBytes !== undefined ? { compactBytes: opts.compactBytes } : {}),
        });
  if (persist?.restored !== true) api.createDefaultNamespaces();
  for (const crd of await readCrdManifests(opts.crdDirs ?? [])) api.applyCrd(crd);

  const stops = new Set<() => void>();
  const sockets = new Set<Socket>();

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      const url = new URL(req.url ?? "/", "http://lab");
      let body: Buffer;
      try {
        body = await readBody(req);
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(400, "BadRequest", (e as Error).message);
        res.writeHead(err.code, { "Content-Type": "application/json" });
        res.end(JSON.stringify(err.toStatus()));
        return;
      }
      const apiReq = {
        method: req.method ?? "GET",
        path: url.pathname,
        query: url.searchParams,
        body,
        ...(req.headers.accept !== undefined ? { accept: req.headers.accept } : {}),
        ...(req.headers["content-type"] !== undefined ? { contentType: req.headers["content-type"] } : {}),
      };
      const result = api.handle(apiReq);
      // Group commit: whatever this turn changed (this request's writes and
      // others') is fsync'd once; reads wait too when they show a pending rv.
      if (persist !== undefined && !persist.isDurable(persist.seq)) {
        try {
          await persist.whenDurable(persist.seq);
        } catch (e) {
          log.error({ err: e }, "the write-ahead log failed: refusing to answer as if the change were saved");
          const err = new ApiError(500, "InternalError", "the API server could not save its state");
          res.writeHead(err.code, { "Content-Type": "application/json" });
          res.end(JSON.stringify(err.toStatus()));
          return;
        }
      }
      if (result.kind === "response") {
        log.debug({ method: apiReq.method, path: req.url, status: result.status }, "request");
        res.writeHead(result.status, {
          "Content-Type": result.contentType,
          "Cache-Control": "no-cache, private",
        });
        res.end(result.body);
        return;
      }
      log.debug({ path: req.url }, "watch start");
      res.writeHead(200, {
        "Content-Type": result.contentType,
        "Cache-Control": "no-cache, private",
        "Transfer-Encoding": "chunked",
      });
      res.flushHeaders();
      let ended = false;
      // `end` may run inside start() (a 410 ends the stream at once), before start() returns.
      const stops_: { fn?: () => void } = {};
      // Events that arrive in the same turn of the event loop (a burst of
      // writes) go out in one write: one syscall per watcher per burst, not
      // per event, which is what bounds fan-out to many watchers.
      let pending = "";
      let pendingSeq = 0;
      let scheduled = false;
      let endAfterFlush = false;
      // An event goes out only once its change is on disk: a watcher must
      // never see a resourceVersion that a crash could take back.
      const flush = (): void => {
        if (persist !== undefined && !persist.isDurable(pendingSeq)) {
          persist.whenDurable(pendingSeq).then(flush, () => res.destroy());
          return;
        }
        scheduled = false;
        if (pending !== "" && !res.destroyed) res.write(pending);
        pending = "";
        if (endAfterFlush) res.end();
      };
      const stopFn = result.start({
        write: (chunk) => {
          if (ended) return 0;
          pending += chunk;
          if (persist !== undefined) pendingSeq = persist.seq;
          if (!scheduled) {
            scheduled = true;
            setImmediate(flush);
          }
          return res.writableLength + pending.length;
        },
        end: () => {
          if (ended) return;
          ended = true;
          if (stops_.fn !== undefined) stops.delete(stops_.fn);
          endAfterFlush = true;
          if (!scheduled) {
            scheduled = true;
            flush();
          }
        },
      });
      if (ended) return;
      stops_.fn = stopFn;
      stops.add(stopFn);
      res.on("close", () => stopFn());
    })().catch((e: unknown) => {
      log.error({ err: e }, "request failed");
      if (!res.headersSent) {
        res.writeHead(500, { "Content-Type": "application/json" });
        res.end(JSON.stringify(new ApiError(500, "InternalError", "internal error").toStatus()));
      } else res.destroy();
    });
  };

  const servers: Server[] = [];
  const mk = (): Server => {
    const s = createServer(handler);
    // Watches are long-lived: no request timeout (upstream ends them by timeoutSeconds).
    s.requestTimeout = 0;
    s.timeout = 0;
    s.keepAliveTimeout = 65_000;
    s.on("connection", (sock: Socket) => {
      sockets.add(sock);
      sock.on("close", () => sockets.delete(sock));
    });
    servers.push(s);
    return s;
  };

  const tcp = mk();
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    tcp.listen(opts.port ?? 0, address, () => {
      tcp.off("error", reject);
      resolve();
    });
  });
  const addr = tcp.address();
  const port = typeof addr === "object" && addr !== null ? addr.port : 0;
  if (opts.unixSocket !== undefined) {
    const sockPath = opts.unixSocket;
    await rm(sockPath, { force: true });
    const us = mk();
    await new Promise<void>((resolve, reject) => {
      us.once("error", reject);
      us.listen(sockPath, () => {
        us.off("error", reject);
        resolve();
      });
    });
  }
  const host = address.includes(":") ? `[${address}]` : address;
  const url = `http://${host}:${port}`;
  log.info(
    { url, unixSocket: opts.unixSocket, resourceVersion: api.store.currentRv() },
    "API server listening",
  );

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      for (const stop of [...stops]) stop();
      // close() waits for open connections (kept-alive clients, watches): cut them.
      const closing = servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
          }),
      );
      for (const s of servers) s.closeAllConnections();
      for (const sock of sockets) sock.destroy();
      await Promise.all(closing);
      if (opts.unixSocket !== undefined) await rm(opts.unixSocket, { force: true });
      if (persist !== undefined) {
        await persist.close();
        log.info({ stateDir: opts.stateDir, resourceVersion: api.store.currentRv() }, "saved state");
      }
    })();
    return closed;
  };
  return { url, port, close, ...(persist !== undefined ? { persistence: persist } : {}) };
}
