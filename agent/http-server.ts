/**
 * /healthz (the process answers), /readyz (first full sync done and the CNI
 * server listening; 503 with the reason otherwise) and /metrics (Prometheus).
 */
import { type Server, createServer } from "node:http";

export interface HealthSource {
  ready(): boolean;
  notReadyReason(): string;
  metrics(): string;
}

export async function startHealthServer(
  address: string,
  src: HealthSource,
): Promise<{ server: Server; port: number }> {
  const i = address.lastIndexOf(":");
  const host = address.slice(0, i).replace(/^\[|\]$/g, "") || "0.0.0.0";
  const port = Number(address.slice(i + 1));
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    if (path === "/healthz" || path === "/livez") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      if (src.ready()) res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      else res.writeHead(503, { "content-type": "text/plain" }).end(`not ready: ${src.notReadyReason()}\n`);
    } else if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(src.metrics());
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address();
  return { server, port: typeof a === "object" && a !== null ? a.port : port };
}
