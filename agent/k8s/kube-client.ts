/**
 * The agent's Kubernetes client: Node's http/https with one keep-alive
 * agent, requests built and answers decoded by kube-request.ts (pure), the
 * credentials from kubeconfig.ts. It replaces @kubernetes/client-node in the
 * agent's process: loading client-node alone (its generated models, its
 * fetch) took a bare node from about 40 to 105 MiB RSS, more than the
 * agent's whole budget (issue 12: ≤ 100 MiB with 1,000 pods).
 *
 * MAX_SOCKETS: every informer's watch holds one socket for as long as it
 * runs (17 informers with BGP and policy on), and lists, IPAM writes and
 * status writes need sockets beside them. With 16, the 17th watch queued
 * behind the others and the relisting at start broke (seen in
 * test/lab/api-outage), so the bound leaves ample room.
 */
import { readFileSync } from "node:fs";
import {
  Agent as HttpAgent,
  type ClientRequest,
  type IncomingMessage,
  request as httpRequest,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { type ClusterAccess, inClusterAccess, parseKubeconfig } from "./kubeconfig.js";
import {
  type KubeRequest,
  type PatchType,
  PATCH_CONTENT_TYPE,
  type Query,
  type WatchEvent,
  WatchDecodeError,
  WatchDecoder,
  credentialHeaders,
  decodeResponse,
  encodeBody,
  pathWithQuery,
} from "./kube-request.js";

const MAX_SOCKETS = 64;
/** A request that is not a watch and sends nothing for this long is given up (the informers retry). */
const REQUEST_IDLE_TIMEOUT_MS = 60_000;
/** The largest answer read into memory (a LIST of every pod of a big cluster is tens of MiB). */
const MAX_BODY_BYTES = 512 * 1024 * 1024;
/** TCP keep-alive probes on watch sockets, so a vanished API server ends the watch (client-node did the same). */
const WATCH_KEEPALIVE_MS = 30_000;
/** client-go re-reads a token file about once a minute (transport/token_source.go). */
const TOKEN_REREAD_MS = 60_000;

/** An open watch: `abort()` ends it without calling its `done`. */
export interface WatchHandle {
  abort(): void;
}

export class KubeClient {
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly tls: boolean;
  private token: { value: string; readAt: number } | undefined;

  constructor(
    readonly access: ClusterAccess,
    private readonly now: () => number = Date.now,
  ) {
    const url = new URL(access.server);
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw new Error(`server ${access.server}: the scheme must be https or http`);
    this.tls = url.protocol === "https:";
    this.agent = this.tls
      ? new HttpsAgent({
          keepAlive: true,
          maxSockets: MAX_SOCKETS,
          ...(access.ca !== undefined ? { ca: access.ca } : {}),
          ...(access.cert !== undefined ? { cert: access.cert } : {}),
          ...(access.key !== undefined ? { key: access.key } : {}),
          rejectUnauthorized: !access.insecureSkipTlsVerify,
        })
      : new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  }

  /** From a kubeconfig file; errors name the file (KubeconfigError). */
  static fromFile(file: string): KubeClient {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message}`);
    }
    return new KubeClient(parseKubeconfig(text, file, (p) => readFileSync(p)));
  }

  /** In-cluster: the pod's ServiceAccount. */
  static inCluster(env: Record<string, string | undefined> = process.env): KubeClient {
    return new KubeClient(inClusterAccess(env, (p) => readFileSync(p)));
  }

  /** Sends one request; resolves with its JSON, rejects with a KubeApiError on a non-2xx answer. */
  async request<T>(req: KubeRequest): Promise<T> {
    const res = await this.send(req, REQUEST_IDLE_TIMEOUT_MS);
    const text = await readBody(res, req);
    return decodeResponse(req, res.statusCode ?? 0, text) as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>({ method: "GET", path, ...(query !== undefined ? { query } : {}) });
  }

  create<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>({ method: "POST", path, body });
  }

  /** PUT: a replace, a compare-and-swap when the body carries metadata.resourceVersion (409 on a lost race). */
  replace<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>({ method: "PUT", path, body });
  }

  patch<T>(path: string, type: PatchType, body: unknown): Promise<T> {
    return this.request<T>({ method: "PATCH", path, body, contentType: PATCH_CONTENT_TYPE[type] });
  }

  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>({ method: "DELETE", path, ...(body !== undefined ? { body } : {}) });
  }

  /**
   * A watch (`watch=true` is added): `onEvent` per line, then `done` once,
   * with null when the server ended the stream, else the error (a
   * KubeApiError carrying the Status when the server refused the watch).
   */
  watch(
    path: string,
    query: Query,
    onEvent: (ev: WatchEvent) => void,
    done: (err: unknown) => void,
  ): WatchHandle {
    let finished = false;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      done(err);
    };
    const req: KubeRequest = { method: "GET", path, query: { ...query, watch: true } };
    let cr: ClientRequest | undefined;
    const handle: WatchHandle = {
      abort: () => {
        finished = true;
        cr?.destroy();
      },
    };
    this.send(req, 0, (c) => {
      cr = c;
      c.on("socket", (s) => s.setKeepAlive(true, WATCH_KEEPALIVE_MS));
    }).then(
      (res) => {
        if (finished) {
          res.destroy();
          return;
        }
        if (res.statusCode !== 200) {
          readBody(res, req).then(
            (text) => {
              try {
                decodeResponse(req, res.statusCode ?? 0, text);
                finish(new Error(`${req.method} ${path}: watch answered HTTP ${res.statusCode}`));
              } catch (e) {
                finish(e);
              }
            },
            (e: unknown) => finish(e),
          );
          return;
        }
        const decoder = new WatchDecoder();
        res.setEncoding("utf8");
        const deliver = (evs: WatchEvent[]): void => {
          for (const ev of evs) {
            if (finished) return;
            onEvent(ev);
          }
        };
        // A line that is not an event ends the watch with an error, after
        // the events before it (WatchDecodeError): the informer relists.
        const fail = (e: unknown): void => {
          if (e instanceof WatchDecodeError) deliver(e.events);
          res.destroy();
          finish(e);
        };
        res.on("data", (chunk: string) => {
          try {
            deliver(decoder.push(chunk));
          } catch (e) {
            fail(e);
          }
        });
        res.on("end", () => {
          try {
            deliver(decoder.end());
          } catch (e) {
            fail(e);
            return;
          }
          finish(null);
        });
        res.on("error", (e) => finish(e));
        res.on("close", () => finish(res.complete ? null : new Error(`watch ${path}: connection closed`)));
      },
      (e: unknown) => finish(e),
    );
    return handle;
  }

  /** Frees the keep-alive sockets (agent stop). */
  close(): void {
    this.agent.destroy();
  }

  /** The tokenFile's last good value, else the fixed token (kubeconfig.ts says why in that order). */
  private bearer(): string | undefined {
    const file = this.access.tokenFile;
    if (file === undefined) return this.access.token;
    const t = this.now();
    if (this.token === undefined || t - this.token.readAt >= TOKEN_REREAD_MS) {
      try {
        this.token = { value: readFileSync(file, "utf8").trim(), readAt: t };
      } catch (e) {
        // Keep the last token while the kubelet swaps the file; without one, say which file.
        if (this.token === undefined && this.access.token === undefined)
          throw new Error(`token file ${file}: ${(e as Error).message}`);
        // The fixed token stands in until the next read is due: no read of a missing file per request.
        if (this.token === undefined) this.token = { value: this.access.token!, readAt: t };
        else this.token.readAt = t;
      }
    }
    return this.token?.value ?? this.access.token;
  }

  private send(
    req: KubeRequest,
    idleTimeoutMs: number,
    onRequest?: (c: ClientRequest) => void,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const { bytes, headers } = encodeBody(req);
      Object.assign(headers, credentialHeaders(this.access, this.bearer()));
      const url = new URL(this.access.server + pathWithQuery(req.path, req.query));
      const c = (this.tls ? httpsRequest : httpRequest)(url, {
        method: req.method,
        headers,
        agent: this.agent,
      });
      onRequest?.(c);
      if (idleTimeoutMs > 0)
        c.setTimeout(idleTimeoutMs, () =>
          c.destroy(new Error(`${req.method} ${req.path}: no answer within ${idleTimeoutMs / 1000} s`)),
        );
      c.on("response", resolve);
      c.on("error", reject);
      c.end(bytes);
    });
  }
}

/** The answer's text, at most MAX_BODY_BYTES; a connection that ends before the answer does is an error. */
async function readBody(res: IncomingMessage, req: KubeRequest): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Leaving the loop (the size check's throw) destroys the stream.
    for await (const b of res as AsyncIterable<Buffer>) {
      size += b.length;
      if (size > MAX_BODY_BYTES)
        throw new Error(`${req.method} ${req.path}: answer larger than ${MAX_BODY_BYTES} bytes`);
      chunks.push(b);
    }
  } catch (e) {
    if (size > MAX_BODY_BYTES || res.complete) throw e;
    throw new Error(`${req.method} ${req.path}: connection closed mid-answer`, { cause: e });
  }
  return Buffer.concat(chunks).toString("utf8");
}
