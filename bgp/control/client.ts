/**
 * The client side of the control protocol, for trellisctl and tests: one
 * request, one response, with a timeout. Errors carry a stable code.
 */
import { connect } from "node:net";
import type { ControlResponse, Method, PeerStatus, RouteStatus } from "./protocol.js";

export const DEFAULT_CONTROL_SOCKET = "/run/trellis/bgp.sock";

export class ControlClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ControlClientError";
  }
}

/**
 * The largest reply accepted: a full table of 1M routes is ~250 MB of JSON; past
 * this the peer on the socket is not a sane trellis-bgp and memory must stay bounded.
 */
export const MAX_REPLY_BYTES = 512 * 1024 * 1024;

export async function controlRequest(
  socketPath: string,
  method: Method,
  timeoutMs = 5000,
  maxReplyBytes = MAX_REPLY_BYTES,
): Promise<unknown> {
  return await new Promise<unknown>((resolve, reject) => {
    const sock = connect(socketPath);
    // Chunks kept as they come and joined once: looking for the newline only in
    // the newest chunk keeps a large routes reply linear.
    const chunks: string[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(
        new ControlClientError("TRELLIS_ECTL_TIMEOUT", `no answer from ${socketPath} within ${timeoutMs} ms`),
      );
    }, timeoutMs);
    const done = (f: () => void): void => {
      clearTimeout(timer);
      sock.destroy();
      f();
    };
    sock.setEncoding("utf8");
    sock.on("connect", () => sock.write(JSON.stringify({ id: 1, method }) + "\n"));
    sock.on("error", (e: NodeJS.ErrnoException) =>
      done(() =>
        reject(
          new ControlClientError(
            "TRELLIS_ECTL_UNREACHABLE",
            `cannot reach trellis-bgp at ${socketPath}: ${e.code ?? e.message}`,
          ),
        ),
      ),
    );
    sock.on("data", (chunk: string) => {
      chunks.push(chunk);
      size += chunk.length;
      const nl = chunk.indexOf("\n");
      if (nl < 0) {
        if (size > maxReplyBytes) {
          done(() =>
            reject(
              new ControlClientError(
                "TRELLIS_ECTL_TOOBIG",
                `the reply from ${socketPath} exceeds ${maxReplyBytes} bytes without ending`,
              ),
            ),
          );
        }
        return;
      }
      const line = chunks.join("").slice(0, size - chunk.length + nl);
      let resp: ControlResponse;
      try {
        resp = JSON.parse(line) as ControlResponse;
      } catch {
        done(() =>
          reject(new ControlClientError("TRELLIS_ECTL_JSON", "the daemon answered with invalid JSON")),
        );
        return;
      }
      done(() =>
        resp.ok ? resolve(resp.result) : reject(new ControlClientError(resp.error.code, resp.error.message)),
      );
    });
    sock.on("end", () =>
      done(() => reject(new ControlClientError("TRELLIS_ECTL_CLOSED", "the daemon closed the connection"))),
    );
  });
}

export async function fetchPeers(socketPath: string): Promise<PeerStatus[]> {
  return (await controlRequest(socketPath, "peers")) as PeerStatus[];
}

export async function fetchRoutes(socketPath: string): Promise<RouteStatus[]> {
  return (await controlRequest(socketPath, "routes")) as RouteStatus[];
}
